// ONNX's protobuf types for bnrt::onnx's internals, and what a Model holds. Only runtime/onnx
// and white-box tests include this; the public header stays free of protobuf.
#pragma once

#include <onnx/onnx_pb.h>

#include <bit>
#include <set>
#include <string>

#include "bnrt/onnx.hpp"

namespace bnrt::onnx {

namespace pb = ::onnx;

// raw_data is little-endian by the ONNX spec; bnrt reads and writes it in place.
static_assert(std::endian::native == std::endian::little,
              "bnrt::onnx assumes a little-endian host");

struct Model::Impl {
  pb::ModelProto proto;
  /// Initializers that were stored as external data when loaded (by name): saved the same way.
  std::set<std::string> external_tensors;
};

}  // namespace bnrt::onnx
