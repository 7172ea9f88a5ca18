// The small vector vocabulary kernels are written in, for each xsimd architecture: broadcast,
// unaligned load/store, FMA, clamp, lane select, and the pieces xsimd 8.1 lacks (masked tails,
// non-temporal stores), filled in with intrinsics per ISA.
// Include only from per-ISA translation units (*_sse2.cpp, *_avx2.cpp, *_avx512.cpp): every
// function here is a member of a class template on Arch, so copies built with different -m
// flags never share a symbol (no ODR trap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

// All intrinsics are declared whatever the -m flags (GCC tags each with its target); the
// ones for a wider ISA are only instantiated in that ISA's unit.
#include <immintrin.h>

namespace bnrt::kernels {

template <class Arch>
struct SimdOps {
  using vec = xsimd::batch<float, Arch>;
  static constexpr std::size_t lanes = vec::size;
  static constexpr std::size_t vector_bytes = lanes * sizeof(float);
  static constexpr bool is_avx512 = std::is_same_v<Arch, xsimd::avx512f>;
  static constexpr bool is_avx2 = std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>;
  static_assert(is_avx512 || is_avx2 || std::is_same_v<Arch, xsimd::sse2>,
                "add the masked-tail and streaming-store pieces for this arch");

  static vec broadcast(float value) noexcept { return vec(value); }
  static vec load(const float* src) noexcept { return vec::load_unaligned(src); }
  /// A load the compiler must keep in a register: without it GCC folds a value used by several
  /// FMAs into each of them as a memory operand, loading it again per use.
  static vec load_once(const float* src) noexcept {
    // The register type of this Arch only: naming a wider one (__m512 in the SSE2 unit) is
    // rejected by clang even in a discarded branch.
    typename vec::register_type r = vec::load_unaligned(src);
    if constexpr (is_avx512) {
      __asm__("" : "+v"(r));  // "v": any of zmm0-31
    } else {
      __asm__("" : "+x"(r));
    }
    return r;
  }

  static void store(float* dst, const vec& value) noexcept { value.store_unaligned(dst); }

  /// Non-temporal store; dst must be vector_bytes-aligned.
  static void stream(float* dst, const vec& value) noexcept {
    if constexpr (is_avx512) {
      _mm512_stream_ps(dst, value);
    } else if constexpr (is_avx2) {
      _mm256_stream_ps(dst, value);
    } else {
      _mm_stream_ps(dst, value);
    }
  }
  /// Orders this thread's non-temporal stores before anything it does next.
  static void stream_fence() noexcept { _mm_sfence(); }

  /// a * b + c with a single rounding where the ISA has FMA, else multiply then add. Written
  /// with explicit intrinsics: xsimd 8.1's avx512f fma is a plain a * b + c.
  static vec fma(const vec& a, const vec& b, const vec& c) noexcept {
    if constexpr (is_avx512) {
      return _mm512_fmadd_ps(a, b, c);
    } else if constexpr (is_avx2) {
      return _mm256_fmadd_ps(a, b, c);
    } else {
      return _mm_add_ps(_mm_mul_ps(a, b), c);
    }
  }
  /// max(lo, y) and min(hi, y) with the bound first: x86 MAXPS/MINPS return their second
  /// operand when either is NaN, so a NaN y passes through instead of becoming the bound.
  static vec max_bound(const vec& lo, const vec& y) noexcept { return xsimd::max(lo, y); }
  static vec min_bound(const vec& hi, const vec& y) noexcept { return xsimd::min(hi, y); }

  /// Lanes [0, n) from `first`, the rest from `second`; n <= lanes.
  static vec select_first(std::size_t n, const vec& first, const vec& second) noexcept {
    if constexpr (is_avx512) {
      return _mm512_mask_blend_ps(static_cast<__mmask16>((1u << n) - 1u), second, first);
    }
    const vec lane_index = vec::load_unaligned(kLaneIndex);
    return xsimd::select(lane_index < vec(static_cast<float>(n)), first, second);
  }

