// Helpers that build bnrt::Error messages: one place decides how values are printed, so every
// message reads the same ("batch_norm: var[7] = -0.5 is negative").
#pragma once

#include <string>
#include <string_view>

#include "bnrt/error.hpp"

namespace bnrt::detail {

/// Shortest text that round-trips the value through float ("-0.5", "1e-05", "nan", "inf").
std::string format_value(double value);

/// "name[index]" as used in messages about one entry of a per-channel array.
std::string indexed(std::string_view name, std::size_t index);

/// Throws Error(code, op + ": " + message).
[[noreturn]] void fail(ErrorCode code, std::string_view op, const std::string& message);

}  // namespace bnrt::detail
