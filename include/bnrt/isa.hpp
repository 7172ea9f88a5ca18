// Which SIMD instruction set bnrt's kernels use, and how to cap it.
// The best ISA the CPU *and* the OS support is detected once. A cap, from the BNRT_ISA
// environment variable or from set_isa_cap(), lowers it so every path can run on one machine.
#pragma once

#include <optional>
#include <string_view>

namespace bnrt {

/// Kernel instruction sets, ordered: a higher value is a wider, faster path.
enum class Isa {
  scalar,  ///< portable C++ loops; no SIMD assumptions
  sse2,    ///< 128-bit, x86-64 baseline (the op needs nothing from SSE3..SSE4.2)
  avx2,    ///< 256-bit AVX2 + FMA3
  avx512,  ///< 512-bit AVX-512F, with masked tails
};

/// "scalar", "sse2", "avx2" or "avx512".
std::string_view isa_name(Isa isa) noexcept;

/// Parses an ISA name as accepted by BNRT_ISA: the names above, case-insensitive, plus the
/// aliases "sse4.2"/"sse42" (a cap at SSE4.2 selects the sse2 path, the best one not above it),
/// "fma"/"avx2+fma" and "avx512f". Returns nullopt for anything else.
std::optional<Isa> parse_isa(std::string_view name) noexcept;

/// True when this CPU and OS can run kernels for `isa` (checks XSAVE-enabled register state,
/// not only CPUID). scalar and sse2 are always supported on x86-64.
bool isa_supported(Isa isa) noexcept;

/// The widest supported ISA, ignoring any cap.
Isa best_supported_isa() noexcept;

/// The ISA new ops will use: the widest supported ISA not above the cap. The cap starts from
/// BNRT_ISA (read once, on first use); an unrecognised BNRT_ISA value throws bnrt::Error
/// (invalid_argument) here and at every op creation until fixed.
Isa active_isa();

/// Caps the ISA used by ops created from now on (ops already created keep theirs) and returns
/// the previous cap. Thread-safe. Use Isa::avx512 to lift any cap. Capping above what the CPU
/// supports is allowed and simply yields the best supported ISA.
Isa set_isa_cap(Isa cap);

}  // namespace bnrt
