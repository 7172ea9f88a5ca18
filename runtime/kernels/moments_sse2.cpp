// The moments kernels instantiated for sse2; built with this ISA's flags only.
#include "moments_table_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const MomentsKernelTable& moments_kernels_sse2() noexcept {
  static constexpr MomentsKernelTable kTable = make_moments_table<SimdOps<xsimd::sse2>>();
  return kTable;
}

}  // namespace bnrt::kernels
