// Per-channel scale/shift tables laid out for the affine kernels, including a second copy that
// sidesteps 4K aliasing between the channels-last kernel's table loads and its output stores.
#pragma once

#include <cstddef>
#include <span>
#include <utility>

#include "aligned_buffer.hpp"

namespace bnrt::detail {

/// Scale and shift, each as a repeating pattern: entry j holds channel j % channels, for
/// j < period() + kMaxLanes, where period() is the smallest multiple of the channel count that
/// is at least kMaxLanes (one vector step then never wraps the pattern more than once, and a
/// vector load starting anywhere in [0, period) stays inside the table).
///
/// Why two copies: a load whose address matches a still-pending store in bits [11:0] waits for
/// it (4K aliasing). Walking channels-last data, the table load for element i and the stores
/// to dst a few vectors back differ by (dst - table) + 4 * i - 4 * (i mod period), so when a row
/// (period floats) spans a multiple of 1 KiB that difference takes only a few values mod 4096,
/// and if one falls 64..448 bytes past a store the stall repeats on every vector: -10 to -15%
/// measured on NHWC 1x14x14x1024. A second copy of the tables 512 bytes further along mod 4096
/// moves those values by 512, out of the window, so one of the two copies is always clear.
class ChannelTables {
 public:
  ChannelTables() = default;
  ChannelTables(std::span<const float> scale, std::span<const float> shift);

  /// Replaces the values; reuses the storage when the channel count is unchanged (the training
  /// op refills its tables every run without allocating).
  void assign(std::span<const float> scale, std::span<const float> shift);

  std::size_t channels() const noexcept { return channels_; }
  std::size_t period() const noexcept { return period_; }
  /// The per-channel values (the first `channels` entries of the primary copy).
  std::span<const float> scale() const noexcept { return {scale_[current()], channels_}; }
  std::span<const float> shift() const noexcept { return {shift_[current()], channels_}; }

  /// The (scale, shift) tables whose loads will not alias stores into `dst` (after
  /// write_for_destination, the one fresh copy for any destination).
  std::pair<const float*, const float*> for_destination(const void* dst) const noexcept;

  /// For values computed anew on every run (the training op): the first channels() entries
  /// of the copy for_destination(dst) picks, to write scale and shift straight into, instead
  /// of into separate arrays and then both copies. Call complete_copy() once they are written;
  /// the other copy is stale until the next assign().
  std::pair<float*, float*> write_for_destination(const void* dst) noexcept;
  /// Repeats the written channels through the rest of the fresh copy's pattern.
  void complete_copy() noexcept;

 private:
  std::size_t channels_ = 0;
  std::size_t period_ = 0;
  AlignedBuffer<float> storage_;
  const float* scale_[2] = {nullptr, nullptr};
  const float* shift_[2] = {nullptr, nullptr};
  /// Spacing of the row offsets mod 4096 (gcd of the row bytes and 4096); copies are only
  /// useful when it is at least kMinSpacing, otherwise both copies are the same.
  std::size_t spacing_ = 0;
  /// The only up-to-date copy after write_for_destination; -1 while both are.
  int fresh_copy_ = -1;
  int current() const noexcept { return fresh_copy_ >= 0 ? fresh_copy_ : 0; }
};

}  // namespace bnrt::detail
