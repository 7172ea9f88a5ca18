// The convolution micro-kernels instantiated for avx512; the only file built with this ISA's
// flags for them (see runtime/CMakeLists.txt). Tile sizes (pixels x vectors) keep every
// accumulator, the weight vectors and a broadcast in the register file.
#include "conv_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const ConvKernelTable& conv_kernels_avx512() noexcept {
  static constexpr ConvKernelTable kTable =
      make_conv_table<SimdOps<xsimd::avx512f>, 6, 4, 8, 4, 7>();
  return kTable;
}

}  // namespace bnrt::kernels
