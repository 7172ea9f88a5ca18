// NCHW -> NHWC image transpose for the channels-first convs that run on the channels-last GEMM
// kernels. Written against the SimdOps / ScalarOps vocabulary, instantiated per ISA by
// conv_gemm_<isa>.cpp: with 8-float vectors or wider, whole 8 x 8 blocks are transposed in
// registers (eight row loads, 24 shuffles, eight row stores); edges and narrower ISAs copy
// element by element.
#pragma once

#include <immintrin.h>
#include <cstddef>

#include "conv_kernels.hpp"

namespace bnrt::kernels {
namespace transpose {

inline constexpr std::size_t kBlock = 8;

/// dst[j * dst_stride + i] = src[i * src_stride + j] for i, j < 8. Only instantiated for
/// ISAs with 8-float vectors (AVX2, AVX-512); a template so the SSE2 unit never compiles it.
template <class Ops>
inline void block_8x8(const float* src, std::size_t src_stride, float* dst,
                      std::size_t dst_stride) noexcept {
  __m256 r[kBlock];
  for (std::size_t i = 0; i < kBlock; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
  // Pairs of rows interleaved, then pairs of pairs, then 128-bit halves exchanged.
  __m256 t[kBlock], u[kBlock];
  for (std::size_t i = 0; i < kBlock; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (std::size_t i = 0; i < kBlock; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (std::size_t j = 0; j < 4; ++j) {
    _mm256_storeu_ps(dst + j * dst_stride, _mm256_permute2f128_ps(u[j], u[j + 4], 0x20));
    _mm256_storeu_ps(dst + (j + 4) * dst_stride, _mm256_permute2f128_ps(u[j], u[j + 4], 0x31));
  }
}

}  // namespace transpose

/// NCHW [channels][pixels] -> NHWC [pixels][dst_stride] (channels used of each row) for
/// pixels [p_begin, p_end).
/// Tiles of 16 x 16 (four register blocks): each source row piece and each destination row
/// piece is one whole cache line, used up at once (8 x 8 tiles left half of every source line
/// to be fetched again after the channel loop had evicted it).
template <class Ops>
void transpose_to_nhwc(const float* src, float* dst, std::size_t channels, std::size_t pixels,
                       std::size_t dst_stride, std::size_t p_begin, std::size_t p_end) noexcept {
  using transpose::kBlock;
  constexpr std::size_t kTile = 2 * kBlock;
  for (std::size_t p0 = p_begin; p0 < p_end; p0 += kTile) {
    const std::size_t p1 = p0 + kTile < p_end ? p0 + kTile : p_end;
    for (std::size_t c0 = 0; c0 < channels; c0 += kTile) {
      const std::size_t c1 = c0 + kTile < channels ? c0 + kTile : channels;
      if constexpr (Ops::lanes >= kBlock) {
        if (p1 - p0 == kTile && c1 - c0 == kTile) {
          for (std::size_t pb = p0; pb < p1; pb += kBlock) {
            for (std::size_t cb = c0; cb < c1; cb += kBlock) {
              transpose::block_8x8<Ops>(src + cb * pixels + pb, pixels, dst + pb * dst_stride + cb,
                                        dst_stride);
            }
          }
          continue;
        }
      }
      for (std::size_t p = p0; p < p1; ++p) {
        for (std::size_t c = c0; c < c1; ++c) dst[p * dst_stride + c] = src[c * pixels + p];
      }
    }
  }
}

}  // namespace bnrt::kernels
