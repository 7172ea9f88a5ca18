// The affine kernels instantiated as plain scalar code: the portable fallback, and the
// reference path BNRT_ISA=scalar selects.
#include "affine_table_impl.hpp"
#include "scalar_ops.hpp"

namespace bnrt::kernels {

const AffineKernelTable& affine_kernels_scalar() noexcept {
  static constexpr AffineKernelTable kTable = make_affine_table<ScalarOps>();
  return kTable;
}

}  // namespace bnrt::kernels
