// The affine kernels instantiated for avx2; the only file built with this ISA's flags
// for this op (see runtime/CMakeLists.txt).
#include "affine_table_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const AffineKernelTable& affine_kernels_avx2() noexcept {
  static constexpr AffineKernelTable kTable =
      make_affine_table<SimdOps<xsimd::fma3<xsimd::avx2>>>();
  return kTable;
}

}  // namespace bnrt::kernels
