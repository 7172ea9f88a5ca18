// Message formatting for bnrt::Error (see errors.hpp).
#include "errors.hpp"

#include <cmath>
#include <cstdio>

namespace bnrt::detail {

std::string format_value(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[32];
  // %.9g round-trips any float; most statistics are floats, so this keeps messages short.
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

std::string indexed(std::string_view name, std::size_t index) {
  return std::string(name) + "[" + std::to_string(index) + "]";
}

void fail(ErrorCode code, std::string_view op, const std::string& message) {
  throw Error(code, std::string(op) + ": " + message);
}

}  // namespace bnrt::detail