  /// Loads lanes [0, n) from src (n < lanes), zero in the rest, touching no byte past src + n.
  static vec load_partial(const float* src, std::size_t n) noexcept {
    if constexpr (is_avx512) {
      return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), src);
    } else if constexpr (is_avx2) {
      return _mm256_maskload_ps(src, tail_mask(n));
    } else {
      // One to three floats by scalar loads: a memcpy of n bytes became a library call per
      // tail (SSE2 fast statistics of NHWC 1x64x64x5, a partial vector per row: 40 us).
      // (Two floats through a fixed-size memcpy: src need not be aligned for a double.)
      double pair;
      if (n >= 2) __builtin_memcpy(&pair, src, sizeof(pair));
      const __m128 low = n >= 2 ? _mm_castpd_ps(_mm_set_sd(pair)) : _mm_load_ss(src);
      return n == 3 ? _mm_movelh_ps(low, _mm_load_ss(src + 2)) : low;
    }
  }
  /// Lane windows: loads of lanes [lo, hi) only, the others zero, touching no memory outside
  /// the window, as one masked load (AVX-512, AVX2). Kernels that read zero padding straight
  /// from the edges of a tensor use them instead of a padded copy; without masked loads
  /// (SSE2) a window costs a staged copy, so such kernels keep the copy there.
  static constexpr bool has_masked_loads = is_avx512 || is_avx2;
  struct NoWindow {};
  // A wrapper for AVX2: __m256i's vector attributes would be dropped as a template argument.
  struct LaneMask {
    __m256i bits;
  };
  using window =
      std::conditional_t<is_avx512, __mmask16, std::conditional_t<is_avx2, LaneMask, NoWindow>>;
  /// Lanes [lo, hi), for 0 <= lo, hi <= lanes (hi <= lo: empty).
  static window make_window(std::ptrdiff_t lo,
                            std::ptrdiff_t hi) noexcept requires has_masked_loads {
    if constexpr (is_avx512) {
      if (hi <= lo) return 0;
      return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
    } else {
      const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      const __m256i from = _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(static_cast<int>(lo) - 1));
      const __m256i below = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(hi)), lane);
      return {_mm256_and_si256(from, below)};
    }
  }
  /// `w` when `keep`, else the empty window (branch-free, so unrolled kernels stay in registers).
  static window window_if(window w, bool keep) noexcept requires has_masked_loads {
    if constexpr (is_avx512) {
      return static_cast<__mmask16>(w & (keep ? 0xffffu : 0u));
    } else {
      return {_mm256_and_si256(w.bits, _mm256_set1_epi32(keep ? -1 : 0))};
    }
  }
  /// `src` is where lane 0 would load from; only the window's lanes are read.
  static vec load_window(const float* src, window w) noexcept requires has_masked_loads {
    if constexpr (is_avx512) {
      return _mm512_maskz_loadu_ps(w, src);
    } else {
      return _mm256_maskload_ps(src, w.bits);
    }
  }

  /// The even lanes (0, 2, 4, ...) or the odd lanes of the 2 * lanes floats a then b: a
  /// stride-2 run of columns split by parity, in one permute (AVX-512) or two (AVX2). Only
  /// where masked loads are: the kernels that use them read rows through windows.
  template <bool kOdd>
  static vec parity_lanes(const vec& a, const vec& b) noexcept requires has_masked_loads {
    if constexpr (is_avx512) {
      constexpr int o = kOdd ? 1 : 0;
      return _mm512_permutex2var_ps(
          a,
          _mm512_setr_epi32(o, o + 2, o + 4, o + 6, o + 8, o + 10, o + 12, o + 14, o + 16, o + 18,
                            o + 20, o + 22, o + 24, o + 26, o + 28, o + 30),
          b);
    } else {
      // [a0 a2 b0 b2 | a4 a6 b4 b6] (or the odd ones), then 64-bit pieces 0 2 1 3.
      const __m256 pairs =
          _mm256_shuffle_ps(a, b, kOdd ? _MM_SHUFFLE(3, 1, 3, 1) : _MM_SHUFFLE(2, 0, 2, 0));
      return _mm256_castpd_ps(
          _mm256_permute4x64_pd(_mm256_castps_pd(pairs), _MM_SHUFFLE(3, 1, 2, 0)));
    }
  }
  /// Lane l of the result is lane indices[l] of `table` (indices in [0, lanes)): one
  /// variable permute on AVX-512 and AVX2; SSE2 has none and goes through memory (four
  /// scalar loads, still several times cheaper than gathering a narrow plane's lanes one by
  /// one: SSE2, NCL 64x256x3, one thread, 152 -> 34 us, its fast statistics 22 -> 8 us).
  static constexpr bool has_lane_permute = true;
  static vec permute_lanes(const vec& table, const std::int32_t* indices) noexcept {
    if constexpr (is_avx512) {
      return _mm512_permutexvar_ps(_mm512_loadu_si512(indices), table);
    } else if constexpr (is_avx2) {
      return _mm256_permutevar8x32_ps(
          table, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(indices)));
    } else {
      alignas(16) float lanes_of[4];
      table.store_aligned(lanes_of);
      return _mm_setr_ps(lanes_of[indices[0]], lanes_of[indices[1]], lanes_of[indices[2]],
                         lanes_of[indices[3]]);
    }
  }

  static vec even_lanes(const vec& a, const vec& b) noexcept requires has_masked_loads {
    return parity_lanes<false>(a, b);
  }
  static vec odd_lanes(const vec& a, const vec& b) noexcept requires has_masked_loads {
    return parity_lanes<true>(a, b);
  }

  /// Stores lanes [0, n) to dst (n < lanes), touching no byte past dst + n.
  static void store_partial(float* dst, const vec& value, std::size_t n) noexcept {
    if constexpr (is_avx512) {
      _mm512_mask_storeu_ps(dst, static_cast<__mmask16>((1u << n) - 1u), value);
    } else if constexpr (is_avx2) {
      _mm256_maskstore_ps(dst, tail_mask(n), value);
    } else {
      const __m128 v = value;
      if (n >= 2) {
        const double pair = _mm_cvtsd_f64(_mm_castps_pd(v));
        __builtin_memcpy(dst, &pair, sizeof(pair));
        if (n == 3) _mm_store_ss(dst + 2, _mm_movehl_ps(v, v));
      } else {
        _mm_store_ss(dst, v);
      }
    }
  }

  // ---- double precision, for statistics --------------------------------------------------

  using vecd = xsimd::batch<double, Arch>;
  static constexpr std::size_t dlanes = vecd::size;  ///< doubles per vector (floats / 2)
  /// Vectors per channels-last statistics tile: three accumulators each (shift, sum, sum of
  /// squares) must fit the register file, 32 vectors on AVX-512, 16 below.
  static constexpr std::size_t accumulator_vectors = is_avx512 ? 8 : 4;
  /// Float vectors per tile of the fast (training) statistics: each keeps a float shift, sum
  /// and sum of squares in registers (the double totals live in memory): 3 registers each.
  static constexpr std::size_t fast_tile_vectors = is_avx512 ? 8 : 4;

  static vecd broadcast_d(double value) noexcept { return vecd(value); }
  static vecd fma_d(const vecd& a, const vecd& b, const vecd& c) noexcept {
    if constexpr (is_avx512) {
      return _mm512_fmadd_pd(a, b, c);
    } else if constexpr (is_avx2) {
      return _mm256_fmadd_pd(a, b, c);
    } else {
      return _mm_add_pd(_mm_mul_pd(a, b), c);
    }
  }
  /// sum + d, issued as d * 1 + sum on the multiply-add units where there are any (the same
  /// bits: one rounding either way). The exact statistics take a conversion, a subtraction, an
  /// addition and a multiply-add per vector; on Zen 4 the addition on the multiply-add units
  /// instead of beside the subtraction took the exact pass from 100 to 92 us (NHWC
  /// 32x7x7x512) and 207 to 183 us (NHWC 32x14x14x256), NCHW 1-5% (one thread, harness).
  static vecd add_d_on_fma(const vecd& sum, const vecd& d) noexcept {
    if constexpr (is_avx512 || is_avx2) {
      return fma_d(d, broadcast_d(1.0), sum);
    } else {
      return sum + d;
    }
  }
  static double sum(const vecd& v) noexcept { return xsimd::hadd(v); }
  static vecd max_d(const vecd& a, const vecd& b) noexcept { return xsimd::max(a, b); }
  static vecd sqrt_d(const vecd& a) noexcept { return xsimd::sqrt(a); }
  /// AVX-512 only: 1 / sqrt(a) to 14 bits (exact inf at 0 and 0 at inf), for Newton steps.
  static constexpr bool has_rsqrt_estimate_d = is_avx512;
  static vecd rsqrt_estimate_d(const vecd& a) noexcept {
    static_assert(is_avx512, "a double-precision estimate needs AVX-512");
    return _mm512_rsqrt14_pd(a);
  }
  /// AVX-512 only: y where a is finite and positive, and the exact limits of 1 / sqrt(a)
  /// elsewhere: +inf where a is +-0, +0 where a is +inf (one fixup instead of two compares
  /// and a blend). Token responses, four bits per class of a: class 2 (zero) -> 5 (+inf),
  /// class 5 (+inf) -> 8 (+0), every other class -> 0 (y unchanged).
  static vecd with_inverse_sqrt_limits_d(const vecd& y, const vecd& a) noexcept {
    static_assert(is_avx512, "the fixup needs AVX-512");
    constexpr int kResponses = (5 << (4 * 2)) | (8 << (4 * 5));
    return _mm512_fixupimm_pd(y, a, _mm512_set1_epi64(kResponses), 0);
  }
  /// Lane k = the sum of the lanes of v[k]: dlanes horizontal sums at the cost of about one.
  static vecd sums_d(const vecd (&v)[dlanes]) noexcept { return xsimd::haddp(v); }
  static vecd select_d(const typename vecd::batch_bool_type& mask, const vecd& a,
                       const vecd& b) noexcept {
    return xsimd::select(mask, a, b);
  }

  /// dlanes floats from src, widened (exactly) to double.
  static vecd load_widened(const float* src) noexcept {
    if constexpr (is_avx512) {
      return _mm512_cvtps_pd(_mm256_loadu_ps(src));
    } else if constexpr (is_avx2) {
      return _mm256_cvtps_pd(_mm_loadu_ps(src));
    } else {
      // Two floats as one 8-byte load; memcpy, as src is only float-aligned.
      double pair;
      __builtin_memcpy(&pair, src, sizeof pair);
      return _mm_cvtps_pd(_mm_castpd_ps(_mm_set_sd(pair)));
    }
  }
  /// n < dlanes floats (zero in the other lanes), widened; touches no byte past src + n.
  static vecd load_widened_partial(const float* src, std::size_t n) noexcept {
    if constexpr (is_avx512) {
      const __m512 x = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), src);
      return _mm512_cvtps_pd(_mm512_castps512_ps256(x));
    } else if constexpr (is_avx2) {
      return _mm256_cvtps_pd(_mm_maskload_ps(src, _mm256_castsi256_si128(tail_mask(n))));
    } else {
      alignas(16) float staged[4] = {};
      __builtin_memcpy(staged, src, n * sizeof(float));
      return _mm_cvtps_pd(_mm_load_ps(staged));
    }
  }
  /// x - shift in lanes [0, n), 0 in the rest (n <= dlanes).
  static vecd sub_first_d(const vecd& x, const vecd& shift, std::size_t n) noexcept {
    if constexpr (is_avx512) {
      return _mm512_maskz_sub_pd(static_cast<__mmask8>((1u << n) - 1u), x, shift);
    } else {
      const vecd lane_index = vecd::load_unaligned(kLaneIndexD);
      return xsimd::select(lane_index < vecd(static_cast<double>(n)), x - shift, vecd(0.0));
    }
  }
  static vecd load_d(const double* src) noexcept { return vecd::load_unaligned(src); }
  static void store_d(double* dst, const vecd& value) noexcept { value.store_unaligned(dst); }
  /// lo += the low dlanes floats of v widened, hi += the high ones (float runs into double).
  static void widen_add(const vec& v, vecd& lo, vecd& hi) noexcept {
    if constexpr (is_avx512) {
      lo = lo + vecd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)));
      hi = hi +
           vecd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
    } else if constexpr (is_avx2) {
      lo = lo + vecd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)));
      hi = hi + vecd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    } else {
      lo = lo + vecd(_mm_cvtps_pd(v));
      hi = hi + vecd(_mm_cvtps_pd(_mm_movehl_ps(v, v)));
    }
  }
  /// The low / high dlanes floats of v, widened.
  static vecd widen_lo(const vec& v) noexcept {
    vecd lo(0.0), hi(0.0);
    widen_add(v, lo, hi);
    return lo;
  }
  static vecd widen_hi(const vec& v) noexcept {
    vecd lo(0.0), hi(0.0);
    widen_add(v, lo, hi);
    return hi;
  }
  /// x - shift in lanes [0, n), 0 in the rest (n <= lanes), in float.
  static vec sub_first(const vec& x, const vec& shift, std::size_t n) noexcept {
    if constexpr (is_avx512) {
      return _mm512_maskz_sub_ps(static_cast<__mmask16>((1u << n) - 1u), x, shift);
    } else {
      return select_first(n, x - shift, vec(0.0f));
    }
  }

  /// Lane j of the result is the sum of all lanes of v[j]: a lanes x lanes transpose and add
  /// in log2(lanes) shuffle-and-add levels, ~3 ops per input vector on AVX-512 instead of ~8
  /// for a horizontal sum each (xsimd's haddp below AVX-512; its AVX-512 one needs AVX512DQ,
  /// which the AVX-512 unit is not built for). Each lane's tree is the same whatever the other
  /// rows hold.
  static constexpr bool has_transpose_sum = true;
  static vec transpose_sum(const vec (&v)[lanes]) noexcept {
    if constexpr (is_avx512) {
      return transpose_sum_avx512(v);
    } else {
      return xsimd::haddp(v);
    }
  }
  static vec transpose_sum_avx512(const vec (&v)[lanes]) noexcept {
    __m512 pairs[8];  // 128-bit block k of pairs[i]: block-k partial sums of v[2i], v[2i + 1]
    for (int i = 0; i < 8; ++i) {
      pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                               _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    }
    __m512 quads[4];  // block k of quads[i]: block-k sums of v[4i] .. v[4i + 3], in order
    for (int i = 0; i < 4; ++i) {
      quads[i] =
          _mm512_add_ps(_mm512_shuffle_ps(pairs[2 * i], pairs[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                        _mm512_shuffle_ps(pairs[2 * i], pairs[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    }
    __m512 halves[2];  // blocks: [q0 b0+b2, q0 b1+b3, q1 b0+b2, q1 b1+b3] and the same for q2, q3
    for (int i = 0; i < 2; ++i) {
      halves[i] = _mm512_add_ps(
          _mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
          _mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    }
    return _mm512_add_ps(_mm512_shuffle_f32x4(halves[0], halves[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(halves[0], halves[1], _MM_SHUFFLE(3, 1, 3, 1)));
  }

  /// Each lane rounded to float and back: the value a float table will hold.
  static vecd round_to_float_d(const vecd& value) noexcept {
    if constexpr (is_avx512) {
      return _mm512_cvtps_pd(_mm512_cvtpd_ps(value));
    } else if constexpr (is_avx2) {
      return _mm256_cvtps_pd(_mm256_cvtpd_ps(value));
    } else {
      return _mm_cvtps_pd(_mm_cvtpd_ps(value));
    }
  }
  /// Rounds dlanes doubles to float and stores them at dst.
  static void store_narrowed(float* dst, const vecd& value) noexcept {
    if constexpr (is_avx512) {
      _mm256_storeu_ps(dst, _mm512_cvtpd_ps(value));
    } else if constexpr (is_avx2) {
      _mm_storeu_ps(dst, _mm256_cvtpd_ps(value));
    } else {
      _mm_storel_pi(reinterpret_cast<__m64*>(dst), _mm_cvtpd_ps(value));
    }
  }
  /// Stores lanes [0, n) (n <= dlanes).
  static void store_d_partial(double* dst, const vecd& value, std::size_t n) noexcept {
    alignas(64) double staged[dlanes];
    value.store_aligned(staged);
    for (std::size_t lane = 0; lane < n; ++lane) dst[lane] = staged[lane];
  }

  /// Number of elements before `p` reaches vector alignment; 0 if it never can (a pointer not
  /// even float-aligned: then every store is unaligned and streaming is off).
  static std::size_t elements_to_alignment(const float* p) noexcept {
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    if (address % sizeof(float) != 0) return 0;
    return ((vector_bytes - address % vector_bytes) % vector_bytes) / sizeof(float);
  }

 private:
  alignas(64) static constexpr float kLaneIndex[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                       8, 9, 10, 11, 12, 13, 14, 15};
  alignas(64) static constexpr double kLaneIndexD[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  // AVX2 masked load/store take an int32 mask per lane: the top bit set means "touch".
  // Reading 8 entries starting at 8 - n gives n leading -1s.
  alignas(64) static constexpr std::int32_t kTailMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                             0,  0,  0,  0,  0,  0,  0,  0};
  static __m256i tail_mask(std::size_t n) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTailMask + 8 - n));
  }
};

}  // namespace bnrt::kernels
