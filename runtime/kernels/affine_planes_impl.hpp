// The channels-first affine walks: all lanes usually sit in one (n, c) plane and share one
// broadcast scale; a vector straddling two planes blends two broadcasts, and planes narrower
// than a vector go a vector's width of planes at a time, each vector's lanes permuted out of
// the tables' entries for those planes (lane by lane only at the ends of a range).
#pragma once

#include <cstddef>

#include "affine_ahead_impl.hpp"
#include "affine_walk_impl.hpp"
#include "narrow_planes.hpp"

namespace bnrt::kernels {

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

/// The channels-first walk. kAhead (dst just past src or the residual modulo 4 KiB, see
/// loads_ahead; planes of at least a vector) issues each vector's loads a few vectors before
/// its store; every element gets the same arithmetic either way.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream, bool kAhead = false>
void channels_first_walk(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  using vec = typename Ops::vec;
  using Lanes = PlaneLanes<Ops>;
  constexpr std::size_t kLanes = Ops::lanes;
  const Streams io{args.src, args.residual, args.dst};
  const float* const scale = args.scale;
  const float* const shift = args.shift;
  const std::size_t channels = args.channels;
  const std::size_t inner = args.inner;
  const Epilogue<Ops, kResidual, kClamp> epilogue(args);
  // A whole tensor on one thread starts at 0: skip the divisions there.
  const std::size_t plane = begin == 0 ? 0 : begin / inner;
  PlaneCursor cursor{plane < channels ? plane : plane % channels, (plane + 1) * inner - begin};
  std::size_t i = begin;
  vec s;
  vec b;

  const std::size_t head = min_size<Ops>(end - i, Ops::elements_to_alignment(io.dst + i));
  if (head > 0) {
    Lanes::gather(args, cursor, head, s, b);
    transform_partial(io, epilogue, i, head, s, b);
    i += head;
    Lanes::advance(args, cursor, head);
  }
  if (inner >= kLanes) {
    // Each plane: a run of whole vectors sharing one broadcast, then at most one vector that
    // straddles into the next plane (which is at least a vector long, so it cannot end there).
    std::size_t c = cursor.channel;
    std::size_t remaining = cursor.remaining;
    if constexpr (kAhead) {
      // The same broadcasts and blends, vector by vector.
      vec s_plane = Ops::broadcast(scale[c]);
      vec b_plane = Ops::broadcast(shift[c]);
      i = ahead_steps<Ops, kResidual, kClamp, kStream>(
          io, epilogue, i, end, [&]() __attribute__((always_inline)) {
            if (remaining > kLanes) {
              remaining -= kLanes;
              return ScaleShift<Ops>{s_plane, b_plane};
            }
            const std::size_t next = c + 1 == channels ? 0 : c + 1;
            const vec s_next = Ops::broadcast(scale[next]);
            const vec b_next = Ops::broadcast(shift[next]);
            const ScaleShift<Ops> mixed =
                remaining == kLanes
                    ? ScaleShift<Ops>{s_plane, b_plane}
                    : ScaleShift<Ops>{Ops::select_first(remaining, s_plane, s_next),
                                      Ops::select_first(remaining, b_plane, b_next)};
            remaining = inner - (kLanes - remaining);
            c = next;
            s_plane = s_next;
            b_plane = b_next;
            return mixed;
          });
    }
    while (kLanes <= end - i) {
      s = Ops::broadcast(scale[c]);
      b = Ops::broadcast(shift[c]);
      const std::size_t run_end = i + min_size<Ops>(remaining, end - i) / kLanes * kLanes;
      remaining -= run_end - i;
      for (; i < run_end; i += kLanes) {
        transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i, s, b);
      }
      const std::size_t next = c + 1 == channels ? 0 : c + 1;
      if (remaining == 0) {
        c = next;
        remaining = inner;
        continue;
      }
      if (end - i < kLanes) break;  // the chunk ends inside this plane
      const vec s_mix = Ops::select_first(remaining, s, Ops::broadcast(scale[next]));
      const vec b_mix = Ops::select_first(remaining, b, Ops::broadcast(shift[next]));
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i, s_mix, b_mix);
      i += kLanes;
      remaining = inner - (kLanes - remaining);
      c = next;
    }
    cursor = {c, remaining};
  } else {
    // Planes narrower than a vector (tiny spatial sizes): gather lane by lane.
    for (; kLanes <= end - i; i += kLanes) {
      Lanes::gather(args, cursor, kLanes, s, b);
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i, s, b);
      Lanes::advance(args, cursor, kLanes);
    }
  }
  if (i < end) {
    Lanes::gather(args, cursor, end - i, s, b);
    transform_partial(io, epilogue, i, end - i, s, b);
  }
  if constexpr (kStream) Ops::stream_fence();
}

