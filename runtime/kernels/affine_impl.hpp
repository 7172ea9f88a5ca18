// Kernel bodies for y = clamp(x * scale[c] + shift[c] (+ r), lo, hi), written once against an
// "Ops" vocabulary (SimdOps<Arch> or ScalarOps) and instantiated per ISA by affine_<isa>.cpp.
//
// Both kernels walk a flat element range in whole vectors aligned to dst, so that every store
// but the first and last is aligned (and may be non-temporal), whatever the plane or row sizes:
// - channels-last: the scale/shift pattern repeats every `period` elements (a multiple of C
//   padded so vector loads never wrap mid-vector), so a vector just loads scale at its offset;
// - channels-first: all lanes usually sit in one (n, c) plane and share one broadcast scale;
//   a vector straddling two planes blends two broadcasts, and planes narrower than a vector
//   gather their lanes one by one.
// Every element gets the same arithmetic whichever way it is reached (full vector, masked
// tail, straddle), so the output never depends on how the range was split across threads.
#pragma once

#include <cstddef>
#include <cstdint>

#include "affine_kernels.hpp"

namespace bnrt::kernels {

// No <algorithm> here: a std::min instantiated in an AVX-512 unit could be the copy the linker
// keeps for baseline code. Helpers are templates on Ops, so each ISA gets its own symbol.
template <class Ops>
constexpr std::size_t min_size(std::size_t a, std::size_t b) noexcept {
  return a < b ? a : b;
}

/// Streaming needs whole aligned vectors, which a pointer that is not float-aligned never has.
template <class Ops>
bool can_stream(const AffineArgs& args) noexcept {
  return args.stream && Ops::lanes > 1 &&
         reinterpret_cast<std::uintptr_t>(args.dst) % sizeof(float) == 0;
}

template <class Ops, bool kResidual, ClampKind kClamp>
struct Epilogue {
  using vec = typename Ops::vec;
  vec lo;
  vec hi;

  explicit Epilogue(const AffineArgs& args) noexcept
      : lo(Ops::broadcast(args.lo)), hi(Ops::broadcast(args.hi)) {}

  vec operator()(const vec& x, const vec& scale, const vec& shift, const vec& residual) const
      noexcept {
    vec y = Ops::fma(x, scale, shift);
    if constexpr (kResidual) y = y + residual;
    if constexpr (kClamp != ClampKind::none) y = Ops::max_bound(lo, y);
    if constexpr (kClamp == ClampKind::both) y = Ops::min_bound(hi, y);
    return y;
  }
};

/// Loads, transforms and stores `n` elements at `i` (n <= lanes; n < lanes means a masked tail).
template <class Ops, bool kResidual, ClampKind kClamp>
inline void transform_partial(const AffineArgs& args, const Epilogue<Ops, kResidual, kClamp>& epilogue,
                              std::size_t i, std::size_t n, const typename Ops::vec& scale,
                              const typename Ops::vec& shift) noexcept {
  using vec = typename Ops::vec;
  const vec x = Ops::load_partial(args.src + i, n);
  const vec residual = kResidual ? Ops::load_partial(args.residual + i, n) : vec{};
  Ops::store_partial(args.dst + i, epilogue(x, scale, shift, residual), n);
}

template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
inline void transform_full(const AffineArgs& args, const Epilogue<Ops, kResidual, kClamp>& epilogue,
                           std::size_t i, const typename Ops::vec& scale,
                           const typename Ops::vec& shift) noexcept {
  using vec = typename Ops::vec;
  const vec x = Ops::load(args.src + i);
  const vec residual = kResidual ? Ops::load(args.residual + i) : vec{};
  const vec y = epilogue(x, scale, shift, residual);
  if constexpr (kStream) {
    Ops::stream(args.dst + i, y);
  } else {
    Ops::store(args.dst + i, y);
  }
}

// ---- channels-last: the per-channel pattern repeats every `period` elements ----------------

template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
void channels_last_walk(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  constexpr std::size_t kLanes = Ops::lanes;
  const Epilogue<Ops, kResidual, kClamp> epilogue(args);
  const std::size_t period = args.period;
  std::size_t pos = begin % period;
  std::size_t i = begin;
  // Steps are at most one vector and period >= kMaxLanes >= lanes, so one subtraction wraps.
  auto advance = [&](std::size_t n) {
    pos += n;
    if (pos >= period) pos -= period;
  };

  const std::size_t head = min_size<Ops>(end - i, Ops::elements_to_alignment(args.dst + i));
  if (head > 0) {
    transform_partial(args, epilogue, i, head, Ops::load(args.scale + pos), Ops::load(args.shift + pos));
    i += head;
    advance(head);
  }
  for (; i + kLanes <= end; i += kLanes) {
    transform_full<Ops, kResidual, kClamp, kStream>(args, epilogue, i, Ops::load(args.scale + pos),
                                                    Ops::load(args.shift + pos));
    advance(kLanes);
  }
  if (i < end) {
    transform_partial(args, epilogue, i, end - i, Ops::load(args.scale + pos), Ops::load(args.shift + pos));
  }
  if constexpr (kStream) Ops::stream_fence();
}

// ---- channels-first: one scale per (n, c) plane of `inner` elements -------------------------

/// Position in the plane sequence: the current channel and how many elements of its plane
/// remain (>= 1).
struct PlaneCursor {
  std::size_t channel;
  std::size_t remaining;
};

template <class Ops>
struct PlaneLanes {
  using vec = typename Ops::vec;

