// The inner loops of folding batch norm into weights (fold_layers.cpp), over one row of a
// weight at a time, as tables of plain function pointers, one per ISA. A row is `runs` runs
// of `run` contiguous fp32 values; each run belongs to one (output, input) channel pair.
// Every entry gives bitwise the same result on every ISA (fixed lane structure, no
// reassociation the compiler chose), so the ISA only changes speed.
#pragma once

#include <cstddef>

#include "bnrt/fold.hpp"
#include "bnrt/isa.hpp"

namespace bnrt::kernels {

/// Largest and smallest non-zero magnitude over a row (smallest is +inf when all are zero),
/// and whether every input element is finite.
struct RowExtremes {
  double max_abs = 0;
  double min_nonzero_abs = 0;
  bool finite = true;
};

struct FoldRowKernels {
  /// Extremes of |w[i]|, i < count.
  RowExtremes (*extremes)(const float* w, std::size_t count) noexcept;
  /// Extremes of |w[r * run + t] * scale[r]|, computed in double.
  RowExtremes (*scaled_extremes)(const float* w, std::size_t runs, std::size_t run,
                                 const double* scale) noexcept;
  /// sum of w[r * run + t] * shift[r], in double.
  double (*shifted_sum)(const float* w, std::size_t runs, std::size_t run,
                        const double* shift) noexcept;
  /// out[i] = w[i] * scale computed in double and rounded once to the table index's
  /// WeightType (f32, f16, bf16 raw bits); `out` points at element 0 of the row.
  void (*write_scaled[3])(const float* w, std::size_t count, double scale, void* out) noexcept;
  /// out[r * run + t] = w[r * run + t] * scale[r], rounded once likewise.
  void (*write_scaled_runs[3])(const float* w, std::size_t runs, std::size_t run,
                               const double* scale, void* out) noexcept;
};

/// The table for `isa`; the caller guarantees the CPU supports it (see isa_supported).
const FoldRowKernels& fold_row_kernels(Isa isa) noexcept;

// One per ISA, each defined in its own translation unit built with that ISA's flags.
const FoldRowKernels& fold_row_kernels_scalar() noexcept;
const FoldRowKernels& fold_row_kernels_sse2() noexcept;
const FoldRowKernels& fold_row_kernels_avx2() noexcept;
const FoldRowKernels& fold_row_kernels_avx512() noexcept;

}  // namespace bnrt::kernels
