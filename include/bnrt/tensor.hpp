// Non-owning views of dense fp32 tensors and the memory layouts bnrt understands.
// A view is a pointer, the dims in the order the layout's name spells them, and the layout;
// it never owns or copies data, so building one is free.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <type_traits>

namespace bnrt {

/// Memory layout of a dense tensor. The letters spell the dims from outermost to innermost
/// (the last letter varies fastest in memory), and TensorView dims are given in that order:
/// an NHWC view of a 1x56x56x64 activation has dims {1, 56, 56, 64}.
/// `nc` is both channels-first and channels-last; the others come in both families.
enum class Layout {
  nc,     ///< (N, C): Linear / BatchNorm1d on 2-D input
  ncl,    ///< (N, C, L): BatchNorm1d on 3-D input
  nchw,   ///< (N, C, H, W): BatchNorm2d, PyTorch's default
  ncdhw,  ///< (N, C, D, H, W): BatchNorm3d
  nlc,    ///< (N, L, C): channels-last 1-D
  nhwc,   ///< (N, H, W, C): channels-last 2-D (TensorFlow, PyTorch channels_last)
  ndhwc,  ///< (N, D, H, W, C): channels-last 3-D
};

/// Number of dims a tensor of this layout has (2 to 5).
constexpr int layout_rank(Layout layout) noexcept {
  switch (layout) {
    case Layout::nc:
      return 2;
    case Layout::ncl:
    case Layout::nlc:
      return 3;
    case Layout::nchw:
    case Layout::nhwc:
      return 4;
    case Layout::ncdhw:
    case Layout::ndhwc:
      return 5;
  }
  return 0;
}

/// True when channels are the innermost (fastest varying) dim. `nc` counts as channels-last:
/// its rows of C values are exactly an NHWC tensor with H = W = 1.
constexpr bool layout_is_channels_last(Layout layout) noexcept {
  return layout == Layout::nc || layout == Layout::nlc || layout == Layout::nhwc ||
         layout == Layout::ndhwc;
}

/// Index of the channel dim within the view's dims.
constexpr int layout_channel_axis(Layout layout) noexcept {
  return layout_is_channels_last(layout) ? layout_rank(layout) - 1 : 1;
}

/// Lower-case name of a layout ("nhwc"), as used in error messages and benchmark output.
constexpr std::string_view layout_name(Layout layout) noexcept {
  switch (layout) {
    case Layout::nc:
      return "nc";
    case Layout::ncl:
      return "ncl";
    case Layout::nchw:
      return "nchw";
    case Layout::ncdhw:
      return "ncdhw";
    case Layout::nlc:
      return "nlc";
    case Layout::nhwc:
      return "nhwc";
    case Layout::ndhwc:
      return "ndhwc";
  }
  return "?";
}

/// Most dims any layout has.
inline constexpr int kMaxRank = 5;

/// A non-owning view of a dense tensor: `data` points at element 0, `dims` are in the order
/// the layout spells (see Layout). No strides: the tensor is contiguous. Validation (rank
/// matches layout, non-negative dims, no overflow, non-null data) happens when an op runs.
template <class T>
struct TensorView {
  T* data = nullptr;
  std::array<std::int64_t, kMaxRank> dims{};
  int rank = 0;
  Layout layout = Layout::nc;

  TensorView() = default;

  /// Dims beyond kMaxRank are recorded as a rank the op will reject with a clear message.
  TensorView(T* data_, std::initializer_list<std::int64_t> dims_, Layout layout_) noexcept
      : TensorView(data_, std::span<const std::int64_t>(dims_.begin(), dims_.size()), layout_) {}

  TensorView(T* data_, std::span<const std::int64_t> dims_, Layout layout_) noexcept
      : data(data_), rank(static_cast<int>(dims_.size())), layout(layout_) {
    for (std::size_t i = 0; i < dims_.size() && i < dims.size(); ++i) dims[i] = dims_[i];
  }

  /// A view of mutable data converts to a view of const data.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  TensorView(const TensorView<U>& other) noexcept  // NOLINT(google-explicit-constructor)
      : data(other.data), dims(other.dims), rank(other.rank), layout(other.layout) {}

  std::span<const std::int64_t> shape() const noexcept {
    return {dims.data(), static_cast<std::size_t>(rank < 0          ? 0
                                                  : rank > kMaxRank ? kMaxRank
                                                                    : rank)};
  }
};

using ConstTensor = TensorView<const float>;
using MutableTensor = TensorView<float>;

}  // namespace bnrt
