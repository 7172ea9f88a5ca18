// BNRT_FLATTEN: [[gnu::flatten]] (inline every call, recursively) for the few micro-kernels
// whose unrolled accumulators must stay in registers across calls GCC would otherwise keep out
// of line. Left out under AddressSanitizer: there it only multiplies compile time (a flattened
// depthwise unit took five minutes instead of one), and sanitizer builds are for correctness.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define BNRT_FLATTEN
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BNRT_FLATTEN
#endif
#endif
#ifndef BNRT_FLATTEN
#define BNRT_FLATTEN [[gnu::flatten]]
#endif
