// One line describing the machine a benchmark ran on, for the header of every `bnrt bench` table.
#pragma once

#include <fstream>
#include <string>
#include <thread>

namespace bnrt::cli {

/// "AMD EPYC ..., 2 CPUs, L3 32768K", from /proc/cpuinfo and sysfs.
inline std::string describe_machine() {
  std::string model = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::string l3;
  std::ifstream(std::string("/sys/devices/system/cpu/cpu0/cache/index3/size")) >> l3;
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs" +
         (l3.empty() ? "" : ", L3 " + l3);
}

}  // namespace bnrt::cli
