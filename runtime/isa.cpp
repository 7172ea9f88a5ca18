// Run-time ISA detection and the process-wide cap (BNRT_ISA or set_isa_cap).
// Detection uses __builtin_cpu_supports, which (unlike xsimd 8.1's CPUID-only probe) also checks
// through XGETBV that the OS saves the AVX / AVX-512 register state.
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <string>

#include "bnrt/isa.hpp"
#include "errors.hpp"

namespace bnrt {
namespace {

Isa detect_best_isa() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // Our AVX-512 kernels use AVX-512F only; every AVX-512F CPU also has FMA3, checked anyway.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
  return Isa::sse2;
#else
  return Isa::scalar;
#endif
}

/// The cap as set by BNRT_ISA at first use, then by set_isa_cap(). A BNRT_ISA value we cannot
/// parse is remembered, so that every op creation reports it instead of silently ignoring it.
struct CapState {
  std::atomic<Isa> cap{Isa::avx512};
  std::atomic<bool> env_invalid{false};
  std::string env_value;

  CapState() {
    const char* env = std::getenv("BNRT_ISA");
    if (env == nullptr || *env == '\0') return;
    env_value = env;
    if (auto parsed = parse_isa(env_value)) {
      cap = *parsed;
    } else {
      env_invalid = true;
    }
  }
};

CapState& cap_state() {
  static CapState state;
  return state;
}

}  // namespace

std::string_view isa_name(Isa isa) noexcept {
  switch (isa) {
    case Isa::scalar:
      return "scalar";
    case Isa::sse2:
      return "sse2";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
  }
  return "?";
}

std::optional<Isa> parse_isa(std::string_view name) noexcept {
  std::string lower;
  for (char ch : name)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  if (lower == "scalar") return Isa::scalar;
  if (lower == "sse2" || lower == "sse4.2" || lower == "sse42") return Isa::sse2;
  if (lower == "avx2" || lower == "fma" || lower == "avx2+fma") return Isa::avx2;
  if (lower == "avx512" || lower == "avx512f") return Isa::avx512;
  return std::nullopt;
}

Isa best_supported_isa() noexcept {
  static const Isa best = detect_best_isa();
  return best;
}

bool isa_supported(Isa isa) noexcept { return isa <= best_supported_isa(); }

Isa active_isa() {
  CapState& state = cap_state();
  if (state.env_invalid) {
    detail::fail(
        ErrorCode::invalid_argument, "bnrt",
        "BNRT_ISA='" + state.env_value + "' is not one of scalar, sse2 (or sse4.2), avx2, avx512");
  }
  const Isa cap = state.cap;
  const Isa best = best_supported_isa();
  return cap < best ? cap : best;
}

Isa set_isa_cap(Isa cap) {
  CapState& state = cap_state();
  state.env_invalid = false;  // an explicit cap overrides a bad environment value
  return state.cap.exchange(cap);
}

}  // namespace bnrt
