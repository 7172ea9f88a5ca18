// Per-channel moments of a validated tensor: the fixed block geometry, the parallel kernel pass
// and the ordered merge. Shared by batch_moments, MomentsAccumulator and the training op.
#pragma once

#include <vector>

#include "bnrt/batch_stats.hpp"
#include "tensor_checks.hpp"

namespace bnrt::detail {

/// Reusable buffers for the per-block partial results (sized by the tensor's block count).
struct MomentsScratch {
  std::vector<double> mean;
  std::vector<double> m2;
};

/// Moments of `x` (already validated, with `geometry` from check_tensor; at least one
/// element), reduced by the kernels of the active ISA.
ChannelMoments compute_moments(const ConstTensor& x, const TensorGeometry& geometry,
                               int max_threads, MomentsScratch& scratch,
                               StatsPrecision precision = StatsPrecision::exact);

/// Chan et al.'s combination of moments over count_a values with moments over count_b values
/// (count_b > 0): the union's mean is mean_a + delta * count_b / n and its M2 is
/// m2_a + m2_b + delta^2 * count_a * count_b / n, with delta = mean_b - mean_a and
/// n = count_a + count_b. Every channel of a block has the same counts, so the two weights are
/// computed once per block and the per-channel update has no division (and vectorizes).
struct MergeWeights {
  double mean;  ///< count_b / n
  double m2;    ///< count_a * count_b / n
  MergeWeights(double count_a, double count_b)
      : mean(count_b / (count_a + count_b)), m2(count_a * count_b / (count_a + count_b)) {}
};

inline void merge_moments(const MergeWeights& w, double& mean_a, double& m2_a, double mean_b,
                          double m2_b) {
  const double delta = mean_b - mean_a;
  mean_a += delta * w.mean;
  m2_a += m2_b + delta * delta * w.m2;
}

}  // namespace bnrt::detail
