// The tables of conv micro-kernels for one ISA, instantiated by conv_gemm_<isa>.cpp and
// conv_depthwise_<isa>.cpp from the kernel bodies (conv_gemm_impl.hpp, conv_depthwise_impl.hpp,
// ...). See conv_kernels.hpp for what each kernel computes.
#pragma once

#include <cstddef>

#include "conv_depthwise_impl.hpp"
#include "conv_depthwise_planar_impl.hpp"
#include "conv_gemm_impl.hpp"
#include "conv_transpose_impl.hpp"

namespace bnrt::kernels {

template <class Ops, std::size_t MR, std::size_t NV, std::size_t MAX_NV>
constexpr GemmTileFn gemm_entry() noexcept {
  if constexpr (NV <= MAX_NV) {
    return &gemm_tile<Ops, MR, NV>;
  } else {
    return nullptr;
  }
}

/// The GEMM kernels for one ISA: MR pixels x up to MAX_NV vectors per gemm tile.
template <class Ops, std::size_t MR, std::size_t MAX_NV>
constexpr ConvGemmKernels make_gemm_kernels() noexcept {
  static_assert(MAX_NV >= 1 && MAX_NV <= kMaxGemmVectors);
  return {{gemm_entry<Ops, MR, 1, MAX_NV>(), gemm_entry<Ops, MR, 2, MAX_NV>(),
           gemm_entry<Ops, MR, 3, MAX_NV>(), gemm_entry<Ops, MR, 4, MAX_NV>()},
          &planar_gemm_tile<Ops, MR, MAX_NV>,
          MAX_NV,
          &transpose_to_nhwc<Ops>,
          MR,
          MAX_NV,
          Ops::lanes};
}

/// The depthwise kernels for one ISA: MR_DW pixels per channels-last step, MR_DW_PLANE rows
/// per channels-first tile, and MR_DW_DIRECT rows per tile of the direct (masked-load)
/// channels-first kernel.
template <class Ops, std::size_t MR_DW, std::size_t MR_DW_PLANE, std::size_t MR_DW_DIRECT>
constexpr ConvDepthwiseKernels make_depthwise_kernels() noexcept {
  return {&depthwise_row<Ops, MR_DW>, &depthwise_plane<Ops, 2, MR_DW_PLANE, MR_DW_DIRECT, 4>,
          4 * Ops::lanes, &plane_is_direct<Ops>};
}

}  // namespace bnrt::kernels
