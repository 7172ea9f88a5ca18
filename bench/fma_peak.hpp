// The machine's fp32 FMA peak, measured: independent FMA chains in registers on the widest ISA
// the CPU has, on `threads` threads at once. What "% of peak" in the conv benchmark divides by.
#pragma once

namespace bnrt::bench {

/// GFLOP/s (2 per FMA lane) summed over `threads` threads, best of a few short runs.
double measure_fma_peak_gflops(int threads);

}  // namespace bnrt::bench
