// Per-channel bookkeeping after the moments, in double: the fold of batch statistics into the
// scale / shift tables the affine kernels read, PyTorch's running-statistics update, and the
// merge of one block's results into the running totals (Chan's update).
#pragma once

#include <cstddef>

#include "moments_kernels.hpp"

namespace bnrt::kernels {

/// 1 / sqrt(v) in double. With an estimate instruction (AVX-512's 14-bit rsqrt14), two Newton
/// steps y *= 1.5 - 0.5 * v * y^2 reach double precision (14 -> 28 -> 56 bits, less a few
/// rounding ulps) in eight multiplies and multiply-adds instead of a square root and a
/// division (the fold's share of a 1x7x7x2048 training step went from 2.0 to 1.6 us in a
/// profile). v = 0 and v = inf keep the exact answers (inf, 0), which a Newton step would
/// turn into NaN: one fixup instruction sets them (fold kernel 0.60 -> 0.57 ns per channel
/// against two compares and a blend).
template <class Ops>
inline typename Ops::vecd inverse_sqrt_d(const typename Ops::vecd& v) noexcept {
  using vecd = typename Ops::vecd;
  if constexpr (Ops::has_rsqrt_estimate_d) {
    const vecd minus_half = Ops::broadcast_d(-0.5);
    const vecd three_halves = Ops::broadcast_d(1.5);
    vecd y = Ops::rsqrt_estimate_d(v);
    for (int step = 0; step < 2; ++step) {
      const vecd vyy = (v * y) * y;  // in this order: v * y * y stays finite for tiny v
      y = y * Ops::fma_d(minus_half, vyy, three_halves);
    }
    return Ops::with_inverse_sqrt_limits_d(y, v);
  } else {
    return Ops::broadcast_d(1.0) / Ops::sqrt_d(v);
  }
}

template <class Ops>
void fold_moments(const FoldArgs& args) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  const vecd inverse_count = Ops::broadcast_d(args.inverse_count);
  const vecd eps = Ops::broadcast_d(args.eps);
  auto fold = [&](const vecd& mean, const vecd& m2, const vecd& gamma, const vecd& beta,
                  vecd& scale, vecd& shift) {
    // The shift from the scale as the float table will hold it (see detail::ShiftFrom).
    scale = Ops::round_to_float_d(gamma * inverse_sqrt_d<Ops>(Ops::fma_d(m2, inverse_count, eps)));
    shift = beta - mean * scale;
  };
  // Locals: stores through float pointers may alias the args struct, which would otherwise be
  // reloaded after each of them.
  const double* const mean = args.mean;
  const double* const m2 = args.m2;
  const float* const gamma = args.gamma;
  const float* const beta = args.beta;
  float* const scale = args.scale;
  float* const shift = args.shift;
  const std::size_t channels = args.channels;
  std::size_t c = 0;
  for (; c + kLanes <= channels; c += kLanes) {
    const vecd g = gamma != nullptr ? Ops::load_widened(gamma + c) : Ops::broadcast_d(1.0);
    const vecd b = beta != nullptr ? Ops::load_widened(beta + c) : Ops::broadcast_d(0.0);
    vecd folded_scale, folded_shift;
    fold(Ops::load_d(mean + c), Ops::load_d(m2 + c), g, b, folded_scale, folded_shift);
    Ops::store_narrowed(scale + c, folded_scale);
    Ops::store_narrowed(shift + c, folded_shift);
  }
  if (c < args.channels) {
    // The last few channels through a small staging buffer (no reads past the arrays).
    const std::size_t n = args.channels - c;
    alignas(64) double lanes[4][kLanes] = {};
    for (std::size_t lane = 0; lane < kLanes; ++lane) {
      const bool used = lane < n;
      lanes[0][lane] = used ? args.mean[c + lane] : 0.0;
      lanes[1][lane] = used ? args.m2[c + lane] : 0.0;
      lanes[2][lane] = used && args.gamma != nullptr ? args.gamma[c + lane] : 1.0;
      lanes[3][lane] = used && args.beta != nullptr ? args.beta[c + lane] : 0.0;
    }
    vecd scale, shift;
    fold(Ops::load_d(lanes[0]), Ops::load_d(lanes[1]), Ops::load_d(lanes[2]), Ops::load_d(lanes[3]),
         scale, shift);
    alignas(64) float narrowed[2][kLanes] = {};
    Ops::store_narrowed(narrowed[0], scale);
    Ops::store_narrowed(narrowed[1], shift);
    for (std::size_t lane = 0; lane < n; ++lane) {
      args.scale[c + lane] = narrowed[0][lane];
      args.shift[c + lane] = narrowed[1][lane];
    }
  }
}

template <class Ops>
void update_running(const RunningUpdateArgs& args) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  const double keep_value = 1.0 - args.batch_weight;
  const vecd w = Ops::broadcast_d(args.batch_weight);
  const vecd keep = Ops::broadcast_d(keep_value);
  const vecd inverse_bessel = Ops::broadcast_d(args.inverse_bessel);
  const double* const batch_mean = args.batch_mean;  // locals: see fold_moments
  const double* const batch_m2 = args.batch_m2;
  float* const running_mean = args.mean;
  float* const running_var = args.var;
  std::size_t c = 0;
  for (; c + kLanes <= args.channels; c += kLanes) {
    const vecd mean = w * Ops::load_d(batch_mean + c) + keep * Ops::load_widened(running_mean + c);
    const vecd var = w * (Ops::load_d(batch_m2 + c) * inverse_bessel) +
                     keep * Ops::load_widened(running_var + c);
    Ops::store_narrowed(running_mean + c, mean);
    Ops::store_narrowed(running_var + c, var);
  }
  for (; c < args.channels; ++c) {
    args.mean[c] = static_cast<float>(args.batch_weight * args.batch_mean[c] +
                                      keep_value * static_cast<double>(args.mean[c]));
    args.var[c] = static_cast<float>(args.batch_weight * (args.batch_m2[c] * args.inverse_bessel) +
                                     keep_value * static_cast<double>(args.var[c]));
  }
}

template <class Ops>
void merge_block(const MergeArgs& args) noexcept {
  using vecd = typename Ops::vecd;
  constexpr std::size_t kLanes = Ops::dlanes;
  double* const mean = args.mean;  // locals: see fold_moments
  double* const m2 = args.m2;
  const double* const block_mean = args.block_mean;
  const double* const block_m2 = args.block_m2;
  const vecd weight_mean = Ops::broadcast_d(args.weight_mean);
  const vecd weight_m2 = Ops::broadcast_d(args.weight_m2);
  std::size_t c = 0;
  for (; c + kLanes <= args.channels; c += kLanes) {
    const vecd a = Ops::load_d(mean + c);
    const vecd delta = Ops::load_d(block_mean + c) - a;
    Ops::store_d(mean + c, a + delta * weight_mean);
    Ops::store_d(m2 + c,
                 Ops::load_d(m2 + c) + (Ops::load_d(block_m2 + c) + delta * delta * weight_m2));
  }
  for (; c < args.channels; ++c) {
    const double delta = block_mean[c] - mean[c];
    mean[c] += delta * args.weight_mean;
    m2[c] += block_m2[c] + delta * delta * args.weight_m2;
  }
}

}  // namespace bnrt::kernels
