// A fixed-size, zero-initialised array with a chosen alignment (a cache line by default):
// packed per-channel tables live in these so vector loads from them never split a cache line.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace bnrt::detail {

inline constexpr std::size_t kCacheLineBytes = 64;

template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  /// `alignment` must be a power of two, at least alignof(T).
  explicit AlignedBuffer(std::size_t size, std::size_t alignment = kCacheLineBytes)
      : data_(static_cast<T*>(::operator new[](size * sizeof(T), std::align_val_t{alignment})),
              Free{alignment}),
        size_(size) {
    for (std::size_t i = 0; i < size; ++i) data_.get()[i] = T{};
  }

  T* data() noexcept { return data_.get(); }
  const T* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  T& operator[](std::size_t i) noexcept { return data_.get()[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_.get()[i]; }

 private:
  struct Free {
    std::size_t alignment = kCacheLineBytes;
    void operator()(T* p) const noexcept { ::operator delete[](p, std::align_val_t{alignment}); }
  };
  std::unique_ptr<T, Free> data_;
  std::size_t size_ = 0;
};

}  // namespace bnrt::detail
