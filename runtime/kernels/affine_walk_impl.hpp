// Shared pieces of the affine kernel bodies y = clamp(x * scale[c] + shift[c] (+ r), lo, hi),
// written once against an "Ops" vocabulary (SimdOps<Arch> or ScalarOps): the epilogue and the
// loads, transform and stores of one vector or a partial one. Both walks (affine_rows_impl.hpp,
// affine_planes_impl.hpp) take a flat element range in whole vectors aligned to dst, so that
// every store but the first and last is aligned (and may be non-temporal), whatever the plane
// or row sizes. Every element gets the same arithmetic whichever way it is reached (full
// vector, masked tail, straddle), so the output never depends on how the range was split
// across threads.
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

  vec operator()(const vec& x, const vec& scale, const vec& shift,
                 const vec& residual) const noexcept {
    vec y = Ops::fma(x, scale, shift);
    if constexpr (kResidual) y = y + residual;
    if constexpr (kClamp != ClampKind::none) y = Ops::max_bound(lo, y);
    if constexpr (kClamp == ClampKind::both) y = Ops::min_bound(hi, y);
    return y;
  }
};

/// The tensors one kernel call touches, copied out of AffineArgs into locals: xsimd's stores
/// may alias anything, so pointers left in the args struct would be reloaded after every store.
struct Streams {
  const float* src;
  const float* residual;
  float* dst;
};

/// Loads, transforms and stores `n` elements at `i` (n < lanes: a masked or staged tail).
template <class Ops, bool kResidual, ClampKind kClamp>
inline void transform_partial(Streams io, const Epilogue<Ops, kResidual, kClamp>& epilogue,
                              std::size_t i, std::size_t n, const typename Ops::vec& scale,
                              const typename Ops::vec& shift) noexcept {
  using vec = typename Ops::vec;
  const vec x = Ops::load_partial(io.src + i, n);
  const vec residual = kResidual ? Ops::load_partial(io.residual + i, n) : vec{};
  Ops::store_partial(io.dst + i, epilogue(x, scale, shift, residual), n);
}

/// One whole vector at `i`; with kStream, dst + i must be vector-aligned.
template <class Ops, bool kResidual, ClampKind kClamp, bool kStream>
inline void transform_full(Streams io, const Epilogue<Ops, kResidual, kClamp>& epilogue,
                           std::size_t i, const typename Ops::vec& scale,
                           const typename Ops::vec& shift) noexcept {
  using vec = typename Ops::vec;
  const vec x = Ops::load(io.src + i);
  const vec residual = kResidual ? Ops::load(io.residual + i) : vec{};
  const vec y = epilogue(x, scale, shift, residual);
  if constexpr (kStream) {
    Ops::stream(io.dst + i, y);
  } else {
    Ops::store(io.dst + i, y);
  }
}

}  // namespace bnrt::kernels
