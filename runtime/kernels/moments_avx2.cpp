// The moments kernels instantiated for avx2; built with this ISA's flags only.
#include "moments_table_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const MomentsKernelTable& moments_kernels_avx2() noexcept {
  static constexpr MomentsKernelTable kTable =
      make_moments_table<SimdOps<xsimd::fma3<xsimd::avx2>>>();
  return kTable;
}

}  // namespace bnrt::kernels
