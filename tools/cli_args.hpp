// Tiny helpers for the bnrt CLI's argument parsing: comma lists and numbers, with usage
// errors reported as exceptions the main() turns into exit code 1.
#pragma once

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bnrt/tensor.hpp"

namespace bnrt::cli {

/// A bad command line: printed with the usage, exit code 1.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::string item;
  for (char ch : text) {
    if (ch == ',') {
      if (!item.empty()) items.push_back(item);
      item.clear();
    } else {
      item.push_back(ch);
    }
  }
  if (!item.empty()) items.push_back(item);
  return items;
}

inline long parse_integer(const std::string& option, const std::string& text, long min, long max) {
  std::size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < min || value > max) {
    throw UsageError(option + " expects an integer in [" + std::to_string(min) + ", " +
                     std::to_string(max) + "], got '" + text + "'");
  }
  return value;
}

inline double parse_number(const std::string& option, const std::string& text, double min) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !(value >= min)) {
    throw UsageError(option + " expects a number >= " + std::to_string(min) + ", got '" + text +
                     "'");
  }
  return value;
}

/// "--threads 1,2": each item an integer in [min, max].
inline std::vector<int> parse_int_list(const std::string& option, const std::string& text, int min,
                                       int max) {
  std::vector<int> values;
  for (const auto& item : split_list(text)) {
    values.push_back(static_cast<int>(parse_integer(option, item, min, max)));
  }
  return values;
}

/// "--layouts nchw,nhwc": the 4-D layouts the benchmarks cover, in the order given.
inline std::vector<Layout> parse_layout_list(const std::string& option, const std::string& text) {
  std::vector<Layout> layouts;
  for (const auto& item : split_list(text)) {
    if (item == "nchw") {
      layouts.push_back(Layout::nchw);
    } else if (item == "nhwc") {
      layouts.push_back(Layout::nhwc);
    } else {
      throw UsageError(option + " takes nchw and/or nhwc, got '" + item + "'");
    }
  }
  return layouts;
}

/// Walks a subcommand's arguments left to right; options that take values pull them with
/// value() or operand(), so the parsers are a chain of `if (walker.arg() == ...)`.
class ArgWalker {
 public:
  explicit ArgWalker(const std::vector<std::string>& args, std::size_t first = 0)
      : args_(args), next_(first) {}

  /// Moves to the next argument; false when there is none. --help and -h end the parse (an
  /// empty UsageError, which parse_or_print_help turns into the usage text).
  bool next() {
    if (next_ >= args_.size()) return false;
    current_ = next_++;
    if (arg() == "--help" || arg() == "-h") throw UsageError("");
    return true;
  }
  const std::string& arg() const { return args_[current_]; }
  /// The argument after the current option, consumed; a usage error when there is none.
  const std::string& value() {
    if (next_ >= args_.size()) throw UsageError(arg() + " needs a value");
    return args_[next_++];
  }
  /// The next argument when it is not an option (does not start with '-'), consumed.
  const std::string* operand() {
    if (next_ >= args_.size() || args_[next_].rfind("-", 0) == 0) return nullptr;
    return &args_[next_++];
  }

 private:
  const std::vector<std::string>& args_;
  std::size_t next_ = 0;
  std::size_t current_ = 0;
};

/// The benchmark commands' shared timing options, --rounds N and --sample-ms MS, into any
/// struct with `rounds` and `sample_seconds`. True when the current argument was one of them.
template <class Timing>
bool parse_timing_option(ArgWalker& walker, Timing& timing) {
  if (walker.arg() == "--rounds") {
    timing.rounds = static_cast<int>(parse_integer("--rounds", walker.value(), 1, 1000));
  } else if (walker.arg() == "--sample-ms") {
    timing.sample_seconds = parse_number("--sample-ms", walker.value(), 0.01) / 1000.0;
  } else {
    return false;
  }
  return true;
}

/// Runs a subcommand's option parser. `--help` (thrown as an empty UsageError) prints `usage`
/// and gives nullopt (exit 0); any other usage error is rethrown naming the command's --help.
template <class Parse>
auto parse_or_print_help(Parse parse, const char* usage, const std::string& command)
    -> std::optional<decltype(parse())> {
  try {
    return parse();
  } catch (const UsageError& e) {
    if (std::string_view(e.what()).empty()) {
      std::puts(usage);
      return std::nullopt;
    }
    throw UsageError(std::string(e.what()) + " (see 'bnrt " + command + " --help')");
  }
}

}  // namespace bnrt::cli
