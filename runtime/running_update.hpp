// RunningStats::update split in two, for the training forward, which updates each slice of
// channels on the thread that computed its statistics.
#pragma once

#include "bnrt/batch_stats.hpp"
#include "kernels/moments_kernels.hpp"

namespace bnrt::detail {

/// The update's checks and bookkeeping (num_batches_tracked, the batch weight): returns the
/// kernel arguments for all channels. `batch`'s count and sizes must be final; its values may
/// still be filled in before the kernel runs.
kernels::RunningUpdateArgs start_running_update(RunningStats& stats, const ChannelMoments& batch,
                                                const Momentum& momentum);

}  // namespace bnrt::detail
