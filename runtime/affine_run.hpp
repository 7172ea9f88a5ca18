// The shared run path of every op that ends in the per-channel affine kernel (eval-mode
// BatchNorm, training-mode BatchNorm): validate the tensors, pick the layout's kernel, decide
// how to split and how to store, and run. Also the validations those ops share at create.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "bnrt/activation.hpp"
#include "bnrt/batch_norm.hpp"
#include "channel_tables.hpp"
#include "kernels/affine_kernels.hpp"
#include "tensor_checks.hpp"

namespace bnrt::detail {

/// Everything fixed at create time that a run needs.
struct AffineRunConfig {
  const kernels::AffineKernelTable* kernels = nullptr;
  Activation activation;
  kernels::ClampKind clamp = kernels::ClampKind::none;
  int max_threads = 0;
  StorePolicy store_policy = StorePolicy::automatic;
};

/// Validates the activation and max_threads and fills a config for the active ISA.
AffineRunConfig make_affine_run_config(std::string_view op, const Activation& activation,
                                       int max_threads, StorePolicy store_policy);

/// Checks src, dst and the optional residual: valid views, same layout and dims, `channels`
/// channels, no partial overlap. Returns src's geometry.
TensorGeometry check_run_tensors(std::string_view op, std::size_t channels, const ConstTensor& src,
                                 const ConstTensor* residual, const MutableTensor& dst);

/// dst = act(src * scale + shift [+ residual]) with the tables' values; the tensors must have
/// passed check_run_tensors (geometry is its result). Split into `tasks` tasks, or when 0 as
/// many as the run's own traffic is worth (tasks_for_bytes).
void run_affine(const AffineRunConfig& config, const ChannelTables& tables,
                const TensorGeometry& geometry, const ConstTensor& src, const ConstTensor* residual,
                const MutableTensor& dst, std::size_t tasks = 0);

/// run_affine in parts, for a caller that runs the chunks itself: prepare_affine decides
/// everything run_affine does (the tables' values may still be written before the chunks
/// run), and run_chunk(k) does chunk k of `chunks`, each exactly once, from any threads.
struct AffinePass {
  kernels::AffineArgs args;
  kernels::AffineRangeFn kernel = nullptr;
  std::size_t elements = 0;
  std::size_t chunks = 1;
  std::size_t phase = 0;  ///< dst's offset from a cache line, in floats
  void run_chunk(std::size_t k) const;
};
AffinePass prepare_affine(const AffineRunConfig& config, const ChannelTables& tables,
                          const TensorGeometry& geometry, const ConstTensor& src,
                          const ConstTensor* residual, const MutableTensor& dst,
                          std::size_t tasks = 0);

/// The channels-first kernel and its arguments, for callers that split a run by channel
/// themselves (the training forward, which folds each slice of channels as its statistics
/// come in). `scale` / `shift` are plain arrays of the channel count; the kernel reads only
/// the entries of the planes in the range it is given. `threads` is how many will share the
/// run (it decides streamed stores as run_affine does).
struct PlaneAffine {
  kernels::AffineArgs args;
  kernels::AffineRangeFn kernel = nullptr;
  /// Elements [begin, end) of the flat tensor: whole planes when the caller splits by channel.
  void run(std::size_t begin, std::size_t end) const { kernel(args, begin, end); }
};
PlaneAffine plane_affine(const AffineRunConfig& config, const TensorGeometry& geometry,
                         const ConstTensor& src, const ConstTensor* residual,
                         const MutableTensor& dst, const float* scale, const float* shift,
                         std::size_t threads);

/// Rounds each folded value to float once, rejecting any that float cannot hold (named
/// `name`[c] in the message, e.g. "scale[3]").
std::vector<float> to_floats(std::string_view op, std::string_view name,
                             std::span<const double> values);

}  // namespace bnrt::detail
