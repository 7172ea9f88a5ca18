// Last-level cache size from sysfs (see cache_info.hpp).
#include "cache_info.hpp"

#include <unistd.h>

#include <fstream>
#include <string>

namespace bnrt::detail {
namespace {

constexpr std::size_t kDefaultLastLevelCacheBytes = std::size_t{32} << 20;
constexpr std::size_t kDefaultL1DataCacheBytes = std::size_t{32} << 10;

/// Parses sysfs cache sizes such as "32768K" or "1M"; 0 if unreadable.
std::size_t parse_cache_size(const std::string& text) {
  std::size_t value = 0;
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9')
    value = value * 10 + (text[i++] - '0');
  if (i < text.size() && (text[i] == 'K' || text[i] == 'k')) value <<= 10;
  if (i < text.size() && (text[i] == 'M' || text[i] == 'm')) value <<= 20;
  return value;
}

std::size_t read_last_level_cache_bytes() {
  std::size_t best_level = 0;
  std::size_t best_size = 0;
  for (int index = 0; index < 8; ++index) {
    const std::string dir =
        "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream level_file(dir + "level");
    std::ifstream size_file(dir + "size");
    std::size_t level = 0;
    std::string size_text;
    if (!(level_file >> level) || !(size_file >> size_text)) continue;
    const std::size_t size = parse_cache_size(size_text);
    if (level >= best_level && size > 0) {
      best_level = level;
      best_size = size;
    }
  }
  return best_size > 0 ? best_size : kDefaultLastLevelCacheBytes;
}

}  // namespace

std::size_t last_level_cache_bytes() noexcept {
  static const std::size_t bytes = [] {
    try {
      return read_last_level_cache_bytes();
    } catch (...) {
      return kDefaultLastLevelCacheBytes;
    }
  }();
  return bytes;
}

std::size_t l1_data_cache_bytes() noexcept {
  static const std::size_t bytes = [] {
    const long reported = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    // 8 KiB to 1 MiB covers every x86 core; anything else is a VM's or libc's placeholder.
    const bool plausible = reported >= (8L << 10) && reported <= (1L << 20);
    return plausible ? static_cast<std::size_t>(reported) : kDefaultL1DataCacheBytes;
  }();
  return bytes;
}

}  // namespace bnrt::detail
