// ISA control: names, detection, the cap API, and that an op records the ISA it was made for.
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace bnrt::testing {
namespace {

TEST(Isa, NamesRoundTrip) {
  for (Isa isa : all_isas()) EXPECT_EQ(parse_isa(isa_name(isa)), isa);
  EXPECT_EQ(parse_isa("AVX512"), Isa::avx512);
  EXPECT_EQ(parse_isa("avx512f"), Isa::avx512);
  EXPECT_EQ(parse_isa("avx2+fma"), Isa::avx2);
  EXPECT_EQ(parse_isa("sse4.2"), Isa::sse2);
  EXPECT_EQ(parse_isa("sse42"), Isa::sse2);
}

TEST(Isa, BaselineAlwaysSupported) {
  EXPECT_TRUE(isa_supported(Isa::scalar));
  EXPECT_TRUE(isa_supported(Isa::sse2));
  EXPECT_TRUE(isa_supported(best_supported_isa()));
}

TEST(Isa, CapLowersTheActiveIsaAndOpsRecordIt) {
  const std::vector<float> mean = {0.0f}, var = {1.0f};
  for (Isa cap : all_isas()) {
    IsaScope scope(cap);
    const Isa expected = cap < best_supported_isa() ? cap : best_supported_isa();
    EXPECT_EQ(active_isa(), expected);
    EXPECT_EQ(BatchNorm::create({.mean = mean, .var = var}).isa(), expected);
  }
}

TEST(Isa, OpKeepsItsIsaAfterTheCapChanges) {
  const std::vector<float> mean = {0.0f}, var = {1.0f};
  IsaScope outer(Isa::scalar);
  const BatchNorm bn = BatchNorm::create({.mean = mean, .var = var});
  IsaScope inner(Isa::avx512);
  EXPECT_EQ(bn.isa(), Isa::scalar);
}

// Run by CTest with BNRT_ISA set (see tests/CMakeLists.txt); skipped otherwise.
TEST(IsaEnvironment, CapComesFromBnrtIsa) {
  const char* env = std::getenv("BNRT_ISA");
  const char* expect = std::getenv("BNRT_TEST_EXPECT_ISA");
  if (env == nullptr || expect == nullptr) GTEST_SKIP() << "BNRT_ISA not set for this run";
  if (std::string_view(expect) == "error") {
    try {
      active_isa();
      ADD_FAILURE() << "BNRT_ISA=" << env << " should be rejected";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
      EXPECT_NE(std::string(e.what()).find(env), std::string::npos) << e.what();
    }
    const std::vector<float> mean = {0.0f}, var = {1.0f};
    EXPECT_THROW(BatchNorm::create({.mean = mean, .var = var}), Error);
    return;
  }
  const auto wanted = parse_isa(expect);
  ASSERT_TRUE(wanted.has_value());
  const Isa expected = *wanted < best_supported_isa() ? *wanted : best_supported_isa();
  EXPECT_EQ(active_isa(), expected);
}

}  // namespace
}  // namespace bnrt::testing
