// The one exception type bnrt throws, and the codes that classify it.
// Every public entry point validates its input and throws bnrt::Error with a message that names
// the operation, the argument and the bad value; kernels themselves never throw.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace bnrt {

/// What kind of mistake an Error reports. Stable: tests and callers may switch on it.
enum class ErrorCode {
  invalid_argument,    ///< a value outside its domain (e.g. clamp lo > hi, unknown ISA name)
  null_pointer,        ///< null data pointer for a tensor with a non-zero element count
  channel_mismatch,    ///< tensor channel count differs from the op's, or param lengths differ
  shape_mismatch,      ///< src / dst / residual disagree in rank, dims or layout
  invalid_statistics,  ///< negative / NaN / infinite variance, var + eps <= 0, non-finite params
  overflow,            ///< element or byte count does not fit the address space, or a folded
                       ///< value does not fit its storage type
  overlap,             ///< buffers partially overlap (exact aliasing dst == src is allowed)
  unsupported,         ///< a valid request this build or CPU cannot serve (e.g. forcing AVX-512)
  invalid_model,       ///< a model file that is not a well-formed ONNX model (bnrt::onnx)
  io_error,            ///< a file that cannot be read or written (bnrt::onnx)
};

/// Human-readable name of an ErrorCode, e.g. "invalid_statistics".
constexpr std::string_view error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument:
      return "invalid_argument";
    case ErrorCode::null_pointer:
      return "null_pointer";
    case ErrorCode::channel_mismatch:
      return "channel_mismatch";
    case ErrorCode::shape_mismatch:
      return "shape_mismatch";
    case ErrorCode::invalid_statistics:
      return "invalid_statistics";
    case ErrorCode::overflow:
      return "overflow";
    case ErrorCode::overlap:
      return "overlap";
    case ErrorCode::unsupported:
      return "unsupported";
    case ErrorCode::invalid_model:
      return "invalid_model";
    case ErrorCode::io_error:
      return "io_error";
  }
  return "unknown";
}

/// Thrown by every bnrt entry point on bad input. what() is a complete sentence naming the
/// operation, the argument and the offending value, e.g.
/// "batch_norm: var[7] = -0.5 is negative".
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}

  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace bnrt
