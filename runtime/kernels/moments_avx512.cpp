// The moments kernels instantiated for avx512; built with this ISA's flags only.
#include "moments_table_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const MomentsKernelTable& moments_kernels_avx512() noexcept {
  static constexpr MomentsKernelTable kTable = make_moments_table<SimdOps<xsimd::avx512f>>();
  return kTable;
}

}  // namespace bnrt::kernels
