// The GEMM-based convolution micro-kernels instantiated for scalar; the only file built with
// this ISA's flags for them (see runtime/CMakeLists.txt). The tile size (4 pixels x up to 4
// vectors) keeps every accumulator, the weight vectors and a broadcast in the register file.
#include "conv_impl.hpp"
#include "scalar_ops.hpp"

namespace bnrt::kernels {

const ConvGemmKernels& conv_gemm_kernels_scalar() noexcept {
  static constexpr ConvGemmKernels kTable = make_gemm_kernels<ScalarOps, 4, 4>();
  return kTable;
}

}  // namespace bnrt::kernels
