// Threading: the output is bitwise identical for any thread count (arena of 1 or 2, the
// max_threads option), on tensors large enough to be split, including the streaming-store path
// for outputs too big to cache. Also that ops are safe to run concurrently.
#include <gtest/gtest.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <cstring>

#include "task_split.hpp"
#include "test_buffer.hpp"
#include "test_util.hpp"

namespace bnrt::testing {
namespace {

struct ThreadCase {
  Layout layout;
  std::vector<std::int64_t> dims;
};

std::vector<float> run_with(const BatchNorm& bn, const ThreadCase& tc, const std::vector<float>& x,
                            const std::vector<float>* residual, int arena_threads,
                            std::size_t misalign_bytes) {
  TestBuffer dst(x.size(), misalign_bytes);
  tbb::task_arena arena(arena_threads);
  arena.execute([&] {
    const ConstTensor src(x.data(), tc.dims, tc.layout);
    if (residual != nullptr) {
      bn.run(src, ConstTensor(residual->data(), tc.dims, tc.layout),
             MutableTensor(dst.data(), tc.dims, tc.layout));
    } else {
      bn.run(src, MutableTensor(dst.data(), tc.dims, tc.layout));
    }
  });
  EXPECT_TRUE(dst.guards_intact());
  return dst.values();
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class ThreadCount : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam())) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam());
    scope_ = std::make_unique<IsaScope>(GetParam());
  }
  std::unique_ptr<IsaScope> scope_;
};

// 2 x 64 x 56 x 56 is 1.6 MB: split into two tasks. 1 x 2048 x 7 x 7 has planes that straddle
// vectors and chunk boundaries fall mid-plane. The 6.3M-element case (25 MB) takes the
// streaming-store path; it is also run misaligned so its head and tail are partial vectors.
TEST_P(ThreadCount, OneAndTwoThreadsBitwiseIdentical) {
  const std::vector<ThreadCase> cases = {
      {Layout::nchw, {2, 64, 56, 56}},
      {Layout::nhwc, {2, 56, 56, 64}},
      {Layout::nchw, {4, 2048, 7, 7}},
      {Layout::nhwc, {4, 7, 7, 2048}},
      {Layout::nc, {4096, 257}},
      {Layout::ncdhw, {1, 3, 33, 65, 63}},
      {Layout::nchw, {2, 96, 181, 181}},
      {Layout::nhwc, {2, 181, 181, 96}},
      // 8.9 MB of 2048 channels: row groups from a different pattern offset in each task.
      {Layout::nhwc, {1, 33, 33, 2048}},
      // 10 MB: streamed on one thread, cached on two (the threshold depends on the split).
      {Layout::nhwc, {1, 200, 200, 64}},
      // Planes narrower than a vector, in groups of a vector's width of planes: the second
      // task starts mid-group (3x3: 144-element groups) and at a channel other than 0.
      {Layout::nchw, {61, 509, 3, 3}},
      {Layout::ncl, {2601, 37, 2}},
  };
  auto rng = make_rng(42);
  for (const ThreadCase& tc : cases) {
    SCOPED_TRACE(std::string(layout_name(tc.layout)) + " " + dims_text(tc.dims));
    // Read and written once: at least two tasks on two threads.
    ASSERT_GE(tasks_in_arena(2 * sizeof(float) * element_count(tc.dims), 2), 2u);
    const std::size_t channels =
        static_cast<std::size_t>(tc.dims[static_cast<std::size_t>(layout_channel_axis(tc.layout))]);
    const RandomStats stats(rng, channels);
    const std::vector<float> x = random_floats(rng, element_count(tc.dims), -3.0, 3.0);
    const std::vector<float> r = random_floats(rng, x.size(), -1.0, 1.0);
    const BatchNorm bn = BatchNorm::create(stats.params(), {.activation = Activation::relu()});
    for (const std::vector<float>* residual :
         {static_cast<const std::vector<float>*>(nullptr), &r}) {
      for (std::size_t misalign : {0, 4}) {
        const auto one = run_with(bn, tc, x, residual, 1, misalign);
        const auto two = run_with(bn, tc, x, residual, 2, misalign);
        EXPECT_TRUE(bitwise_equal(one, two))
            << "residual=" << (residual != nullptr) << " misalign=" << misalign;
        // And it is right, not merely consistent.
        const auto expected = reference::batch_norm(stats.reference_case(Activation::relu()), x,
                                                    residual, tc.layout, tc.dims);
        EXPECT_TRUE(matches_reference(two.data(), expected));
      }
    }
  }
}

// max_threads = 1 inside a 2-thread arena gives the same bits as the arena alone.
TEST_P(ThreadCount, MaxThreadsOptionCapsWithoutChangingResults) {
  auto rng = make_rng(7);
  const ThreadCase tc{Layout::nchw, {2, 64, 56, 56}};
  const RandomStats stats(rng, 64);
  const std::vector<float> x = random_floats(rng, element_count(tc.dims), -3.0, 3.0);
  const BatchNorm capped = BatchNorm::create(stats.params(), {.max_threads = 1});
  const BatchNorm free = BatchNorm::create(stats.params());
  EXPECT_TRUE(
      bitwise_equal(run_with(capped, tc, x, nullptr, 2, 0), run_with(free, tc, x, nullptr, 2, 0)));
}

INSTANTIATE_TEST_SUITE_P(Isas, ThreadCount, ::testing::ValuesIn(all_isas()),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

// One op, many concurrent callers (each in its own outer TBB task), each with its own output.
TEST(BatchNormConcurrency, SharedOpRunsConcurrently) {
  auto rng = make_rng(99);
  const RandomStats stats(rng, 32);
  const BatchNorm bn = BatchNorm::create(stats.params());
  const std::vector<std::int64_t> dims = {3, 32, 40, 40};
  const std::vector<float> x = random_floats(rng, element_count(dims), -3.0, 3.0);
  std::vector<float> expected(x.size());
  bn.run(ConstTensor(x.data(), dims, Layout::nchw),
         MutableTensor(expected.data(), dims, Layout::nchw));
  std::vector<std::vector<float>> outputs(16, std::vector<float>(x.size()));
  tbb::parallel_for(0, 16, [&](int k) {
    bn.run(ConstTensor(x.data(), dims, Layout::nchw),
           MutableTensor(outputs[static_cast<std::size_t>(k)].data(), dims, Layout::nchw));
  });
  for (const auto& out : outputs) EXPECT_TRUE(bitwise_equal(out, expected));
}

}  // namespace
}  // namespace bnrt::testing
