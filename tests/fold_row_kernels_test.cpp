// The fold's row loops (runtime/kernels/fold_row_impl.hpp) on every ISA this CPU runs:
// fp16 / bf16 stores equal the once-rounded reference (round_to_format) on values built to hit
// every rounding case; extremes, finiteness and sums equal plain float64 loops; and every
// entry is bitwise identical across ISAs (the ISA may change speed, never results).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include "kernels/fold_row_kernels.hpp"
#include "test_util.hpp"
#include "weight_format.hpp"

namespace bnrt::testing {
namespace {

constexpr Isa kIsas[] = {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512};

/// Values that stress rounding to a format with `precision` significand bits and smallest
/// normal 2^min_exponent: exact ties, a hair either side of ties (the double-rounding trap),
/// subnormals, the overflow boundary, and random magnitudes over the whole range; both signs.
std::vector<double> rounding_cases(std::mt19937_64& rng, const detail::FormatLimits& limits) {
  std::vector<double> values{0.0,
                             -0.0,
                             limits.max_finite,
                             limits.overflow_threshold,
                             std::nextafter(limits.overflow_threshold, 0.0),
                             limits.min_normal,
                             std::nextafter(limits.min_normal, 0.0),
                             1e300,
                             1e-300};
  std::uniform_int_distribution<int> exponent(limits.min_exponent - limits.precision - 2, 20);
  std::uniform_int_distribution<std::uint64_t> significand(0, (1ULL << 40) - 1);
  for (int i = 0; i < 20000; ++i) {
    const int e = exponent(rng);
    // A value of the format (random significand bits), then a tie above it, then nudges.
    const int spacing_exponent = std::max(e, limits.min_exponent) - limits.precision + 1;
    const double on_grid =
        std::ldexp(1.0, e) +
        std::ldexp(static_cast<double>(significand(rng) >> (40 - (limits.precision - 1))),
                   spacing_exponent);
    const double tie = on_grid + std::ldexp(1.0, spacing_exponent - 1);
    for (double v : {on_grid, tie, std::nextafter(tie, 0.0), std::nextafter(tie, 1e308),
                     tie + std::ldexp(1.0, spacing_exponent - 30),
                     tie - std::ldexp(1.0, spacing_exponent - 30),
                     std::ldexp(static_cast<double>(significand(rng)) + 0.5, e - 40)}) {
      values.push_back(v);
      values.push_back(-v);
    }
  }
  return values;
}

TEST(FoldRowKernels, Fp16AndBf16StoresRoundOnceToNearestEven) {
  auto rng = make_rng(61);
  for (WeightType type : {WeightType::f16, WeightType::bf16, WeightType::f32}) {
    const std::vector<double> values = rounding_cases(rng, detail::format_limits(type));
    // w * scale with w = 1 is the value itself, exactly.
    const std::vector<float> ones(values.size(), 1.0f);
    std::vector<std::uint32_t> want(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double rounded = detail::round_to_format(values[i], type);
      if (type == WeightType::f32) {
        const float f = static_cast<float>(rounded);
        std::memcpy(&want[i], &f, 4);
      } else {
        std::uint16_t bits = 0;
        if (std::isinf(rounded)) {
          bits = type == WeightType::f16 ? 0x7C00 : 0x7F80;
          if (rounded < 0) bits |= 0x8000;
        } else {
          detail::store_weight(&bits, type, 0, rounded);
          if (std::signbit(values[i])) bits |= 0x8000;  // -0 and negatives rounding to 0
        }
        want[i] = bits;
      }
    }
    for (Isa isa : kIsas) {
      if (!isa_supported(isa)) continue;
      SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(weight_type_name(type)));
      const auto& kernels = kernels::fold_row_kernels(isa);
      std::vector<std::uint32_t> got32(values.size());
      std::vector<std::uint16_t> got16(values.size());
      void* out = type == WeightType::f32 ? static_cast<void*>(got32.data()) : got16.data();
      kernels.write_scaled_runs[static_cast<int>(type)](ones.data(), values.size(), 1,
                                                        values.data(), out);
      for (std::size_t i = 0; i < values.size(); ++i) {
        const std::uint32_t got = type == WeightType::f32 ? got32[i] : got16[i];
        ASSERT_EQ(got, want[i]) << "value " << values[i] << " (" << std::hexfloat << values[i]
                                << std::defaultfloat << ")";
      }
    }
  }
}

/// A row with zeros, a wide magnitude spread and an odd length (vector tails).
std::vector<float> random_row(std::mt19937_64& rng, std::size_t n) {
  std::vector<float> row = random_floats(rng, n, -1.0, 1.0);
  std::uniform_int_distribution<int> exponent(-60, 60);
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 7 == 3) row[i] = 0.0f;
    if (i % 5 == 1) row[i] = std::ldexp(row[i], exponent(rng));
  }
  return row;
}

