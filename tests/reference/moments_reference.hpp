// Naive per-channel mean and M2 (sum of squared deviations), two passes in long double, written
// from the definition with logical channel indices. Shares no code with the runtime.
#pragma once

#include <cstdint>
#include <vector>

#include "reference/batch_norm_reference.hpp"

namespace bnrt::reference {

struct Moments {
  std::vector<double> mean;
  std::vector<double> m2;
  std::int64_t count = 0;
};

inline Moments moments(const std::vector<float>& x, Layout layout,
                       const std::vector<std::int64_t>& dims) {
  const std::size_t channels =
      static_cast<std::size_t>(dims[static_cast<std::size_t>(layout_channel_axis(layout))]);
  std::vector<long double> sum(channels, 0.0L), squares(channels, 0.0L);
  std::vector<std::int64_t> count(channels, 0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = channel_of(i, layout, dims);
    sum[c] += x[i];
    count[c] += 1;
  }
  Moments result;
  result.mean.resize(channels);
  result.m2.resize(channels);
  result.count = count[0];
  std::vector<long double> mean(channels);
  for (std::size_t c = 0; c < channels; ++c) mean[c] = sum[c] / static_cast<long double>(count[c]);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = channel_of(i, layout, dims);
    const long double d = x[i] - mean[c];
    squares[c] += d * d;
  }
  for (std::size_t c = 0; c < channels; ++c) {
    result.mean[c] = static_cast<double>(mean[c]);
    result.m2[c] = static_cast<double>(squares[c]);
  }
  return result;
}

}  // namespace bnrt::reference
