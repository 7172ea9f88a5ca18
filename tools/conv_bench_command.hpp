// `bnrt bench conv`: the fused Conv + BN + ReLU table (bnrt vs the unfused chain vs oneDNN).
#pragma once

#include <string>
#include <vector>

namespace bnrt::cli {

/// Runs `bnrt bench conv ARGS...`; returns the process exit code. Throws UsageError on bad args.
int conv_bench_command(const std::vector<std::string>& args);

}  // namespace bnrt::cli