TEST(FoldRowKernels, ExtremesAndSumsMatchFloat64AndAgreeAcrossIsas) {
  auto rng = make_rng(62);
  for (std::size_t run : {std::size_t{1}, std::size_t{9}, std::size_t{27}}) {
    for (std::size_t runs : {std::size_t{1}, std::size_t{7}, std::size_t{17}, std::size_t{130}}) {
      SCOPED_TRACE("runs " + std::to_string(runs) + " x run " + std::to_string(run));
      const std::size_t n = runs * run;
      const std::vector<float> w = random_row(rng, n);
      std::vector<double> scale(runs), shift(runs);
      for (std::size_t r = 0; r < runs; ++r) {
        scale[r] =
            r % 11 == 4 ? 0.0 : std::ldexp(std::uniform_real_distribution<>(-1, 1)(rng), r % 9);
        shift[r] = std::uniform_real_distribution<>(-2, 2)(rng);
      }
      double max_abs = 0, min_abs = INFINITY, max_scaled = 0, min_scaled = INFINITY, sum = 0;
      for (std::size_t r = 0; r < runs; ++r) {
        for (std::size_t t = 0; t < run; ++t) {
          const double x = w[r * run + t], p = std::fabs(x * scale[r]);
          max_abs = std::max(max_abs, std::fabs(x));
          if (x != 0) min_abs = std::min(min_abs, std::fabs(x));
          max_scaled = std::max(max_scaled, p);
          if (p != 0) min_scaled = std::min(min_scaled, p);
          sum += x * shift[r];
        }
      }
      double first_sum = 0;
      bool have_first = false;
      for (Isa isa : kIsas) {
        if (!isa_supported(isa)) continue;
        SCOPED_TRACE(isa_name(isa));
        const auto& kernels = kernels::fold_row_kernels(isa);
        const kernels::RowExtremes plain = kernels.extremes(w.data(), n);
        EXPECT_EQ(plain.max_abs, max_abs);
        EXPECT_EQ(plain.min_nonzero_abs, min_abs);
        EXPECT_TRUE(plain.finite);
        const kernels::RowExtremes scaled =
            kernels.scaled_extremes(w.data(), runs, run, scale.data());
        EXPECT_EQ(scaled.max_abs, max_scaled);
        EXPECT_EQ(scaled.min_nonzero_abs, min_scaled);
        const double got_sum = kernels.shifted_sum(w.data(), runs, run, shift.data());
        // Summation order differs from the plain loop: a few ulps of sum |x * shift|.
        double magnitude = 0;
        for (std::size_t i = 0; i < n; ++i) magnitude += std::fabs(w[i] * shift[i / run]);
        EXPECT_NEAR(got_sum, sum, 8 * n * 1.1e-16 * magnitude + 1e-300);
        if (!have_first) first_sum = got_sum, have_first = true;
        EXPECT_EQ(got_sum, first_sum) << "sum differs between ISAs";
        // Writes: the fp32 result of every element is double product rounded once.
        std::vector<float> out(n);
        kernels.write_scaled_runs[0](w.data(), runs, run, scale.data(), out.data());
        for (std::size_t i = 0; i < n; ++i) {
          ASSERT_EQ(out[i], static_cast<float>(static_cast<double>(w[i]) * scale[i / run])) << i;
        }
        kernels.write_scaled[0](w.data(), n, scale[0], out.data());
        for (std::size_t i = 0; i < n; ++i) {
          ASSERT_EQ(out[i], static_cast<float>(static_cast<double>(w[i]) * scale[0])) << i;
        }
      }
    }
  }
}

TEST(FoldRowKernels, NonFiniteWeightsAreSeenWherevertheyAre) {
  for (Isa isa : kIsas) {
    if (!isa_supported(isa)) continue;
    SCOPED_TRACE(isa_name(isa));
    const auto& kernels = kernels::fold_row_kernels(isa);
    for (float bad :
         {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
          -std::numeric_limits<float>::infinity()}) {
      for (std::size_t n : {std::size_t{1}, std::size_t{16}, std::size_t{37}}) {
        for (std::size_t at = 0; at < n; at += 5) {
          std::vector<float> w(n, 0.25f);
          w[at] = bad;
          const std::vector<double> scale(n, 2.0);
          EXPECT_FALSE(kernels.extremes(w.data(), n).finite) << n << " at " << at;
          EXPECT_FALSE(kernels.scaled_extremes(w.data(), n, 1, scale.data()).finite)
              << n << " at " << at;
        }
        // Largest finite floats stay finite (no overflowing sum decides it).
        const std::vector<float> big(n, std::numeric_limits<float>::max());
        EXPECT_TRUE(kernels.extremes(big.data(), n).finite);
      }
    }
  }
}

}  // namespace
}  // namespace bnrt::testing
