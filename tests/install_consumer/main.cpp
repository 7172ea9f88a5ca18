// The README's embedding example, built against an installed bnrt by tests/install_test.cmake.
#include <bnrt/bnrt.hpp>
#include <cstdio>
#include <vector>

int main() {
  std::vector<float> mean{0.5f, -1.0f}, var{4.0f, 0.25f}, gamma{1.0f, 2.0f}, beta{0.0f, 0.5f};
  bnrt::BatchNorm bn = bnrt::BatchNorm::create({mean, var, gamma, beta, /*eps=*/0.0},
                                               {.activation = bnrt::Activation::relu()});
  std::vector<float> x(1 * 2 * 3 * 3, 1.5f);  // N=1, C=2, H=W=3, NCHW
  bn.run(bnrt::ConstTensor(x.data(), {1, 2, 3, 3}, bnrt::Layout::nchw),
         bnrt::MutableTensor(x.data(), {1, 2, 3, 3}, bnrt::Layout::nchw));  // in place
  std::printf("channel 0: %g, channel 1: %g (isa %s)\n", x[0], x[9],
              std::string(bnrt::isa_name(bn.isa())).c_str());
  // (1.5 - 0.5) / 2 * 1 + 0 = 0.5 and (1.5 + 1) / 0.5 * 2 + 0.5 = 10.5
  return x[0] == 0.5f && x[9] == 10.5f ? 0 : 1;
}
