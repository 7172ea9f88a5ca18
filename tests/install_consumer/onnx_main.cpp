// Folds a model at load time through an installed bnrt::onnx (tests/install_test.cmake).
#include <bnrt/onnx.hpp>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  bnrt::onnx::Model model = bnrt::onnx::Model::load(argv[1]);
  const bnrt::onnx::PassReport report = model.fold_batch_norms();
  std::printf("%zu of %zu BatchNormalization folded\n", report.folded(), report.decisions.size());
  return report.folded() > 0 && model.check().passed ? 0 : 1;
}
