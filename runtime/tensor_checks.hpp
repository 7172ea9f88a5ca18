// Validation of tensor views at an op's run() boundary, and the geometry kernels need.
// Everything here is O(rank): cheap enough to run on every call.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "bnrt/tensor.hpp"

namespace bnrt::detail {

/// What a per-channel kernel needs to know about a validated tensor.
struct TensorGeometry {
  std::size_t elements = 0;  ///< product of all dims
  std::size_t channels = 0;  ///< dims[channel axis]
  std::size_t inner = 1;     ///< channels-first: product of spatial dims; channels-last: 1
  bool channels_last = false;
};

/// Checks rank against layout, non-negative dims, no element/byte overflow, non-null data when
/// there are elements, and (when given) the channel count. `name` ("src", "dst", ...) prefixes
/// messages.
TensorGeometry check_tensor(std::string_view op, std::string_view name, const ConstTensor& tensor,
                            std::optional<std::size_t> expected_channels);

/// The null-data part of check_tensor alone, for a tensor of `elements` elements whose shape
/// is already known to be valid (the same as a checked one).
void check_data(std::string_view op, std::string_view name, const ConstTensor& tensor,
                std::size_t elements);

/// Checks that `other` has the layout and dims of `reference` (`reference` already validated).
void check_same_shape(std::string_view op, std::string_view reference_name,
                      const ConstTensor& reference, std::string_view other_name,
                      const ConstTensor& other);

/// Rejects buffers of `bytes` bytes that overlap without being the very same buffer.
void check_no_partial_overlap(std::string_view op, std::string_view name_a, const void* a,
                              std::string_view name_b, const void* b, std::size_t bytes);

/// "nchw {2, 5, 3, 3}", for messages.
std::string describe_shape(const ConstTensor& tensor);

}  // namespace bnrt::detail
