// What bnrt needs to know about the cache hierarchy, read once from the OS.
#pragma once

#include <cstddef>

namespace bnrt::detail {

/// Size in bytes of the last-level (L3) cache: read from
/// /sys/devices/system/cpu/cpu0/cache/index*/ (what lscpu reports), since sysconf's figure is
/// wrong in some VMs (the dev VM reports 320 MiB for its 32 MiB L3); 32 MiB if unknown.
std::size_t last_level_cache_bytes() noexcept;

}  // namespace bnrt::detail
