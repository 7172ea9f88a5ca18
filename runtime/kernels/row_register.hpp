// A code-generation aid for unrolled micro-kernels that load from a few runtime-strided rows.
#pragma once

namespace bnrt::kernels {

/// Returns `row` through an empty asm statement, so the optimizer cannot see how it was
/// computed: the pointer then lives in one register and every load from it is that register
/// plus a constant. Without this GCC precomputes a separate address for every (row, tap,
/// vector) load of an unrolled tile, runs out of registers and spills them to vector registers
/// and the stack; that cost the channels-first 3x3 depthwise kernel about 10% (AVX-512 and
/// AVX2). A template on Ops so each ISA's unit keeps its own copy (see copy_strided).
template <class Ops>
inline const float* row_register(const float* row) noexcept {
  asm("" : "+r"(row));
  return row;
}

}  // namespace bnrt::kernels
