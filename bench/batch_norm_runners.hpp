// The implementations a batch-norm benchmark compares, behind one interface: bnrt itself, the
// naive loop a user would write from the definition, memcpy of the same bytes (the roof), and
// oneDNN's batch_normalization_forward (inference, global stats) when built with libdnnl-dev.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bnrt/tensor.hpp"

namespace bnrt::bench {

enum class Impl { bnrt, naive, memcpy, onednn };
std::string_view impl_name(Impl impl);

/// What is measured: eval-mode batch norm (running statistics), the per-channel statistics
/// pass alone (read-only; exact, or fast as the training forward uses it), or the
/// training-mode forward (fast statistics, then normalize). memcpy is the roof for all.
enum class Op { eval, stats, stats_fast, train };
std::string_view op_name(Op op);

/// What one measurement runs: dims in the layout's order, out of place, on `threads` threads.
struct BatchNormCase {
  std::vector<std::int64_t> dims;
  Layout layout = Layout::nchw;
  int threads = 1;
  Impl impl = Impl::bnrt;
  Op op = Op::eval;

  std::int64_t elements() const;
  /// Bytes read + written per run: src once, dst once (the per-channel params are noise).
  std::int64_t bytes() const { return elements() * 2 * static_cast<std::int64_t>(sizeof(float)); }
  /// "1x64x56x56"
  std::string shape_text() const;
};

/// Owns input, output and parameters for one case and runs it once per call.
class Runner {
 public:
  virtual ~Runner() = default;
  /// One out-of-place batch norm (or one copy, for memcpy). Must run inside a tbb::task_arena
  /// of the case's thread count.
  virtual void run() = 0;
  /// Called after each timed sample: release anything that would disturb the next sample of
  /// another implementation (oneDNN's OpenMP workers otherwise spin for milliseconds after a
  /// call, taking the second core away from whatever is measured next).
  virtual void settle() {}
  /// Whether run() splits its work across the arena's TBB threads (oneDNN uses OpenMP's), so
  /// that the timer wakes them before a sample.
  virtual bool uses_tbb_threads() const { return true; }
};

/// Whether this build can measure `impl` doing `op` (oneDNN is optional; the naive loop is
/// eval only; memcpy is listed under Op::eval).
bool impl_available(Impl impl, Op op);

/// Input, output and statistics of one shape (defined in bench_buffers.hpp).
struct CaseData;

/// Deterministic random data for `c`'s shape and layout.
std::shared_ptr<CaseData> make_case_data(const BatchNormCase& c);

/// A ready-to-run runner over `data` (which must match c's shape). Runners of one shape share
/// their data, so memcpy, bnrt and the peers move the very same bytes between the very same
/// buffers; nullptr if `impl` cannot run this case.
std::unique_ptr<Runner> make_runner(const BatchNormCase& c, std::shared_ptr<CaseData> data);

}  // namespace bnrt::bench
