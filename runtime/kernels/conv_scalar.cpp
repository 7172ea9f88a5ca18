// The convolution micro-kernels instantiated for scalar; the only file built with this ISA's
// flags for them (see runtime/CMakeLists.txt). Tile sizes (pixels x vectors) keep every
// accumulator, the weight vectors and a broadcast in the register file.
#include "conv_impl.hpp"
#include "scalar_ops.hpp"

namespace bnrt::kernels {

const ConvKernelTable& conv_kernels_scalar() noexcept {
  static constexpr ConvKernelTable kTable = make_conv_table<ScalarOps, 4, 4, 4, 2, 2>();
  return kTable;
}

}  // namespace bnrt::kernels
