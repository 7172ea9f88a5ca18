// Channels-first planes narrower than a vector (2x2, 3x3, short NCL rows), shared by the
// affine and statistics kernels: a vector's width of such planes is exactly `inner` vectors,
// and each of those vectors' lanes belongs to a plane fixed by its position alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace bnrt::kernels {

/// For vectors of kLanes floats and planes of `inner` < kLanes values: at[inner][j][l] is the
/// plane, within a group of kLanes planes, of lane l of the group's vector j, that is
/// (j * kLanes + l) / inner. Built at compile time: a division per lane took most of a call
/// on a small tensor.
template <std::size_t kLanes>
struct NarrowPlaneIndex {
  std::int32_t at[kLanes][kLanes][kLanes];
  constexpr NarrowPlaneIndex() : at{} {
    for (std::size_t inner = 1; inner < kLanes; ++inner) {
      for (std::size_t j = 0; j < inner; ++j) {
        for (std::size_t l = 0; l < kLanes; ++l) {
          at[inner][j][l] = static_cast<std::int32_t>((j * kLanes + l) / inner);
        }
      }
    }
  }
};
template <std::size_t kLanes>
inline constexpr NarrowPlaneIndex<kLanes> kNarrowPlaneIndex{};

/// Calls kernel.template operator()<kInner>() with `inner` (1 <= inner < kLanes) fixed at
/// compile time, so that a narrow plane group's kInner vectors unroll and stay in registers.
template <std::size_t kLanes, class Kernel>
inline void with_inner_count(std::size_t inner, const Kernel& kernel) noexcept {
  [&]<std::size_t... k>(std::index_sequence<k...>) {
    ((inner == k + 1 ? (kernel.template operator()<k + 1>(), 0) : 0), ...);
  }
  (std::make_index_sequence<kLanes - 1>{});
}

}  // namespace bnrt::kernels
