// Proof that no kernel reads or writes outside its tensors, including the masked AVX2 / AVX-512
// tails that AddressSanitizer cannot see into: every tensor is placed flush against an
// inaccessible (PROT_NONE) page, once ending at it and once starting right after it, so one
// enabled lane too many faults and kills the test.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "test_util.hpp"

namespace bnrt::testing {
namespace {

/// `count` floats flush against a PROT_NONE page: after the data (`guard_after`) or before it.
class GuardedFloats {
 public:
  GuardedFloats(std::size_t count, bool guard_after) : count_(count) {
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t data_pages = (count * sizeof(float) + page - 1) / page;
    bytes_ = (data_pages + 1) * page;
    void* base = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) throw std::runtime_error("mmap failed");
    base_ = static_cast<unsigned char*>(base);
    if (guard_after) {
      mprotect(base_ + data_pages * page, page, PROT_NONE);
      data_ = reinterpret_cast<float*>(base_ + data_pages * page) - count;
    } else {
      mprotect(base_, page, PROT_NONE);
      data_ = reinterpret_cast<float*>(base_ + page);
    }
  }
  ~GuardedFloats() { munmap(base_, bytes_); }
  GuardedFloats(const GuardedFloats&) = delete;
  GuardedFloats& operator=(const GuardedFloats&) = delete;

  float* data() noexcept { return data_; }

 private:
  std::size_t count_;
  std::size_t bytes_ = 0;
  unsigned char* base_ = nullptr;
  float* data_ = nullptr;
};

class GuardPages : public ::testing::TestWithParam<Isa> {};

TEST_P(GuardPages, KernelsStayInsideTheirTensors) {
  if (!isa_supported(GetParam())) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam());
  IsaScope scope(GetParam());
  auto rng = make_rng(77);
  // Sizes with every tail length for every vector width, plus a multi-page tensor.
  const std::vector<std::int64_t> spatials = {1, 3, 7, 15, 17, 33, 1031};
  for (Layout layout : all_layouts()) {
    for (std::int64_t channels : {1, 5, 16, 19}) {
      for (std::int64_t spatial : spatials) {
        const auto dims = make_dims(layout, 2, channels, layout == Layout::nc ? 1 : spatial);
        const std::size_t count = element_count(dims);
        const RandomStats stats(rng, static_cast<std::size_t>(channels));
        for (bool guard_after : {true, false}) {
          for (StorePolicy policy : {StorePolicy::cached, StorePolicy::streaming}) {
            const BatchNorm bn = BatchNorm::create(
                stats.params(), {.activation = Activation::relu(), .store_policy = policy});
            GuardedFloats src(count, guard_after), residual(count, guard_after),
                dst(count, guard_after);
            const auto x = random_floats(rng, count, -2.0, 2.0);
            std::memcpy(src.data(), x.data(), count * sizeof(float));
            std::memcpy(residual.data(), x.data(), count * sizeof(float));
            bn.run(ConstTensor(src.data(), dims, layout),
                   ConstTensor(residual.data(), dims, layout),
                   MutableTensor(dst.data(), dims, layout));
            bn.run(ConstTensor(src.data(), dims, layout), MutableTensor(src.data(), dims, layout));
            const auto expected = reference::batch_norm(stats.reference_case(Activation::relu()), x,
                                                        &x, layout, dims);
            ASSERT_TRUE(matches_reference(dst.data(), expected))
                << layout_name(layout) << " " << dims_text(dims);
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, GuardPages, ::testing::ValuesIn(all_isas()),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

}  // namespace
}  // namespace bnrt::testing
