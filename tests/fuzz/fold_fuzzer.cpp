// libFuzzer entry point over the model loader and the fold pass (built with clang and
// -DBNRT_FUZZ=ON; see .ci/run). Crashing inputs go to tests/fuzz/regressions/.
#include "fold_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bnrt::fuzz::fold_one_input(data, size);
  return 0;
}
