// One line describing the machine a benchmark ran on, for the header of every `bnrt bench` table.
#pragma once

#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace bnrt::cli {

/// The value of the first /proc/cpuinfo line whose key is exactly `key` ("" if none).
inline std::string cpuinfo_value(const std::string& key) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    if (name == key) return colon + 2 <= line.size() ? line.substr(colon + 2) : "";
  }
  return "";
}

/// A cache size as sysfs spells it ("48K"), from sysconf; "" when unknown.
inline std::string cache_size(int sysconf_name) {
  const long bytes = sysconf(sysconf_name);
  return bytes > 0 ? std::to_string(bytes / 1024) + "K" : "";
}

/// "AMD EPYC (family 26, model 2), 2 CPUs, L1d 48K, L2 1024K, L3 32768K": the CPU family and
/// model tell microarchitectures apart that share a marketing name (the dev VM went from Zen 4
/// to Zen 5 under "AMD EPYC"), and the cache sizes set bnrt's tiling and store choices. L3 from
/// sysfs only (sysconf reports a whole socket's, or worse, in VMs).
inline std::string describe_machine() {
  std::string model = cpuinfo_value("model name");
  if (model.empty()) model = "unknown CPU";
  const std::string family = cpuinfo_value("cpu family");
  const std::string number = cpuinfo_value("model");
  if (!family.empty()) model += " (family " + family + ", model " + number + ")";
  std::string text = model + ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs";
  const std::string l1d = cache_size(_SC_LEVEL1_DCACHE_SIZE);
  const std::string l2 = cache_size(_SC_LEVEL2_CACHE_SIZE);
  std::string l3;
  std::ifstream(std::string("/sys/devices/system/cpu/cpu0/cache/index3/size")) >> l3;
  if (!l1d.empty()) text += ", L1d " + l1d;
  if (!l2.empty()) text += ", L2 " + l2;
  if (!l3.empty()) text += ", L3 " + l3;
  return text;
}

}  // namespace bnrt::cli
