// The moments kernels as plain scalar code: the portable fallback (BNRT_ISA=scalar).
#include "moments_table_impl.hpp"
#include "scalar_ops.hpp"

namespace bnrt::kernels {

const MomentsKernelTable& moments_kernels_scalar() noexcept {
  static constexpr MomentsKernelTable kTable = make_moments_table<ScalarOps>();
  return kTable;
}

}  // namespace bnrt::kernels
