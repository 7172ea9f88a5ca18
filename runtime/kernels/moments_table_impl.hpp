// The moments kernel table of one ISA: exact and fast statistics for both layout families,
// the fold, the running update and the block merge. Included only by moments_<isa>.cpp.
#pragma once

#include "moments_exact_planes_impl.hpp"
#include "moments_exact_rows_impl.hpp"
#include "moments_fast_planes_impl.hpp"
#include "moments_fast_rows_impl.hpp"
#include "moments_fold_impl.hpp"
#include "moments_kernels.hpp"

namespace bnrt::kernels {

template <class Ops>
constexpr MomentsKernelTable make_moments_table() noexcept {
  return MomentsKernelTable{&channels_first_moments<Ops>,
                            &channels_last_moments<Ops>,
                            &channels_first_moments_fast<Ops>,
                            &channels_last_moments_fast<Ops>,
                            &fold_moments<Ops>,
                            &update_running<Ops>,
                            &merge_block<Ops>};
}

}  // namespace bnrt::kernels
