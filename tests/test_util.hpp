// Shared test helpers: seeded random data, ISA scoping, shape construction and a comparison
// against the float64 reference that reports the first bad element with its context.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bnrt/bnrt.hpp"
#include "reference/batch_norm_reference.hpp"

namespace bnrt::testing {

/// Every test draws from a generator seeded by a fixed value mixed with its own tag; the seed
/// is printed on failure (SCOPED_TRACE) so a failure reproduces exactly.
inline std::mt19937_64 make_rng(std::uint64_t tag) { return std::mt19937_64(0x5eed'b0a7ULL ^ tag); }

inline std::vector<float> random_floats(std::mt19937_64& rng, std::size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(dist(rng));
  return v;
}

/// Statistics as a trained network has them: mixed-sign means, variances from tiny to large,
/// gammas of both signs, some exactly zero (dead channels).
struct RandomStats {
  std::vector<float> mean, var, gamma, beta;
  float eps = 1e-5f;

  RandomStats(std::mt19937_64& rng, std::size_t channels, bool affine = true) {
    mean = random_floats(rng, channels, -3.0, 3.0);
    var = random_floats(rng, channels, 0.0, 1.0);
    for (float& v : var) v = v * v * 4.0f;  // skewed towards small variances
    if (affine) {
      gamma = random_floats(rng, channels, -2.0, 2.0);
      beta = random_floats(rng, channels, -1.0, 1.0);
      if (channels > 2) gamma[channels / 2] = 0.0f;
    }
  }

  BatchNormParams params() const { return {mean, var, gamma, beta, eps}; }

  reference::BatchNormCase reference_case(const Activation& activation) const {
    reference::BatchNormCase c;
    c.mean.assign(mean.begin(), mean.end());
    c.var.assign(var.begin(), var.end());
    c.gamma.assign(gamma.begin(), gamma.end());
    c.beta.assign(beta.begin(), beta.end());
    c.eps = eps;
    c.lo = activation.lo;
    c.hi = activation.hi;
    return c;
  }
};

/// Caps the ISA for the lifetime of the scope, restoring the previous cap after.
class IsaScope {
 public:
  explicit IsaScope(Isa isa) : previous_(set_isa_cap(isa)) {}
  ~IsaScope() { set_isa_cap(previous_); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;

 private:
  Isa previous_;
};

/// Dims in the layout's order for batch n, channels c and `spatial` positions spread over the
/// layout's spatial dims (all in the first one, the rest 1; the product is what kernels see).
inline std::vector<std::int64_t> make_dims(Layout layout, std::int64_t n, std::int64_t c,
                                           std::int64_t spatial) {
  const int rank = layout_rank(layout);
  std::vector<std::int64_t> dims(static_cast<std::size_t>(rank), 1);
  dims[0] = n;
  if (rank == 2) {
    dims[1] = c;
    return dims;
  }
  if (layout_is_channels_last(layout)) {
    dims[1] = spatial;
    dims.back() = c;
  } else {
    dims[1] = c;
    dims[2] = spatial;
  }
  return dims;
}

/// Same, from explicit spatial dims (e.g. {56, 56}); their count must fit the layout.
inline std::vector<std::int64_t> make_dims(Layout layout, std::int64_t n, std::int64_t c,
                                           const std::vector<std::int64_t>& spatial) {
  std::vector<std::int64_t> dims{n};
  if (!layout_is_channels_last(layout)) dims.push_back(c);
  dims.insert(dims.end(), spatial.begin(), spatial.end());
  if (layout_is_channels_last(layout)) dims.push_back(c);
  return dims;
}

inline std::size_t element_count(const std::vector<std::int64_t>& dims) {
  std::size_t n = 1;
  for (auto d : dims) n *= static_cast<std::size_t>(d);
  return n;
}

inline std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string s;
  for (auto d : dims) {
    if (!s.empty()) s += 'x';
    s += std::to_string(d);
  }
  return s;
}

/// Checks got against the reference within folded_tolerance; stops at the first bad element.
inline ::testing::AssertionResult matches_reference(const float* got,
                                                    const reference::ReferenceResult& expected) {
  for (std::size_t i = 0; i < expected.y.size(); ++i) {
    const double want = expected.y[i];
    const double have = got[i];
    if (std::isnan(want) && std::isnan(have)) continue;
    if (std::isinf(want) && have == want) continue;
    const double tolerance = reference::folded_tolerance(expected.magnitude[i]);
    if (!(std::fabs(have - want) <= tolerance)) {
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << have << ", want " << want << " (|diff| "
             << std::fabs(have - want) << " > tolerance " << tolerance << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

inline std::vector<Isa> all_isas() { return {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512}; }
inline std::vector<Layout> all_layouts() {
  return {Layout::nc,  Layout::ncl,  Layout::nchw, Layout::ncdhw,
          Layout::nlc, Layout::nhwc, Layout::ndhwc};
}

/// Runs `f` and expects a bnrt::Error with `code` whose message contains `fragment`.
template <typename F>
void expect_error(F&& f, ErrorCode code, std::string_view fragment) {
  try {
    f();
    ADD_FAILURE() << "expected an error mentioning " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

}  // namespace bnrt::testing
