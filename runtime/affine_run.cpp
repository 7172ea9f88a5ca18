// The shared run path for affine-kernel ops (see affine_run.hpp).
#include "affine_run.hpp"

#include <cmath>
#include <cstdint>
#include <tuple>

#include "cache_info.hpp"
#include "errors.hpp"
#include "parallel.hpp"

namespace bnrt::detail {
namespace {

/// Outputs at least this large are written with non-temporal stores (StorePolicy::automatic,
/// not in place): they skip the read-for-ownership of each destination line, cutting DRAM
/// traffic from 3 to 2 bytes per byte written, but leave the output out of the cache. Worth it
/// once input and output no longer stay in the shared last-level cache: on one thread from a
/// quarter of it, on two or more from half, as several cores pull from L3 faster than DRAM
/// absorbs streamed writes. Measured on the dev machine (32 MiB L3), % of memcpy, cached vs
/// streamed: 12.8 MB NCHW 1 thread 104 vs 141, 2 threads 105 vs 79; 6.4 MB 2 threads 99 vs 33;
/// 19-26 MB 2 threads 96-114 vs 112-126.
std::size_t streaming_min_bytes(std::size_t threads) {
  constexpr std::size_t kFloor = std::size_t{4} << 20;
  const std::size_t share = last_level_cache_bytes() / (threads > 1 ? 2 : 4);
  return share > kFloor ? share : kFloor;
}

bool use_streaming_stores(const AffineRunConfig& config, const ConstTensor& src,
                          const ConstTensor* residual, const MutableTensor& dst, std::size_t bytes,
                          std::size_t threads) {
  switch (config.store_policy) {
    case StorePolicy::cached:
      return false;
    case StorePolicy::streaming:
      return true;
    case StorePolicy::automatic:
      break;
  }
  const bool in_place = dst.data == src.data || (residual != nullptr && dst.data == residual->data);
  return !in_place && bytes >= streaming_min_bytes(threads);
}

/// Channels-last patterns from this length on are walked in column tiles (AffineArgs): those
/// whose row of x and of y and two tables (4 floats per channel) fill L1. 2048 channels on a
/// 32 KiB L1 (Zen 4), 3072 on a 48 KiB one (Zen 5). On the Zen 5 dev VM, NHWC 1x7x7x2048, one
/// thread, in a harness of plain loops (medians of 15 samples interleaved with memcpy, two
/// runs, % of memcpy): rows with their tables 62-64, tiles of 512 channels x 16 rows 51-52.
std::size_t column_tiles_period_min() {
  constexpr std::size_t kFloatsPerChannelAndRow = 4;  // x, y, scale, shift
  return l1_data_cache_bytes() / (kFloatsPerChannelAndRow * sizeof(float));
}

/// Chunk boundaries fall on destination cache lines so two threads never share one.
constexpr std::size_t kFloatsPerCacheLine = kCacheLineBytes / sizeof(float);

kernels::ClampKind clamp_kind(const Activation& activation) {
  if (activation.is_identity()) return kernels::ClampKind::none;
  if (activation.hi == std::numeric_limits<float>::infinity()) return kernels::ClampKind::lower;
  return kernels::ClampKind::both;
}

}  // namespace

AffineRunConfig make_affine_run_config(std::string_view op, const Activation& activation,
                                       int max_threads, StorePolicy store_policy) {
  if (std::isnan(activation.lo) || std::isnan(activation.hi)) {
    fail(ErrorCode::invalid_argument, op,
         "activation bounds [" + format_value(activation.lo) + ", " + format_value(activation.hi) +
             "] contain NaN");
  }
  if (activation.lo > activation.hi) {
    fail(ErrorCode::invalid_argument, op,
         "activation lo = " + format_value(activation.lo) +
             " is above hi = " + format_value(activation.hi));
  }
  if (max_threads < 0) {
    fail(ErrorCode::invalid_argument, op,
         "max_threads = " + std::to_string(max_threads) + " is negative (0 means no cap)");
  }
  AffineRunConfig config;
  config.kernels = &kernels::affine_kernels(active_isa());
  config.activation = activation;
  config.clamp = clamp_kind(activation);
  config.max_threads = max_threads;
  config.store_policy = store_policy;
  return config;
}

TensorGeometry check_run_tensors(std::string_view op, std::size_t channels, const ConstTensor& src,
                                 const ConstTensor* residual, const MutableTensor& dst) {
  const TensorGeometry geometry = check_tensor(op, "src", src, channels);
  // The same shape as src, which passed every shape check: only their data is left to check.
  check_same_shape(op, "src", src, "dst", dst);
  check_data(op, "dst", dst, geometry.elements);
  if (residual != nullptr) {
    check_same_shape(op, "src", src, "residual", *residual);
    check_data(op, "residual", *residual, geometry.elements);
  }
  const std::size_t bytes = geometry.elements * sizeof(float);
  check_no_partial_overlap(op, "src", src.data, "dst", dst.data, bytes);
  if (residual != nullptr) {
    check_no_partial_overlap(op, "residual", residual->data, "dst", dst.data, bytes);
  }
  return geometry;
}

void run_affine(const AffineRunConfig& config, const ChannelTables& tables,
                const TensorGeometry& geometry, const ConstTensor& src, const ConstTensor* residual,
                const MutableTensor& dst, std::size_t tasks) {
  if (geometry.elements == 0) return;
  const AffinePass pass = prepare_affine(config, tables, geometry, src, residual, dst, tasks);
  parallel_ranges(pass.elements, pass.chunks, kFloatsPerCacheLine, pass.phase,
                  [&](std::size_t begin, std::size_t end) { pass.kernel(pass.args, begin, end); });
}

AffinePass prepare_affine(const AffineRunConfig& config, const ChannelTables& tables,
                          const TensorGeometry& geometry, const ConstTensor& src,
                          const ConstTensor* residual, const MutableTensor& dst,
                          std::size_t tasks) {
  AffinePass pass;
  kernels::AffineArgs& args = pass.args;
  args.src = src.data;
  args.residual = residual != nullptr ? residual->data : nullptr;
  args.dst = dst.data;
  std::tie(args.scale, args.shift) = tables.for_destination(dst.data);
  args.channels = tables.channels();
  args.period = tables.period();
  args.tiled_period_min = column_tiles_period_min();
  args.lo = config.activation.lo;
  args.hi = config.activation.hi;
  // Channels-first with one spatial position is the (N, C) row layout; with one channel it is
  // a single plane. Both run better as the other shape.
  const bool rows = geometry.channels_last || geometry.inner == 1;
  args.inner = tables.channels() == 1 ? geometry.elements : geometry.inner;
  const int has_residual = residual != nullptr ? 1 : 0;
  const int clamp = static_cast<int>(config.clamp);
  pass.kernel = rows ? config.kernels->channels_last[has_residual][clamp]
                     : config.kernels->channels_first[has_residual][clamp];

  const std::size_t bytes = geometry.elements * sizeof(float);
  pass.elements = geometry.elements;
  pass.chunks = tasks != 0
                    ? tasks
                    : tasks_for_bytes(bytes * (residual != nullptr ? 3 : 2), config.max_threads);
  args.stream = use_streaming_stores(config, src, residual, dst, bytes, pass.chunks);
  pass.phase = (reinterpret_cast<std::uintptr_t>(dst.data) / sizeof(float)) % kFloatsPerCacheLine;
  return pass;
}

void AffinePass::run_chunk(std::size_t k) const {
  const std::size_t begin = chunk_boundary(elements, chunks, k, kFloatsPerCacheLine, phase);
  const std::size_t end = chunk_boundary(elements, chunks, k + 1, kFloatsPerCacheLine, phase);
  if (begin < end) kernel(args, begin, end);
}

PlaneAffine plane_affine(const AffineRunConfig& config, const TensorGeometry& geometry,
                         const ConstTensor& src, const ConstTensor* residual,
                         const MutableTensor& dst, const float* scale, const float* shift,
                         std::size_t threads) {
  PlaneAffine plane;
  kernels::AffineArgs& args = plane.args;
  args.src = src.data;
  args.residual = residual != nullptr ? residual->data : nullptr;
  args.dst = dst.data;
  args.scale = scale;
  args.shift = shift;
  args.channels = geometry.channels;
  args.period = geometry.channels;  // unused by the channels-first kernel
  args.lo = config.activation.lo;
  args.hi = config.activation.hi;
  args.inner = geometry.channels == 1 ? geometry.elements : geometry.inner;  // as run_affine
  args.stream =
      use_streaming_stores(config, src, residual, dst, geometry.elements * sizeof(float), threads);
  plane.kernel =
      config.kernels->channels_first[residual != nullptr ? 1 : 0][static_cast<int>(config.clamp)];
  return plane;
}

std::vector<float> to_floats(std::string_view op, std::string_view name,
                             std::span<const double> values) {
  std::vector<float> rounded(values.size());
  for (std::size_t c = 0; c < values.size(); ++c) {
    rounded[c] = static_cast<float>(values[c]);
    if (!std::isfinite(rounded[c])) {
      fail(ErrorCode::overflow, op,
           indexed(name, c) + " = " + format_value(values[c]) +
               " does not fit in float (check for a tiny var + eps with a large gamma)");
    }
  }
  return rounded;
}

}  // namespace bnrt::detail
