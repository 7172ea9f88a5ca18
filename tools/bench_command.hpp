// `bnrt bench`: the batch-norm latency / bandwidth table over the ResNet-50 ladder.
#pragma once

#include <string>
#include <vector>

namespace bnrt::cli {

/// Runs `bnrt bench ARGS...`; returns the process exit code. Throws UsageError on bad args.
int bench_command(const std::vector<std::string>& args);

}  // namespace bnrt::cli
