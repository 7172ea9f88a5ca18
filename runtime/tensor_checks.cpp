// Tensor-view validation shared by every op (see tensor_checks.hpp).
#include "tensor_checks.hpp"

#include <cstdint>
#include <limits>
#include <string>

#include "errors.hpp"

namespace bnrt::detail {

std::string describe_shape(const ConstTensor& tensor) {
  std::string text = std::string(layout_name(tensor.layout)) + " {";
  for (std::size_t i = 0; i < tensor.shape().size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(tensor.dims[i]);
  }
  if (tensor.rank > kMaxRank) text += ", ...";
  return text + "}";
}

TensorGeometry check_tensor(std::string_view op, std::string_view name, const ConstTensor& tensor,
                            std::optional<std::size_t> expected_channels) {
  // Only failures spell the name out: a valid tensor (every run) builds no string.
  const auto label = [name] { return std::string(name); };
  const int rank = layout_rank(tensor.layout);
  if (rank == 0) {
    fail(ErrorCode::invalid_argument, op,
         label() + ".layout = " + std::to_string(static_cast<int>(tensor.layout)) +
             " is not a bnrt::Layout");
  }
  if (tensor.rank != rank) {
    fail(ErrorCode::shape_mismatch, op,
         label() + " has " + std::to_string(tensor.rank) + " dims but layout " +
             std::string(layout_name(tensor.layout)) + " needs " + std::to_string(rank));
  }
  // Elements must fit size_t and their bytes must fit ptrdiff_t, so pointer arithmetic over
  // the whole tensor is defined.
  constexpr std::uint64_t kMaxElements =
      static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max()) / sizeof(float);
  bool empty = false;
  for (int axis = 0; axis < rank; ++axis) {
    const std::int64_t dim = tensor.dims[axis];
    if (dim < 0) {
      fail(ErrorCode::invalid_argument, op,
           label() + ".dims[" + std::to_string(axis) + "] = " + std::to_string(dim) +
               " is negative (" + describe_shape(tensor) + ")");
    }
    empty = empty || dim == 0;
  }
  // An empty tensor is valid whatever its other dims are, so only a non-empty one can overflow.
  std::uint64_t elements = empty ? 0 : 1;
  for (int axis = 0; axis < rank && !empty; ++axis) {
    if (__builtin_mul_overflow(elements, static_cast<std::uint64_t>(tensor.dims[axis]),
                               &elements) ||
        elements > kMaxElements) {
      fail(ErrorCode::overflow, op,
           label() + " " + describe_shape(tensor) +
               " has more elements than fit in the address space");
    }
  }
  TensorGeometry geometry;
  geometry.elements = static_cast<std::size_t>(elements);
  geometry.channels_last = layout_is_channels_last(tensor.layout);
  geometry.channels = static_cast<std::size_t>(tensor.dims[layout_channel_axis(tensor.layout)]);
  if (!geometry.channels_last) {
    for (int axis = 2; axis < rank; ++axis)
      geometry.inner *= static_cast<std::size_t>(tensor.dims[axis]);
  }
  if (expected_channels && geometry.channels != *expected_channels) {
    fail(ErrorCode::channel_mismatch, op,
         label() + " " + describe_shape(tensor) + " has " + std::to_string(geometry.channels) +
             " channels but the op was created for " + std::to_string(*expected_channels));
  }
  check_data(op, name, tensor, geometry.elements);
  return geometry;
}

void check_data(std::string_view op, std::string_view name, const ConstTensor& tensor,
                std::size_t elements) {
  if (tensor.data == nullptr && elements > 0) {
    const std::string label(name);
    fail(ErrorCode::null_pointer, op,
         label + ".data is null but " + label + " " + describe_shape(tensor) + " has " +
             std::to_string(elements) + " elements");
  }
}

void check_same_shape(std::string_view op, std::string_view reference_name,
                      const ConstTensor& reference, std::string_view other_name,
                      const ConstTensor& other) {
  bool same = reference.layout == other.layout && reference.rank == other.rank;
  for (int axis = 0; same && axis < reference.rank; ++axis) {
    same = reference.dims[axis] == other.dims[axis];
  }
  if (!same) {
    fail(ErrorCode::shape_mismatch, op,
         std::string(other_name) + " is " + describe_shape(other) + " but " +
             std::string(reference_name) + " is " + describe_shape(reference));
  }
}

void check_no_partial_overlap(std::string_view op, std::string_view name_a, const void* a,
                              std::string_view name_b, const void* b, std::size_t bytes) {
  if (a == b || bytes == 0) return;
  const auto begin_a = reinterpret_cast<std::uintptr_t>(a);
  const auto begin_b = reinterpret_cast<std::uintptr_t>(b);
  if (begin_a < begin_b + bytes && begin_b < begin_a + bytes) {
    const bool a_first = begin_a < begin_b;
    const std::uintptr_t distance = a_first ? begin_b - begin_a : begin_a - begin_b;
    fail(ErrorCode::overlap, op,
         std::string(name_a) + " and " + std::string(name_b) + " overlap partially (" +
             std::string(a_first ? name_b : name_a) + " starts " + std::to_string(distance) +
             " bytes into " + std::string(a_first ? name_a : name_b) + ", which is " +
             std::to_string(bytes) + " bytes long); only exact aliasing is allowed");
  }
}

}  // namespace bnrt::detail
