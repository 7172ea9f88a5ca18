// Reading ONNX tensors (initializers, Constant values) as numbers, and normalizing them to
// raw_data so folded weights can be written in place. Float types only: float, float16,
// bfloat16 and double, the types BatchNormalization and its neighbours use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto.hpp"

namespace bnrt::onnx::detail {

/// "float", "float16", "bfloat16", "double", or "type <n>" for the others.
std::string type_name(std::int32_t data_type);
/// The fold library's storage type for an ONNX type, when it has one.
std::optional<WeightType> weight_type_of(std::int32_t data_type);
/// "[4, 3, 3, 3]".
std::string dims_text(const google::protobuf::RepeatedField<std::int64_t>& dims);
std::vector<std::int64_t> dims_of(const pb::TensorProto& tensor);

/// Number of elements dims describe. Throws Error(invalid_model) naming the tensor on a
/// negative dim or an overflowing product.
std::int64_t element_count(const pb::TensorProto& tensor);

/// Throws Error(invalid_model) naming the tensor unless it is a float-type tensor whose data
/// holds dims' element count (what read_values and raw_data_of need).
void check_float_tensor(const pb::TensorProto& tensor);

/// The tensor's values, exactly, as double. Throws Error(invalid_model) naming the tensor
/// when its type is not a float type or its data does not hold dims' element count.
std::vector<double> read_values(const pb::TensorProto& tensor);

/// Moves the tensor's data into raw_data (little-endian, as ONNX stores it) if it was in a
/// typed field, validates its size and returns raw_data, ready to be folded in place.
/// Float, float16 and bfloat16 only (Error(invalid_model) otherwise).
std::string& raw_data_of(pb::TensorProto& tensor);

}  // namespace bnrt::onnx::detail
