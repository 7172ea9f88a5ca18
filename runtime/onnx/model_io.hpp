// Model files: parsing (with the checks that tell an ONNX model from other bytes), external
// data read in at load and written back at save, and atomic saves.
#pragma once

#include <string>
#include <string_view>

#include "proto.hpp"

namespace bnrt::onnx::detail {

/// Reads `path` into `impl`, external data included. Throws Error (io_error, invalid_model).
void load_model_file(const std::string& path, Model::Impl& impl);

/// Parses `bytes` (named `source` in messages) into `impl`; external data is read from
/// `external_data_dir`, or refused when it is empty.
void parse_model_bytes(std::string_view bytes, const std::string& source,
                       const std::string& external_data_dir, Model::Impl& impl);

/// Writes `impl` to `path` atomically; large initializers go to `<path>.data` when the model
/// came with external data or would not fit protobuf's 2 GiB message limit. `impl` is the
/// same afterwards. Throws Error(io_error).
void save_model_file(Model::Impl& impl, const std::string& path);

}  // namespace bnrt::onnx::detail
