// The affine kernels' entry points and table for one ISA: each range goes forward, with
// streaming or cached stores. When dst sits just past src or the residual modulo 4096, a
// channels-last range goes backward from its end (see walks_backward) and a channels-first
// one loads a few vectors ahead of its stores (see loads_ahead); the output is the same.
// Included only by affine_<isa>.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "affine_ahead_impl.hpp"
#include "affine_kernels.hpp"
#include "affine_planes_impl.hpp"
#include "affine_rows_impl.hpp"
#include "affine_walk_impl.hpp"

namespace bnrt::kernels {

/// Bytes within which a destination just ahead of its source (or residual) is walked
/// backward by the channels-last walk (channels-first loads ahead instead, see loads_ahead). A
/// forward walk loads src + 4i while the stores of the last few vectors are pending; when dst sits
/// 1 to 255 bytes past src modulo 4096, those stores match the load's low 12 address bits and the
/// load waits on them (4K aliasing). Zen 4 dev VM, one thread, NHWC 1x112x112x64, % of memcpy by
/// (dst - src) mod 4096: 64 bytes 76, 128 bytes 90, 0 or 256 and up 97-102; walking backward: 100
/// at 64 to 192 (and 78 at -64, hence only when dst is ahead). glibc's memmove makes the same
/// choice.
inline constexpr std::uintptr_t kBackwardGapBytes = 256;

inline bool walks_backward(const AffineArgs& args) noexcept {
  const auto ahead = [&](const float* from) {
    const std::uintptr_t gap =
        (reinterpret_cast<std::uintptr_t>(args.dst) - reinterpret_cast<std::uintptr_t>(from)) %
        4096;
    return gap > 0 && gap < kBackwardGapBytes;
  };
  return ahead(args.src) || (args.residual != nullptr && ahead(args.residual));
}

/// Runs `walk` with the store kind and one more choice (the walk's direction or way of
/// loading, possible only when kChoiceOk) fixed at compile time.
template <bool kChoiceOk, class Walk>
void with_stream_and(bool stream, bool choice, Walk&& walk) noexcept {
  const auto pick_choice = [&]<bool kStream>(std::bool_constant<kStream>) {
    if (kChoiceOk && choice) {
      walk(std::bool_constant<kStream>{}, std::bool_constant<kChoiceOk>{});
    } else {
      walk(std::bool_constant<kStream>{}, std::false_type{});
    }
  };
  if (stream) {
    pick_choice(std::true_type{});
  } else {
    pick_choice(std::false_type{});
  }
}

template <class Ops, bool kResidual, ClampKind kClamp>
void channels_last_range(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  // The column-tiled walk of wide patterns (cache-sized ranges) always goes forward.
  const bool backward =
      Ops::lanes > 1 && !walks_column_tiles<Ops>(args, begin, end) && walks_backward(args);
  with_stream_and<(Ops::lanes > 1)>(
      can_stream<Ops>(args), backward, [&](auto stream, auto walk_backward) {
        if constexpr (walk_backward()) {
          channels_last_walk_backward<Ops, kResidual, kClamp, stream()>(args, begin, end);
        } else {
          channels_last_walk<Ops, kResidual, kClamp, stream()>(args, begin, end);
        }
      });
}

template <class Ops, bool kResidual, ClampKind kClamp>
void channels_first_range(const AffineArgs& args, std::size_t begin, std::size_t end) noexcept {
  if constexpr (Ops::has_lane_permute) {
    if (args.inner < Ops::lanes) {
      if (can_stream<Ops>(args)) {
        narrow_planes_walk<Ops, kResidual, kClamp, true>(args, begin, end);
      } else {
        narrow_planes_walk<Ops, kResidual, kClamp, false>(args, begin, end);
      }
      return;
    }
  }
  const bool ahead = args.inner >= Ops::lanes && loads_ahead<Ops>(args);
  with_stream_and<(Ops::lanes > 1)>(
      can_stream<Ops>(args), ahead, [&](auto stream, auto load_ahead) {
        channels_first_walk<Ops, kResidual, kClamp, stream(), load_ahead()>(args, begin, end);
      });
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
