// The affine kernels instantiated for avx512; the only file built with this ISA's flags
// for this op (see runtime/CMakeLists.txt).
#include "affine_table_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const AffineKernelTable& affine_kernels_avx512() noexcept {
  static constexpr AffineKernelTable kTable = make_affine_table<SimdOps<xsimd::avx512f>>();
  return kTable;
}

}  // namespace bnrt::kernels
