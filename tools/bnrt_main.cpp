// The `bnrt` command-line tool: one binary, one subcommand per job.
// Exit codes: 0 success, 1 usage error, 2 invalid input (bad model or statistics) or I/O error.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "bench_command.hpp"
#ifdef BNRT_WITH_ONNX
#include "fold_command.hpp"
#endif
#include "bnrt/error.hpp"
#include "bnrt/isa.hpp"
#include "cli_args.hpp"

namespace {

constexpr const char* kUsage = R"(usage: bnrt <command> [options]

commands:
  fold       fold BatchNormalization into neighbouring layers of an ONNX model, with a report
  bench      batch-norm latency and bandwidth over the ResNet-50 ladder, vs memcpy / naive / oneDNN;
             `bench conv`: fused Conv + BN + ReLU vs the unfused chain and oneDNN
  version    print the bnrt version and the instruction set it would use here

Run 'bnrt <command> --help' for a command's options.
Exit codes: 0 success, 1 usage error, 2 invalid input or I/O error.)";

int version_command() {
  std::printf("bnrt %s (isa: best %s, active %s)\n", BNRT_VERSION,
              std::string(bnrt::isa_name(bnrt::best_supported_isa())).c_str(),
              std::string(bnrt::isa_name(bnrt::active_isa())).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::puts(kUsage);
    return args.empty() ? 1 : 0;
  }
  const std::string& command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    if (command == "bench") return bnrt::cli::bench_command(rest);
#ifdef BNRT_WITH_ONNX
    if (command == "fold") return bnrt::cli::fold_command(rest);
#endif
    if (command == "version" || command == "--version") return version_command();
    throw bnrt::cli::UsageError("unknown command '" + command + "' (see 'bnrt --help')");
  } catch (const bnrt::cli::UsageError& e) {
    std::fprintf(stderr, "bnrt %s: %s\n", command.c_str(), e.what());
    return 1;
  } catch (const bnrt::Error& e) {
    std::fprintf(stderr, "bnrt %s: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bnrt %s: error: %s\n", command.c_str(), e.what());
    return 2;
  }
}