  /// Scale and shift for the `n` lanes starting at `cursor` (does not move the cursor).
  static void gather(const AffineArgs& args, PlaneCursor cursor, std::size_t n, vec& scale,
                     vec& shift) noexcept {
    const std::size_t c0 = cursor.channel;
    if (cursor.remaining >= n) {
      scale = Ops::broadcast(args.scale[c0]);
      shift = Ops::broadcast(args.shift[c0]);
      return;
    }
    if (args.inner >= Ops::lanes) {
      // Lanes past `remaining` all fall in the next plane, since it is at least a vector long.
      const std::size_t c1 = c0 + 1 == args.channels ? 0 : c0 + 1;
      scale = Ops::select_first(cursor.remaining, Ops::broadcast(args.scale[c0]),
                                Ops::broadcast(args.scale[c1]));
      shift = Ops::select_first(cursor.remaining, Ops::broadcast(args.shift[c0]),
                                Ops::broadcast(args.shift[c1]));
      return;
    }
    // Planes narrower than a vector: fill lane by lane (only tiny spatial sizes get here).
    alignas(64) float lane_scale[kMaxLanes] = {};
    alignas(64) float lane_shift[kMaxLanes] = {};
    for (std::size_t lane = 0; lane < n; ++lane) {
      lane_scale[lane] = args.scale[cursor.channel];
      lane_shift[lane] = args.shift[cursor.channel];
      advance(args, cursor, 1);
    }
    scale = Ops::load(lane_scale);
    shift = Ops::load(lane_shift);
  }

  static void advance(const AffineArgs& args, PlaneCursor& cursor, std::size_t n) noexcept {
    while (n >= cursor.remaining) {
      n -= cursor.remaining;
      cursor.channel = cursor.channel + 1 == args.channels ? 0 : cursor.channel + 1;
      cursor.remaining = args.inner;
    }
    cursor.remaining -= n;
  }
};

template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
void channels_first_walk(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  using vec = typename Ops::vec;
  using Lanes = PlaneLanes<Ops>;
  constexpr std::size_t kLanes = Ops::lanes;
  const Epilogue<Ops, kResidual, kClamp> epilogue(args);
  const std::size_t plane = begin / args.inner;
  PlaneCursor cursor{plane % args.channels, (plane + 1) * args.inner - begin};
  std::size_t i = begin;
  vec scale;
  vec shift;

  const std::size_t head = min_size<Ops>(end - i, Ops::elements_to_alignment(args.dst + i));
  if (head > 0) {
    Lanes::gather(args, cursor, head, scale, shift);
    transform_partial(args, epilogue, i, head, scale, shift);
    i += head;
    Lanes::advance(args, cursor, head);
  }
  while (i + kLanes <= end) {
    if (cursor.remaining >= kLanes) {
      // The common case: a run of whole vectors inside one plane shares one broadcast.
      const std::size_t vectors = min_size<Ops>(cursor.remaining, end - i) / kLanes;
      scale = Ops::broadcast(args.scale[cursor.channel]);
      shift = Ops::broadcast(args.shift[cursor.channel]);
      for (std::size_t v = 0; v < vectors; ++v, i += kLanes) {
        transform_full<Ops, kResidual, kClamp, kStream>(args, epilogue, i, scale, shift);
      }
      Lanes::advance(args, cursor, vectors * kLanes);
    } else {
      Lanes::gather(args, cursor, kLanes, scale, shift);
      transform_full<Ops, kResidual, kClamp, kStream>(args, epilogue, i, scale, shift);
      i += kLanes;
      Lanes::advance(args, cursor, kLanes);
    }
  }
  if (i < end) {
    Lanes::gather(args, cursor, end - i, scale, shift);
    transform_partial(args, epilogue, i, end - i, scale, shift);
  }
  if constexpr (kStream) Ops::stream_fence();
}

// ---- entry points and the table -----------------------------------------------------------

template <class Ops, bool kResidual, ClampKind kClamp>
void channels_last_range(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  if (can_stream<Ops>(args)) {
    channels_last_walk<Ops, kResidual, kClamp, true>(args, begin, end);
  } else {
    channels_last_walk<Ops, kResidual, kClamp, false>(args, begin, end);
  }
}

template <class Ops, bool kResidual, ClampKind kClamp>
void channels_first_range(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  if (can_stream<Ops>(args)) {
    channels_first_walk<Ops, kResidual, kClamp, true>(args, begin, end);
  } else {
    channels_first_walk<Ops, kResidual, kClamp, false>(args, begin, end);
  }
}

template <class Ops>
constexpr AffineKernelTable make_affine_table() noexcept {
  constexpr auto none = ClampKind::none;
  constexpr auto lower = ClampKind::lower;
  constexpr auto both = ClampKind::both;
  return AffineKernelTable{
      .channels_first = {{&channels_first_range<Ops, false, none>,
                          &channels_first_range<Ops, false, lower>,
                          &channels_first_range<Ops, false, both>},
                         {&channels_first_range<Ops, true, none>,
                          &channels_first_range<Ops, true, lower>,
                          &channels_first_range<Ops, true, both>}},
      .channels_last = {{&channels_last_range<Ops, false, none>,
                         &channels_last_range<Ops, false, lower>,
                         &channels_last_range<Ops, false, both>},
                        {&channels_last_range<Ops, true, none>,
                         &channels_last_range<Ops, true, lower>,
                         &channels_last_range<Ops, true, both>}},
      .lanes = Ops::lanes,
  };
}

}  // namespace bnrt::kernels
