// Reading the PyTorch fixture files in tests/fixtures (written by tools/make_torch_*.py): one
// `key value...` record per line, `#` comment lines, "-" for an absent tensor.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#ifndef BNRT_FIXTURE_DIR
#error "BNRT_FIXTURE_DIR must point at tests/fixtures"
#endif

namespace bnrt::testing {

/// The rest of a record's values; stops at "-" (an absent tensor: returns what came before,
/// normally nothing). Floats parse with strtof: the files print them with 9 significant
/// digits, which round-trip exactly.
template <class T>
std::vector<T> parse_values(std::istringstream& line) {
  std::vector<T> values;
  std::string token;
  while (line >> token) {
    if (token == "-") break;
    if constexpr (std::is_same_v<T, float>) {
      values.push_back(std::strtof(token.c_str(), nullptr));
    } else if constexpr (std::is_integral_v<T>) {
      values.push_back(static_cast<T>(std::strtoll(token.c_str(), nullptr, 10)));
    } else {
      values.push_back(std::strtod(token.c_str(), nullptr));
    }
  }
  return values;
}

/// Calls on_record(key, rest_of_line) for every record of tests/fixtures/`file_name`.
template <class OnRecord>
void read_fixture(const std::string& file_name, OnRecord&& on_record) {
  const std::string path = std::string(BNRT_FIXTURE_DIR) + "/" + file_name;
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot open " + path);
  std::string raw;
  while (std::getline(file, raw)) {
    if (raw.empty() || raw[0] == '#') continue;
    std::istringstream line(raw);
    std::string key;
    line >> key;
    on_record(key, line);
  }
}

}  // namespace bnrt::testing
