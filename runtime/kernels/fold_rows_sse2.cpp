// The fold row loops compiled for sse2; built with this ISA's flags only.
#include "fold_row_impl.hpp"

namespace bnrt::kernels {

const FoldRowKernels& fold_row_kernels_sse2() noexcept {
  static constexpr FoldRowKernels kTable = make_fold_row_kernels();
  return kTable;
}

}  // namespace bnrt::kernels
