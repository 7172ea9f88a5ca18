// `bnrt fold IN.onnx -o OUT.onnx`: load, fold every foldable BatchNormalization (bnrt::onnx),
// check the result with the ONNX checker, optionally verify it numerically against the
// original, and only then write it (atomically). The report goes to stderr, and as JSON to
// --report. The input file is never written.
#include "fold_command.hpp"

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string_view>

#include "bnrt/error.hpp"
#include "bnrt/onnx.hpp"
#include "cli_args.hpp"

namespace bnrt::cli {
namespace {

constexpr const char* kUsage = R"(usage: bnrt fold IN.onnx -o OUT.onnx [options]

Folds every BatchNormalization it can into the Conv / ConvTranspose / Gemm / MatMul before it
or, where exact, the Gemm / unpadded Conv after it; says per node what it did or why not.

options:
  -o, --output FILE     where to write the folded model (FILE.data too, if IN had external data)
  --report FILE.json    write the report as JSON (a summary always goes to stderr)
  --verify              run original and folded model on random inputs in float64 and compare;
                        the output is written only if they agree
  --dry-run             do everything but write the model
  --keep NODE [NODE..]  leave these BatchNormalization nodes (names; also comma lists)
  --no-consumers        fold into producers only
  --seed N              random inputs for --verify (default 20261121)
  --quiet               no summary on stderr

exit codes: 0 success, 1 usage error, 2 invalid model, failed check or verification, I/O error.)";

struct Options {
  std::string input, output, report;
  bool verify = false, dry_run = false, quiet = false;
  onnx::FoldOptions fold;
  onnx::VerifyOptions verify_options;
};

Options parse_options(const std::vector<std::string>& args) {
  Options options;
  for (ArgWalker walker(args); walker.next();) {
    const std::string& arg = walker.arg();
    if (arg == "-o" || arg == "--output") {
      options.output = walker.value();
    } else if (arg == "--report") {
      options.report = walker.value();
    } else if (arg == "--verify") {
      options.verify = true;
    } else if (arg == "--dry-run") {
      options.dry_run = true;
    } else if (arg == "--quiet") {
      options.quiet = true;
    } else if (arg == "--no-consumers") {
      options.fold.into_consumers = false;
    } else if (arg == "--seed") {
      options.verify_options.seed =
          static_cast<std::uint64_t>(parse_integer("--seed", walker.value(), 0, 1L << 62));
    } else if (arg == "--keep") {
      // Names up to the next option.
      const std::string* names = walker.operand();
      if (names == nullptr) throw UsageError("--keep needs at least one node name");
      for (; names != nullptr; names = walker.operand()) {
        for (const auto& name : split_list(*names)) options.fold.keep.push_back(name);
      }
    } else if (arg.rfind("-", 0) == 0 && arg != "-") {
      throw UsageError("unknown option '" + arg + "'");
    } else if (options.input.empty()) {
      options.input = arg;
    } else {
      throw UsageError("more than one input model ('" + options.input + "', '" + arg + "')");
    }
  }
  if (options.input.empty()) throw UsageError("no input model");
  if (options.output.empty() && !options.dry_run) {
    throw UsageError("no output (-o OUT.onnx), and not --dry-run");
  }
  if (!options.output.empty()) {
    std::error_code error;
    namespace fs = std::filesystem;
    if (fs::weakly_canonical(options.output, error) == fs::weakly_canonical(options.input, error) ||
        fs::equivalent(options.output, options.input, error)) {
      throw UsageError("the output would overwrite the input '" + options.input + "'");
    }
  }
  return options;
}

/// Writes `text` to `path` through a temporary file renamed into place.
void write_text_file(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) throw Error(ErrorCode::io_error, "cannot write '" + path + "'");
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  if (std::fclose(file) != 0 || !written || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw Error(ErrorCode::io_error, "cannot write '" + path + "'");
  }
}

}  // namespace

int fold_command(const std::vector<std::string>& args) {
  const auto parsed = parse_or_print_help([&] { return parse_options(args); }, kUsage, "fold");
  if (!parsed) return 0;
  const Options& options = *parsed;
  onnx::Model model = onnx::Model::load(options.input);
  const onnx::CheckResult input_check = model.check();
  std::optional<onnx::Model> original;
  if (options.verify) original = model.copy();

  onnx::PassReport report = model.fold_batch_norms(options.fold);
  report.check = model.check();
  std::string failure;
  if (report.check.ran && !report.check.passed) {
    if (input_check.ran && input_check.passed) {
      failure =
          "the folded model fails the ONNX checker (the input passes): " + report.check.message;
    } else {
      report.check.message = "the input model already fails it: " + report.check.message;
    }
  }
  if (failure.empty() && options.verify) {
    report.verify = onnx::verify(*original, model, options.verify_options);
    if (report.verify.ran && !report.verify.passed) {
      failure = "verification failed: max relative difference " +
                std::to_string(report.verify.max_rel_diff) + " > " +
                std::to_string(report.verify.tolerance);
    }
  }
  if (!options.quiet) std::fputs(report.summary().c_str(), stderr);
  if (!options.report.empty()) write_text_file(options.report, report.to_json() + "\n");
  if (!failure.empty()) {
    throw Error(ErrorCode::invalid_model, failure + (options.dry_run ? "" : "; nothing written"));
  }
  if (!options.dry_run) {
    model.save(options.output);
    if (!options.quiet) std::fprintf(stderr, "wrote %s\n", options.output.c_str());
  }
  return 0;
}

}  // namespace bnrt::cli
