// The GEMM-based convolution micro-kernels instantiated for sse2; the only file built with
// this ISA's flags for them (see runtime/CMakeLists.txt). The tile size (6 pixels x up to 2
// vectors) keeps every accumulator, the weight vectors and a broadcast in the register file.
#include "conv_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const ConvGemmKernels& conv_gemm_kernels_sse2() noexcept {
  static constexpr ConvGemmKernels kTable = make_gemm_kernels<SimdOps<xsimd::sse2>, 6, 2>();
  return kTable;
}

}  // namespace bnrt::kernels
