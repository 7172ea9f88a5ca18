// Buffers and parameters shared by the batch-norm runners: 64-byte aligned tensors (as any
// allocator for activations gives) filled with deterministic random data.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

#include <sys/mman.h>
#include <vector>

#include "batch_norm_runners.hpp"
#include "bnrt/batch_norm_params.hpp"

namespace bnrt::bench {

class AlignedFloats {
 public:
  explicit AlignedFloats(std::size_t size)
      : data_(
            static_cast<float*>(::operator new (size * sizeof(float) + 64, std::align_val_t{64}))),
        size_(size) {}
  float* data() noexcept { return data_.get(); }
  const float* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }

 private:
  struct Free {
    void operator()(float* p) const noexcept { ::operator delete (p, std::align_val_t{64}); }
  };
  std::unique_ptr<float, Free> data_;
  std::size_t size_;
};

/// Input, output and batch-norm statistics for one case.
struct CaseData {
  explicit CaseData(const BatchNormCase& c);
  BatchNormParams params() const { return {mean, var, gamma, beta, eps}; }

  std::size_t channels;
  AlignedFloats src;
  AlignedFloats dst;
  std::vector<float> mean, var, gamma, beta;
  float eps = 1e-5f;
};

std::unique_ptr<Runner> make_onednn_runner(const BatchNormCase& c, std::shared_ptr<CaseData> data);

}  // namespace bnrt::bench
