// What bnrt needs to know about the cache hierarchy, read once from the OS.
#pragma once

#include <cstddef>

namespace bnrt::detail {

/// Size in bytes of the last-level (L3) cache: read from
/// /sys/devices/system/cpu/cpu0/cache/index*/ (what lscpu reports), since sysconf's figure is
/// wrong in some VMs (the dev VM reports 320 MiB for its 32 MiB L3); 32 MiB if unknown.
std::size_t last_level_cache_bytes() noexcept;

/// Size in bytes of one core's L1 data cache, from sysconf (glibc reads it from CPUID, which
/// VMs pass through: 48 KiB on the Zen 5 dev VM, 32 KiB on Zen 4 and most other x86 cores);
/// 32 KiB if unknown or implausible.
std::size_t l1_data_cache_bytes() noexcept;

}  // namespace bnrt::detail
