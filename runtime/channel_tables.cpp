// Building the per-channel pattern tables and choosing the copy per destination
// (see channel_tables.hpp for the layout and the 4K-aliasing reasoning).
#include "channel_tables.hpp"

#include <cstdint>
#include <cstring>
#include <numeric>

#include "kernels/affine_kernels.hpp"

namespace bnrt::detail {
namespace {

constexpr std::size_t kPageBytes = 4096;
/// Stall window measured on the dev machine (Zen 4): table loads 64 to ~400 bytes past a
/// pending store's address mod 4096 are slow; loads that coincide exactly or lie further
/// ahead are not. Rounded out to whole cache lines.
constexpr std::size_t kAliasWindowBegin = 64;
constexpr std::size_t kAliasWindowEnd = 448;
/// The second copy sits this far along mod 4096; it must exceed the window width and leave
/// the moved offsets clear of the window, which holds for row spacings of 1 KiB and up.
constexpr std::size_t kCopyOffsetBytes = 512;
constexpr std::size_t kMinSpacing = 1024;

std::size_t round_up(std::size_t value, std::size_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

/// table[j] = values[j % size] for j < entries, by whole copies (no division per entry: the
/// training op refills thousands of entries every run).
void fill_pattern(float* table, std::span<const float> values, std::size_t entries) {
  for (std::size_t j = 0; j < entries; j += values.size()) {
    const std::size_t n = entries - j < values.size() ? entries - j : values.size();
    std::memcpy(table + j, values.data(), n * sizeof(float));
  }
}

}  // namespace

ChannelTables::ChannelTables(std::span<const float> scale, std::span<const float> shift)
    : channels_(scale.size()) {
  period_ = channels_ * ((kernels::kMaxLanes + channels_ - 1) / channels_);
  const std::size_t entries = period_ + kernels::kMaxLanes;
  spacing_ = std::gcd(period_ * sizeof(float), kPageBytes);
  if (spacing_ < kMinSpacing) {
    // One compact copy: scale, then shift from the next cache line.
    const std::size_t stride = round_up(entries, kCacheLineBytes / sizeof(float));
    storage_ = AlignedBuffer<float>(2 * stride);
    scale_[0] = scale_[1] = storage_.data();
    shift_[0] = shift_[1] = storage_.data() + stride;
  } else {
    // Page-aligned; each table starts on a page so shift aliases exactly like scale, and the
    // second copy starts kCopyOffsetBytes into the page after the first copy.
    const std::size_t stride = round_up(entries * sizeof(float), kPageBytes) / sizeof(float);
    const std::size_t offset = kCopyOffsetBytes / sizeof(float);
    storage_ = AlignedBuffer<float>(4 * stride + offset, kPageBytes);
    scale_[0] = storage_.data();
    shift_[0] = storage_.data() + stride;
    scale_[1] = storage_.data() + 2 * stride + offset;
    shift_[1] = storage_.data() + 3 * stride + offset;
  }
  for (int copy = 0; copy < 2; ++copy) {
    fill_pattern(const_cast<float*>(scale_[copy]), scale, entries);
    fill_pattern(const_cast<float*>(shift_[copy]), shift, entries);
  }
}

void ChannelTables::assign(std::span<const float> scale, std::span<const float> shift) {
  if (scale.size() != channels_ || channels_ == 0) {
    *this = ChannelTables(scale, shift);
    return;
  }
  fresh_copy_ = -1;
  const std::size_t entries = period_ + kernels::kMaxLanes;
  for (int copy = 0; copy < 2; ++copy) {
    fill_pattern(const_cast<float*>(scale_[copy]), scale, entries);
    fill_pattern(const_cast<float*>(shift_[copy]), shift, entries);
  }
}

std::pair<const float*, const float*> ChannelTables::for_destination(
    const void* dst) const noexcept {
  if (fresh_copy_ >= 0) return {scale_[fresh_copy_], shift_[fresh_copy_]};
  if (spacing_ < kMinSpacing) return {scale_[0], shift_[0]};
  // spacing_ divides 4096, so unsigned wrap-around in the subtraction does not matter.
  const std::size_t offset =
      (reinterpret_cast<std::uintptr_t>(dst) - reinterpret_cast<std::uintptr_t>(scale_[0])) %
      spacing_;
  const int copy = offset >= kAliasWindowBegin && offset < kAliasWindowEnd ? 1 : 0;
  return {scale_[copy], shift_[copy]};
}

std::pair<float*, float*> ChannelTables::write_for_destination(const void* dst) noexcept {
  fresh_copy_ = -1;
  const auto [scale, shift] = for_destination(dst);
  fresh_copy_ = scale == scale_[0] ? 0 : 1;
  // The tables are this object's own storage; only the accessors hand them out as const.
  return {const_cast<float*>(scale), const_cast<float*>(shift)};
}

void ChannelTables::complete_copy() noexcept {
  const int copy = fresh_copy_ >= 0 ? fresh_copy_ : 0;
  const std::size_t entries = period_ + kernels::kMaxLanes;
  for (float* table : {const_cast<float*>(scale_[copy]), const_cast<float*>(shift_[copy])}) {
    // The first `channels_` entries again and again (n <= channels_ <= j: no overlap).
    for (std::size_t j = channels_; j < entries; j += channels_) {
      const std::size_t n = entries - j < channels_ ? entries - j : channels_;
      std::memcpy(table + j, table, n * sizeof(float));
    }
  }
}

}  // namespace bnrt::detail
