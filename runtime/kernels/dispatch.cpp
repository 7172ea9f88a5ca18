// Maps an ISA to its kernel tables. Baseline code: it only takes addresses of functions that
// live in the per-ISA units, and callers only pass an ISA the CPU supports.
#include "affine_kernels.hpp"
#include "conv_kernels.hpp"
#include "fold_row_kernels.hpp"
#include "moments_kernels.hpp"

namespace bnrt::kernels {
namespace {

/// One kernel family's table getters, widest first.
template <typename Table>
struct Family {
  using Getter = const Table& (*)() noexcept;
  Getter avx512, avx2, sse2, scalar;

  const Table& operator()(Isa isa) const noexcept {
    switch (isa) {
      case Isa::avx512:
        return avx512();
      case Isa::avx2:
        return avx2();
      case Isa::sse2:
        return sse2();
      case Isa::scalar:
        break;
    }
    return scalar();
  }
};

}  // namespace

const AffineKernelTable& affine_kernels(Isa isa) noexcept {
  static constexpr Family<AffineKernelTable> kFamily{&affine_kernels_avx512, &affine_kernels_avx2,
                                                     &affine_kernels_sse2, &affine_kernels_scalar};
  return kFamily(isa);
}

const MomentsKernelTable& moments_kernels(Isa isa) noexcept {
  static constexpr Family<MomentsKernelTable> kFamily{&moments_kernels_avx512,
                                                      &moments_kernels_avx2, &moments_kernels_sse2,
                                                      &moments_kernels_scalar};
  return kFamily(isa);
}

const FoldRowKernels& fold_row_kernels(Isa isa) noexcept {
  static constexpr Family<FoldRowKernels> kFamily{&fold_row_kernels_avx512, &fold_row_kernels_avx2,
                                                  &fold_row_kernels_sse2, &fold_row_kernels_scalar};
  return kFamily(isa);
}

/// The conv table of one ISA, joined from its two halves once, on first use.
template <const ConvGemmKernels& (*Gemm)() noexcept,
          const ConvDepthwiseKernels& (*Depthwise)() noexcept>
const ConvKernelTable& conv_table() noexcept {
  static const ConvKernelTable table{Gemm(), Depthwise()};
  return table;
}

const ConvKernelTable& conv_kernels(Isa isa) noexcept {
  static constexpr Family<ConvKernelTable> kFamily{
      &conv_table<&conv_gemm_kernels_avx512, &conv_depthwise_kernels_avx512>,
      &conv_table<&conv_gemm_kernels_avx2, &conv_depthwise_kernels_avx2>,
      &conv_table<&conv_gemm_kernels_sse2, &conv_depthwise_kernels_sse2>,
      &conv_table<&conv_gemm_kernels_scalar, &conv_depthwise_kernels_scalar>};
  return kFamily(isa);
}

}  // namespace bnrt::kernels
