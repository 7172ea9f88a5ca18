// The body the fuzzer runs on every input, shared with the regression test that replays the
// committed corpus: parse the bytes as a model, fold, check, serialize. bnrt::Error is the
// expected answer to bad input; anything else escaping (or a sanitizer report) is a bug.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bnrt::fuzz {

void fold_one_input(const std::uint8_t* data, std::size_t size);

}  // namespace bnrt::fuzz
