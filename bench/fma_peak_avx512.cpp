// FMA chains for the avx512 peak measurement; built with this ISA's flags (bench/CMakeLists.txt).
#include <immintrin.h>

namespace bnrt::bench {

/// 12 independent chains (more than FMA latency x throughput on current cores), `iterations`
/// steps each; returns a value depending on every lane so nothing is optimized away.
/// Each step is acc = acc * a + b with a just below 1: it converges, never overflows or
/// goes subnormal.
float fma_chains_avx512(long iterations) {
  constexpr int kChains = 12;
  __m512 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-6f);
  for (long i = 0; i < iterations; ++i) {
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  }
  float total = 0;
  for (int k = 0; k < kChains; ++k) {
    float lanes[16];
    _mm512_storeu_ps(lanes, acc[k]);
    for (float x : lanes) total += x;
  }
  return total;
}

}  // namespace bnrt::bench
