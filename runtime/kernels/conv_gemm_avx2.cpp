// The GEMM-based convolution micro-kernels instantiated for avx2; the only file built with
// this ISA's flags for them (see runtime/CMakeLists.txt). The tile size (6 pixels x up to 2
// vectors) keeps every accumulator, the weight vectors and a broadcast in the register file.
#include "conv_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const ConvGemmKernels& conv_gemm_kernels_avx2() noexcept {
  static constexpr ConvGemmKernels kTable =
      make_gemm_kernels<SimdOps<xsimd::fma3<xsimd::avx2>>, 6, 2>();
  return kTable;
}

}  // namespace bnrt::kernels
