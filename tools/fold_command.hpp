// `bnrt fold`: fold every BatchNormalization of an ONNX model into its neighbour, with a report.
#pragma once

#include <string>
#include <vector>

namespace bnrt::cli {

/// Runs `bnrt fold ARGS...`; returns the process exit code. Throws UsageError on bad args and
/// bnrt::Error on an invalid model or an I/O failure (no output file is left either way).
int fold_command(const std::vector<std::string>& args);

}  // namespace bnrt::cli
