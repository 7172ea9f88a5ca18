// The depthwise convolution micro-kernels instantiated for scalar; the only file built with
// this ISA's flags for them (see runtime/CMakeLists.txt).
#include "conv_impl.hpp"
#include "scalar_ops.hpp"

namespace bnrt::kernels {

const ConvDepthwiseKernels& conv_depthwise_kernels_scalar() noexcept {
  static constexpr ConvDepthwiseKernels kTable = make_depthwise_kernels<ScalarOps, 4, 2, 2>();
  return kTable;
}

}  // namespace bnrt::kernels
