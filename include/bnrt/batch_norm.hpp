// The eval-mode batch-norm op: create once (validate, fold in double, pack, pick a kernel),
// run many times at memory speed on any supported layout, with a fused residual add and
// activation: y = act(x * scale[c] + shift[c] [+ residual]).
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "bnrt/activation.hpp"
#include "bnrt/batch_norm_params.hpp"
#include "bnrt/isa.hpp"
#include "bnrt/tensor.hpp"

namespace bnrt {

/// How run() writes its output.
enum class StorePolicy {
  /// Ordinary stores, except for outputs too large to stay cached when not in place: those are
  /// streamed (non-temporal stores), which saves a read per written cache line. "Too large" is
  /// a quarter of the last-level cache on one thread, half on two or more (8 / 16 MiB on a
  /// 32 MiB L3).
  automatic,
  cached,     ///< always ordinary stores: the next layer will read the output right away
  streaming,  ///< always non-temporal stores: the output is not read again soon
};

/// Options fixed at create time.
struct BatchNormOptions {
  /// Fused epilogue, applied after the residual add (ResNet order: BN -> add -> ReLU).
  Activation activation = Activation::identity();
  /// Upper bound on threads used by one run; 0 means "as many as the caller's current
  /// tbb::task_arena allows". It can only lower the arena's concurrency, never raise it.
  int max_threads = 0;
  /// Whether outputs bypass the cache; changes speed only, never results.
  StorePolicy store_policy = StorePolicy::automatic;
};

namespace detail {
struct BatchNormState;
}

/// A folded batch-norm layer. Immutable after create: copies share state, and run() may be
/// called concurrently from any number of threads.
class BatchNorm {
 public:
  /// Folds `params` (see fold_batch_norm for the formula and the errors it throws), rounds
  /// scale once to float, computes shift = beta - mean * scale in double from that float
  /// scale and rounds it once, and selects the kernel for active_isa(). (Shift from the
  /// stored scale: the output is then (x - mean) * scale + beta up to the shift's rounding,
  /// so with a large common offset the scale's rounding is not multiplied by |x|.)
  /// Throws bnrt::Error on bad statistics, a folded value that overflows float, or an
  /// activation with lo > hi or a NaN bound.
  static BatchNorm create(const BatchNormParams& params, const BatchNormOptions& options = {});

  /// Same, from an already folded per-channel affine map (e.g. recomputed statistics).
  static BatchNorm from_affine(const ChannelAffine& affine, const BatchNormOptions& options = {});

  /// dst = act(src * scale + shift). src and dst must have the same layout and dims, with
  /// dims[channel axis] == channels(). dst may equal src (in place); any other overlap is
  /// rejected. Pointers need no particular alignment. Throws bnrt::Error on a mismatch.
  void run(ConstTensor src, MutableTensor dst) const;

  /// dst = act(src * scale + shift + residual). residual has src's layout and dims; dst may
  /// equal src or residual exactly, but may not partially overlap either.
  void run(ConstTensor src, ConstTensor residual, MutableTensor dst) const;

  std::size_t channels() const noexcept;
  /// The folded, float-rounded per-channel scale and shift the kernel applies (length C).
  std::span<const float> scale() const noexcept;
  std::span<const float> shift() const noexcept;
  const Activation& activation() const noexcept;
  /// The instruction set this op's kernels were selected for.
  Isa isa() const noexcept;

 private:
  explicit BatchNorm(std::shared_ptr<const detail::BatchNormState> state) noexcept;
  void run_checked(ConstTensor src, const ConstTensor* residual, MutableTensor dst) const;

  std::shared_ptr<const detail::BatchNormState> state_;
};

}  // namespace bnrt
