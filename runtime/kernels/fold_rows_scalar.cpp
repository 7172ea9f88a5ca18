// The fold row loops compiled as plain scalar code (auto-vectorization off for this unit).
#include "fold_row_impl.hpp"

namespace bnrt::kernels {

const FoldRowKernels& fold_row_kernels_scalar() noexcept {
  static constexpr FoldRowKernels kTable = make_fold_row_kernels();
  return kTable;
}

}  // namespace bnrt::kernels
