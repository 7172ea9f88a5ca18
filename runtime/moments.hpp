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
                               int max_threads, MomentsScratch& scratch);

/// Chan et al.'s combination of (count_a, mean_a, m2_a) with (count_b, mean_b, m2_b), in place
/// on the first. count_b must be positive.
inline void merge_moments(double& count_a, double& mean_a, double& m2_a, double count_b,
                          double mean_b, double m2_b) {
  const double count = count_a + count_b;
  const double delta = mean_b - mean_a;
  mean_a += delta * (count_b / count);
  m2_a += m2_b + delta * delta * (count_a * count_b / count);
  count_a = count;
}

}  // namespace bnrt::detail
