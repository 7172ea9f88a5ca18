// ONNX tensor data access (see tensor_data.hpp).
#include "tensor_data.hpp"

#include <cstring>

#include "../weight_format.hpp"
#include "bnrt/error.hpp"

namespace bnrt::onnx::detail {
namespace {

std::size_t element_size(std::int32_t data_type) {
  switch (data_type) {
    case pb::TensorProto::FLOAT:
      return 4;
    case pb::TensorProto::FLOAT16:
    case pb::TensorProto::BFLOAT16:
      return 2;
    case pb::TensorProto::DOUBLE:
      return 8;
    default:
      return 0;
  }
}

std::string tensor_label(const pb::TensorProto& tensor) {
  return "tensor '" + tensor.name() + "' (" + type_name(tensor.data_type()) + " " +
         dims_text(tensor.dims()) + ")";
}

[[noreturn]] void bad_tensor(const pb::TensorProto& tensor, const std::string& problem) {
  throw Error(ErrorCode::invalid_model, tensor_label(tensor) + ": " + problem);
}

/// How many elements the typed field holding this type's data has, or -1 if none is used.
std::int64_t typed_count(const pb::TensorProto& tensor) {
  switch (tensor.data_type()) {
    case pb::TensorProto::FLOAT:
      return tensor.float_data_size();
    case pb::TensorProto::FLOAT16:
    case pb::TensorProto::BFLOAT16:
      return tensor.int32_data_size();
    case pb::TensorProto::DOUBLE:
      return tensor.double_data_size();
    default:
      return 0;
  }
}

void check_storage(const pb::TensorProto& tensor, std::int64_t count) {
  const std::size_t size = element_size(tensor.data_type());
  if (size == 0) {
    bad_tensor(tensor, "element type is not float, float16, bfloat16 or double");
  }
  if (tensor.data_location() == pb::TensorProto::EXTERNAL) {
    bad_tensor(tensor, "external data was not loaded");
  }
  if (tensor.has_segment()) bad_tensor(tensor, "segmented tensors are not supported");
  if (tensor.has_raw_data()) {
    if (tensor.raw_data().size() != static_cast<std::size_t>(count) * size) {
      bad_tensor(tensor, "raw_data holds " + std::to_string(tensor.raw_data().size()) +
                             " bytes, its dims need " +
                             std::to_string(static_cast<std::size_t>(count) * size));
    }
    return;
  }
  if (typed_count(tensor) != count) {
    bad_tensor(tensor, "holds " + std::to_string(typed_count(tensor)) + " values, its dims need " +
                           std::to_string(count));
  }
}

}  // namespace

std::string type_name(std::int32_t data_type) {
  switch (data_type) {
    case pb::TensorProto::FLOAT:
      return "float";
    case pb::TensorProto::FLOAT16:
      return "float16";
    case pb::TensorProto::BFLOAT16:
      return "bfloat16";
    case pb::TensorProto::DOUBLE:
      return "double";
    default:
      return "type " + std::to_string(data_type);
  }
}

std::optional<WeightType> weight_type_of(std::int32_t data_type) {
  switch (data_type) {
    case pb::TensorProto::FLOAT:
      return WeightType::f32;
    case pb::TensorProto::FLOAT16:
      return WeightType::f16;
    case pb::TensorProto::BFLOAT16:
      return WeightType::bf16;
    default:
      return std::nullopt;
  }
}

std::string dims_text(const google::protobuf::RepeatedField<std::int64_t>& dims) {
  std::string text = "[";
  for (int i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

std::vector<std::int64_t> dims_of(const pb::TensorProto& tensor) {
  return {tensor.dims().begin(), tensor.dims().end()};
}

std::int64_t element_count(const pb::TensorProto& tensor) {
  std::int64_t count = 1;
  for (std::int64_t dim : tensor.dims()) {
    if (dim < 0) bad_tensor(tensor, "negative dim");
    if (__builtin_mul_overflow(count, dim, &count)) bad_tensor(tensor, "too many elements");
  }
  return count;
}

void check_float_tensor(const pb::TensorProto& tensor) {
  check_storage(tensor, element_count(tensor));
}

std::vector<double> read_values(const pb::TensorProto& tensor) {
  const std::int64_t count = element_count(tensor);
  check_storage(tensor, count);
  std::vector<double> values(static_cast<std::size_t>(count));
  const std::int32_t type = tensor.data_type();
  if (tensor.has_raw_data()) {
    const char* raw = tensor.raw_data().data();
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (type == pb::TensorProto::DOUBLE) {
        std::memcpy(&values[i], raw + i * 8, 8);
      } else {
        values[i] = bnrt::detail::load_weight(raw, *weight_type_of(type), i);
      }
    }
    return values;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    const int index = static_cast<int>(i);
    switch (type) {
      case pb::TensorProto::FLOAT:
        values[i] = tensor.float_data(index);
        break;
      case pb::TensorProto::DOUBLE:
        values[i] = tensor.double_data(index);
        break;
      default: {  // float16 / bfloat16: the bits in the low half of an int32
        const auto bits = static_cast<std::uint16_t>(tensor.int32_data(index));
        values[i] = bnrt::detail::load_weight(&bits, *weight_type_of(type), 0);
      }
    }
  }
  return values;
}

std::string& raw_data_of(pb::TensorProto& tensor) {
  const std::int64_t count = element_count(tensor);
  check_storage(tensor, count);
  if (!weight_type_of(tensor.data_type())) {
    bad_tensor(tensor, "only float, float16 and bfloat16 weights can be folded");
  }
  if (tensor.has_raw_data()) return *tensor.mutable_raw_data();
  std::string raw;
  if (tensor.data_type() == pb::TensorProto::FLOAT) {
    raw.resize(static_cast<std::size_t>(count) * 4);
    // An empty tensor has no float_data array at all (memcpy from null is undefined even for 0).
    if (!raw.empty()) std::memcpy(raw.data(), tensor.float_data().data(), raw.size());
    tensor.clear_float_data();
  } else {
    raw.resize(static_cast<std::size_t>(count) * 2);
    for (int i = 0; i < tensor.int32_data_size(); ++i) {
      const auto bits = static_cast<std::uint16_t>(tensor.int32_data(i));
      std::memcpy(raw.data() + 2 * i, &bits, 2);
    }
    tensor.clear_int32_data();
  }
  tensor.set_raw_data(std::move(raw));
  return *tensor.mutable_raw_data();
}

}  // namespace bnrt::onnx::detail
