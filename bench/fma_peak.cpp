// Measures the FMA peak on the widest ISA this CPU supports (see fma_peak.hpp).
#include "fma_peak.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "bnrt/isa.hpp"

namespace bnrt::bench {

float fma_chains_avx512(long iterations);
float fma_chains_avx2(long iterations);

namespace {

std::atomic<float> g_sink{0};

/// Seconds for `threads` threads to each run `iterations` chain steps, started together.
double run_chains(int threads, long iterations, bool avx512) {
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  std::vector<double> seconds(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }
      const auto start = std::chrono::steady_clock::now();
      const float v = avx512 ? fma_chains_avx512(iterations) : fma_chains_avx2(iterations);
      seconds[static_cast<std::size_t>(t)] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      g_sink.store(v, std::memory_order_relaxed);
    });
  }
  for (auto& th : pool) th.join();
  return *std::max_element(seconds.begin(), seconds.end());
}

}  // namespace

double measure_fma_peak_gflops(int threads) {
  const bool avx512 = best_supported_isa() == Isa::avx512;
  if (!avx512 && best_supported_isa() != Isa::avx2) return 0.0;
  const double flops_per_step = 12.0 * (avx512 ? 16 : 8) * 2;
  constexpr long kIterations = 4'000'000;  // ~25-50 ms per thread
  double best = 1e30;
  run_chains(threads, kIterations / 8, avx512);  // wake the cores up to speed
  for (int trial = 0; trial < 5; ++trial)
    best = std::min(best, run_chains(threads, kIterations, avx512));
  return flops_per_step * static_cast<double>(kIterations) * threads / best / 1e9;
}

}  // namespace bnrt::bench
