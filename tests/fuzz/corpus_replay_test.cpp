// Replays the fuzz seed corpus and every committed crash regression through the fuzz harness
// in the normal (and sanitizer) builds, so an input that once crashed bnrt stays fixed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "fold_harness.hpp"

#ifndef BNRT_FUZZ_DIR
#error "BNRT_FUZZ_DIR must point at tests/fuzz"
#endif

namespace {

namespace fs = std::filesystem;

TEST(FuzzCorpus, EveryInputIsAnsweredWithoutCrashing) {
  int replayed = 0;
  for (const char* folder : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(BNRT_FUZZ_DIR) / folder;
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      SCOPED_TRACE(entry.path().string());
      EXPECT_NO_THROW(bnrt::fuzz::fold_one_input(
          reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
      ++replayed;
    }
  }
  EXPECT_GE(replayed, 5) << "the seed corpus is missing";
}

}  // namespace
