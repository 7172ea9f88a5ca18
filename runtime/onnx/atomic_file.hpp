// Writing a file so that readers see either the old file or the complete new one, never a
// part: write a temporary file in the same folder, flush it to disk, rename it into place.
#pragma once

#include <cstddef>
#include <string>

namespace bnrt::onnx::detail {

class AtomicFile {
 public:
  /// Creates `<path>.tmp-XXXXXX` next to `path`. Throws Error(io_error).
  explicit AtomicFile(std::string path);
  /// Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  int fd() const noexcept { return fd_; }
  const std::string& path() const noexcept { return path_; }
  void write(const void* data, std::size_t size);
  /// fsync, close, rename over `path`. Throws Error(io_error); the target is then untouched.
  void commit();

 private:
  std::string path_, temporary_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace bnrt::onnx::detail
