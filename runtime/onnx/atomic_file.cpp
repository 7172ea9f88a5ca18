// Temporary-file-and-rename writes (see atomic_file.hpp).
#include "atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "bnrt/error.hpp"

namespace bnrt::onnx::detail {
namespace {

[[noreturn]] void io_failure(const std::string& what, const std::string& path) {
  throw Error(ErrorCode::io_error, what + " '" + path + "': " + std::strerror(errno));
}

/// The process umask, read without changing it (umask() itself sets it, which would race
/// with other threads creating files); 022 when /proc does not say.
mode_t current_umask() {
  std::FILE* status = std::fopen("/proc/self/status", "r");
  unsigned mask = 022;
  if (status != nullptr) {
    char line[256];
    while (std::fgets(line, sizeof line, status) != nullptr) {
      if (std::sscanf(line, "Umask: %o", &mask) == 1) break;
    }
    std::fclose(status);
  }
  return static_cast<mode_t>(mask);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  std::vector<char> name(path_.begin(), path_.end());
  const char suffix[] = ".tmp-XXXXXX";
  name.insert(name.end(), suffix, suffix + sizeof suffix);  // with the terminating zero
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) io_failure("cannot create a temporary file for", path_);
  temporary_.assign(name.data());
  // mkstemp makes the file 0600; a model file should get the usual umask-based mode.
  ::fchmod(fd_, 0666 & ~current_umask());
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temporary_.empty()) ::unlink(temporary_.c_str());
}

void AtomicFile::write(const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd_, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      io_failure("cannot write", temporary_);
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) io_failure("cannot flush", temporary_);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) io_failure("cannot close", temporary_);
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) io_failure("cannot rename onto", path_);
  committed_ = true;
}

}  // namespace bnrt::onnx::detail
