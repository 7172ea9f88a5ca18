// Writes the unfolded ResNet-50 ONNX model of bench/resnet50_onnx.hpp (53 Conv +
// BatchNormalization, 102 MB of fp32 weights, random) to the given path: a real-sized model for
// the ONNX Runtime cross-check and for trying `bnrt fold` by hand.
//   build/tools/make_resnet50_onnx resnet50.onnx
#include <cstdio>
#include <fstream>

#include "../bench/resnet50_onnx.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_resnet50_onnx OUT.onnx\n");
    return 1;
  }
  const ::onnx::ModelProto model = bnrt::bench::ResNet50Builder(1).build();
  std::ofstream file(argv[1], std::ios::binary);
  return model.SerializeToOstream(&file) && file.flush() ? 0 : 2;
}
