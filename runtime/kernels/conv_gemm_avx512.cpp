// The GEMM-based convolution micro-kernels instantiated for avx512; the only file built with
// this ISA's flags for them (see runtime/CMakeLists.txt). The tile size (6 pixels x up to 4
// vectors) keeps every accumulator, the weight vectors and a broadcast in the register file.
#include "conv_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const ConvGemmKernels& conv_gemm_kernels_avx512() noexcept {
  static constexpr ConvGemmKernels kTable = make_gemm_kernels<SimdOps<xsimd::avx512f>, 6, 4>();
  return kTable;
}

}  // namespace bnrt::kernels
