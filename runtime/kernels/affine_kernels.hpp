// The per-channel affine kernels y = clamp(x * scale[c] + shift[c] (+ r), lo, hi), as tables of
// plain function pointers, one table per ISA. Baseline header: no xsimd or -m flags here, so
// the dispatch code that includes it can never pick up AVX code by accident.
#pragma once

#include <cstddef>

#include "bnrt/isa.hpp"

namespace bnrt::kernels {

/// Widest vector any kernel uses, in floats (AVX-512). Per-channel tables are padded by this
/// much so a vector load starting at any valid position stays inside the table.
inline constexpr std::size_t kMaxLanes = 16;

/// Which activation bounds a kernel applies: none (identity), lo only (ReLU), or both.
enum class ClampKind { none = 0, lower = 1, both = 2 };
inline constexpr int kClampKinds = 3;

/// Everything a kernel needs; built once per run() call. Indices in [begin, end) passed to a
/// kernel are element offsets into src / residual / dst.
struct AffineArgs {
  const float* src = nullptr;
  const float* residual = nullptr;  ///< read only by the residual variants
  float* dst = nullptr;
  /// Per-channel tables. Channels-first kernels read entries [0, channels), and with planes
  /// narrower than a vector also `lanes` entries from the channel of a vector's width of
  /// planes on: past `channels` those must repeat entries [0, kMaxLanes - 1) as below (or
  /// the planes are all of one sample, so the entries read are the planes' own). Channels-last
  /// kernels treat them as a pattern repeating every `period` elements (period is a multiple
  /// of channels) and may read up to kMaxLanes - 1 entries past it, which must repeat entries
  /// [0, kMaxLanes - 1).
  const float* scale = nullptr;
  const float* shift = nullptr;
  std::size_t channels = 1;  ///< channels-first: number of channels
  std::size_t inner = 1;     ///< channels-first: elements per (n, c) plane, >= 2
  std::size_t period = 1;    ///< channels-last: length of the repeating scale/shift pattern
  /// Channels-last: patterns at least this long are walked in column tiles over short ranges
  /// of rows (see walks_column_tiles); the run sets it from the L1 size.
  std::size_t tiled_period_min = 2048;
  float lo = 0.0f;  ///< clamp bounds, used per ClampKind
  float hi = 0.0f;
  /// Use non-temporal stores for whole aligned vectors (large out-of-place runs whose output
  /// would only evict useful cache lines). Ignored when dst is not float-aligned.
  bool stream = false;
};

/// Processes elements [begin, end). Never reads or writes outside that range of src /
/// residual / dst (tails are masked or staged through a stack buffer).
using AffineRangeFn = void (*)(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept;

/// All variants for one ISA: [has residual][ClampKind].
struct AffineKernelTable {
  AffineRangeFn channels_first[2][kClampKinds];
  AffineRangeFn channels_last[2][kClampKinds];
  std::size_t lanes;  ///< floats per vector
};

/// The table for `isa`; the caller guarantees the CPU supports it (see isa_supported).
const AffineKernelTable& affine_kernels(Isa isa) noexcept;

// One per ISA, each defined in its own translation unit built with that ISA's flags.
const AffineKernelTable& affine_kernels_scalar() noexcept;
const AffineKernelTable& affine_kernels_sse2() noexcept;
const AffineKernelTable& affine_kernels_avx2() noexcept;
const AffineKernelTable& affine_kernels_avx512() noexcept;

}  // namespace bnrt::kernels
