// The convolution micro-kernels instantiated for avx2; the only file built with this ISA's
// flags for them (see runtime/CMakeLists.txt). Tile sizes (pixels x vectors) keep every
// accumulator, the weight vectors and a broadcast in the register file.
#include "conv_impl.hpp"
#include "simd_ops.hpp"

namespace bnrt::kernels {

const ConvKernelTable& conv_kernels_avx2() noexcept {
  static constexpr ConvKernelTable kTable =
      make_conv_table<SimdOps<xsimd::fma3<xsimd::avx2>>, 6, 2, 8, 2, 4>();
  return kTable;
}

}  // namespace bnrt::kernels
