// Test buffers placed at a chosen misalignment, with canary bytes around them to catch a kernel
// writing outside its tensor. Element access goes through memcpy, so even a buffer that is not
// float-aligned is read and written without undefined behaviour in the test itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace bnrt::testing {

class TestBuffer {
 public:
  static constexpr unsigned char kCanary = 0xA5;
  static constexpr std::size_t kGuardBytes = 64;

  /// `count` floats starting `misalign_bytes` past a 64-byte boundary, after a 64-byte canary
  /// guard. With `guard_after` false the allocation ends exactly at the last float, so
  /// AddressSanitizer flags any access past the end; with it true, a canary guard follows the
  /// data and catches stray writes in any build.
  TestBuffer(std::size_t count, std::size_t misalign_bytes, bool guard_after = true)
      : count_(count),
        offset_(kGuardBytes + misalign_bytes),
        bytes_(offset_ + count * sizeof(float) + (guard_after ? kGuardBytes : 0)),
        storage_(static_cast<unsigned char*>(::operator new (bytes_, std::align_val_t{64}))) {
    std::memset(storage_.get(), kCanary, bytes_);
  }

  float* data() noexcept { return reinterpret_cast<float*>(storage_.get() + offset_); }
  std::size_t size() const noexcept { return count_; }

  float get(std::size_t i) const noexcept {
    float value;
    std::memcpy(&value, storage_.get() + offset_ + i * sizeof(float), sizeof value);
    return value;
  }
  void fill(const std::vector<float>& values) noexcept {
    std::memcpy(storage_.get() + offset_, values.data(), values.size() * sizeof(float));
  }
  std::vector<float> values() const {
    std::vector<float> v(count_);
    if (count_ > 0) std::memcpy(v.data(), storage_.get() + offset_, count_ * sizeof(float));
    return v;
  }

  /// True when no byte outside the data changed.
  bool guards_intact() const noexcept {
    for (std::size_t i = 0; i < bytes_; ++i) {
      const bool inside = i >= offset_ && i < offset_ + count_ * sizeof(float);
      if (!inside && storage_.get()[i] != kCanary) return false;
    }
    return true;
  }

 private:
  struct Free {
    void operator()(unsigned char* p) const noexcept {
      ::operator delete (p, std::align_val_t{64});
    }
  };
  std::size_t count_;
  std::size_t offset_;
  std::size_t bytes_;
  std::unique_ptr<unsigned char, Free> storage_;
};

}  // namespace bnrt::testing
