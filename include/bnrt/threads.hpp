// When bnrt splits a run across threads. Work always runs in the caller's tbb::task_arena (see
// README, "Threads, ISA, stores"); this is the size below which a run stays on the calling
// thread because a fork-join would cost more than the second thread saves.
#pragma once

#include <cstddef>

namespace bnrt {

/// Bytes of memory traffic (read plus written) each task of a split run must have: a run of
/// `bytes` gets one task per this many, up to the thread count, and stays on the calling
/// thread below twice this. Measured once per process, the first time a run could split:
/// bnrt times its own affine kernel over 256 KiB on one thread and split across two, and asks
/// of a task the traffic the kernel moves in the time the split's fork-join costs, bounded to
/// [192 KiB, 384 KiB] (the thresholds measured on the Zen 4 and Zen 5 dev VMs). Until a
/// measurement succeeds (the arena's second thread must take part) it is 384 KiB; failed
/// attempts are retried at least 10 ms apart, eight at most, after which 384 KiB stays. The
/// BNRT_TASK_BYTES environment variable (a byte count, read once; 192 KiB at least) fixes it
/// instead. The threshold never changes results: they are bitwise identical for any task
/// count.
std::size_t min_task_bytes() noexcept;

/// Whether min_task_bytes() is final for this process (measured, given up on, or fixed by
/// BNRT_TASK_BYTES).
bool min_task_bytes_final() noexcept;

/// Makes min_task_bytes() final now and returns it, for a benchmark or a latency-sensitive app
/// that wants every run, from the first, to split alike. It asks from an arena of two threads
/// whose workers it keeps busy between attempts (a parked TBB worker took 1-5 ms to wake on the
/// dev VMs, longer than an attempt waits for it): typically 10-100 ms, once, and at most about
/// a second; afterwards it returns at once.
std::size_t settle_min_task_bytes() noexcept;

}  // namespace bnrt
