// Walking forward when dst sits just past src (or the residual) modulo 4 KiB: each vector's
// loads are issued kAheadVectors vectors before its store, so no load follows a pending store
// whose low 12 address bits it shares. The channels-first walk takes this path; see
// walks_backward (affine_table_impl.hpp) for the channels-last one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "affine_walk_impl.hpp"

namespace bnrt::kernels {

/// How many vectors the loads run ahead of the stores. A plain forward walk loads vector j
/// right after storing vector j - 1; when dst is 1 to 255 bytes past src modulo 4096, that
/// store's low 12 address bits overlap the load's, and on cores that check only those bits
/// the load waits for it (4K aliasing: NHWC 1x112x112x64 at 76% of memcpy with a 64-byte gap
/// on the Zen 4 dev VM, 97-102% without). With vector j loaded just before vector j - 4 is
/// stored, every earlier store ends at least kAheadVectors vectors below the load in those
/// bits: gaps under 256 bytes on AVX-512 (128 on AVX2, 64 on SSE2) are covered. It replaced a
/// walk from the end down, which avoids the overlap too but ran 10-25% slower on the Zen 5
/// dev VM (bench/PERFORMANCE.md, "Destinations just past their source").
inline constexpr std::size_t kAheadVectors = 4;

/// Whether dst sits 1 to kAheadVectors vectors' bytes past src or the residual modulo 4096.
template <class Ops>
bool loads_ahead(const AffineArgs& args) noexcept {
  constexpr std::uintptr_t kAheadBytes = kAheadVectors * Ops::lanes * sizeof(float);
  const auto just_past = [&](const float* from) {
    const std::uintptr_t gap =
        (reinterpret_cast<std::uintptr_t>(args.dst) - reinterpret_cast<std::uintptr_t>(from)) %
        4096;
    return gap > 0 && gap < kAheadBytes;
  };
  return Ops::lanes > 1 &&
         (just_past(args.src) || (args.residual != nullptr && just_past(args.residual)));
}

/// One vector's scale and shift.
template <class Ops>
struct ScaleShift {
  typename Ops::vec scale;
  typename Ops::vec shift;
};

/// The vectors loaded ahead of their stores: the next kAheadVectors vectors of src (and the
/// residual) from the position of the next store, as separate variables so that they stay in
/// registers.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
class AheadQueue {
 public:
  using vec = typename Ops::vec;
  static constexpr std::size_t kLanes = Ops::lanes;
  static constexpr std::size_t kAhead = kAheadVectors * kLanes;

  /// Loads the vectors at i; at least kAheadVectors vectors must fit before the range's end.
  [[gnu::always_inline]] AheadQueue(Streams io, const Epilogue<Ops, kResidual, kClamp>& epilogue,
                                    std::size_t i) noexcept
      : io_(io), epilogue_(epilogue) {
    x0_ = Ops::load(io.src + i);
    x1_ = Ops::load(io.src + i + kLanes);
    x2_ = Ops::load(io.src + i + 2 * kLanes);
    x3_ = Ops::load(io.src + i + 3 * kLanes);
    if constexpr (kResidual) {
      r0_ = Ops::load(io.residual + i);
      r1_ = Ops::load(io.residual + i + kLanes);
      r2_ = Ops::load(io.residual + i + 2 * kLanes);
      r3_ = Ops::load(io.residual + i + 3 * kLanes);
    }
  }

  /// Stores the four vectors from i (the queue's) and loads the four after them: i + 8
  /// vectors must fit before the range's end. `coefficients()` gives each vector's ScaleShift,
  /// called once per vector, in order.
  template <class Coefficients>
  [[gnu::always_inline]] void step(std::size_t i, Coefficients& coefficients) noexcept {
    one(i, x0_, r0_, coefficients);
    one(i + kLanes, x1_, r1_, coefficients);
    one(i + 2 * kLanes, x2_, r2_, coefficients);
    one(i + 3 * kLanes, x3_, r3_, coefficients);
  }

 private:
  template <class Coefficients>
  [[gnu::always_inline]] void one(std::size_t at, vec& x, vec& residual,
                                  Coefficients& coefficients) noexcept {
    const vec x_next = Ops::load(io_.src + at + kAhead);
    const vec residual_next = kResidual ? Ops::load(io_.residual + at + kAhead) : vec{};
    const ScaleShift<Ops> c = coefficients();
    const vec y = epilogue_(x, c.scale, c.shift, residual);
    if constexpr (kStream) {
      Ops::stream(io_.dst + at, y);
    } else {
      Ops::store(io_.dst + at, y);
    }
    x = x_next;
    if constexpr (kResidual) residual = residual_next;
  }

  Streams io_;
  const Epilogue<Ops, kResidual, kClamp>& epilogue_;
  vec x0_, x1_, x2_, x3_;
  vec r0_{}, r1_{}, r2_{}, r3_{};
};

/// Whole vectors from `i`, kAheadVectors at a time, through an AheadQueue. Stops while
/// 2 * kAheadVectors vectors still fit before `end` (no load past it) and returns where the
/// stores stopped; the vectors loaded beyond are dropped, for the caller's plain walk to take
/// again.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream, class Coefficients>
[[gnu::always_inline]] inline std::size_t ahead_steps(
    Streams io, const Epilogue<Ops, kResidual, kClamp>& epilogue, std::size_t i, std::size_t end,
    Coefficients&& coefficients) noexcept {
  constexpr std::size_t kAhead = kAheadVectors * Ops::lanes;
  if (end - i < 2 * kAhead) return i;
  AheadQueue<Ops, kResidual, kClamp, kStream> queue(io, epilogue, i);
  for (; end - i >= 2 * kAhead; i += kAhead) queue.step(i, coefficients);
  return i;
}

}  // namespace bnrt::kernels
