// Maps an ISA to its kernel tables. Baseline code: it only takes addresses of functions that
// live in the per-ISA units, and callers only pass an ISA the CPU supports.
#include "affine_kernels.hpp"
#include "fold_row_kernels.hpp"
#include "moments_kernels.hpp"

namespace bnrt::kernels {

const AffineKernelTable& affine_kernels(Isa isa) noexcept {
  switch (isa) {
    case Isa::avx512:
      return affine_kernels_avx512();
    case Isa::avx2:
      return affine_kernels_avx2();
    case Isa::sse2:
      return affine_kernels_sse2();
    case Isa::scalar:
      break;
  }
  return affine_kernels_scalar();
}

const MomentsKernelTable& moments_kernels(Isa isa) noexcept {
  switch (isa) {
    case Isa::avx512:
      return moments_kernels_avx512();
    case Isa::avx2:
      return moments_kernels_avx2();
    case Isa::sse2:
      return moments_kernels_sse2();
    case Isa::scalar:
      break;
  }
  return moments_kernels_scalar();
}

const FoldRowKernels& fold_row_kernels(Isa isa) noexcept {
  switch (isa) {
    case Isa::avx512:
      return fold_row_kernels_avx512();
    case Isa::avx2:
      return fold_row_kernels_avx2();
    case Isa::sse2:
      return fold_row_kernels_sse2();
    case Isa::scalar:
      break;
  }
  return fold_row_kernels_scalar();
}

}  // namespace bnrt::kernels