/// Whole groups of `lanes` narrow planes over [first, end) (see narrow_planes_walk), from the
/// group whose first plane is channel c0. kStream only when dst + first is vector-aligned.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
void narrow_plane_groups(const AffineArgs& args, std::size_t first, std::size_t end,
                         std::size_t c0) noexcept {
  using vec = typename Ops::vec;
  constexpr std::size_t kLanes = Ops::lanes;
  const Streams io{args.src, args.residual, args.dst};
  const float* const scale = args.scale;
  const float* const shift = args.shift;
  const std::size_t inner = args.inner;
  const std::size_t channels = args.channels;
  const std::size_t step = kLanes % channels;  // channels from one group to the next
  const Epilogue<Ops, kResidual, kClamp> epilogue(args);
  const auto& index = kNarrowPlaneIndex<kLanes>.at[inner];
  for (std::size_t i = first; i < end; i += kLanes * inner) {
    const vec s = Ops::load(scale + c0);
    const vec b = Ops::load(shift + c0);
    for (std::size_t j = 0; j < inner; ++j) {
      transform_full<Ops, kResidual, kClamp, kStream>(io, epilogue, i + j * kLanes,
                                                      Ops::permute_lanes(s, index[j]),
                                                      Ops::permute_lanes(b, index[j]));
    }
    c0 += step;
    c0 = c0 >= channels ? c0 - channels : c0;
  }
  if constexpr (kStream) Ops::stream_fence();
}

/// Planes narrower than a vector (2x2, 3x3, short NCL rows: inner < lanes), on ISAs with a
/// lane permute. From the first multiple of lanes * inner elements on, the range is groups of
/// `lanes` planes, each group exactly `inner` vectors: the group's scale and shift are the
/// `lanes` table entries from its first plane's channel on (the tables repeat the channel
/// pattern past its end; in a one-sample tensor a whole group's planes are those channels),
/// and lane l of the group's vector j belongs to plane (j * lanes + l) / inner, one permute of
/// each table per vector, the same indices for every group. The lane-by-lane gather took 20x
/// memcpy's time (NCHW 32x512x3x3, one thread: 323 vs 14 us). Partial groups at either end
/// take channels_first_walk; the arithmetic per element is the same either way.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
void narrow_planes_walk(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  constexpr std::size_t kLanes = Ops::lanes;
  const std::size_t inner = args.inner;
  const std::size_t group = kLanes * inner;
  const std::size_t first = (begin + group - 1) / group * group;
  if (first >= end || end - first < group) {
    channels_first_walk<Ops, kResidual, kClamp, kStream>(args, begin, end);
    return;
  }
  const std::size_t groups_end = first + (end - first) / group * group;
  if (begin < first) channels_first_walk<Ops, kResidual, kClamp, kStream>(args, begin, first);
  const std::size_t c0 = first / inner % args.channels;
  if (kStream && Ops::elements_to_alignment(args.dst + first) == 0) {
    narrow_plane_groups<Ops, kResidual, kClamp, true>(args, first, groups_end, c0);
  } else {
    narrow_plane_groups<Ops, kResidual, kClamp, false>(args, first, groups_end, c0);
  }
  if (groups_end < end) channels_first_walk<Ops, kResidual, kClamp, kStream>(args, groups_end, end);
}

}  // namespace bnrt::kernels
