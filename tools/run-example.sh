#!/usr/bin/env bash
# The README's main-job command: install dependencies, build, fold the bundled example ONNX model
# (report + verification), then print the batch-norm latency / bandwidth table over the
# ResNet-50 ladder (bnrt vs memcpy vs naive vs oneDNN).
# Extra arguments go to `bnrt bench` (e.g. --batch 1,32 --json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null
mkdir -p build/example
echo "== bnrt fold: the bundled example model (tools/example/small_cnn.onnx) =="
build/tools/bnrt fold tools/example/small_cnn.onnx -o build/example/small_cnn.folded.onnx \
  --verify --report build/example/fold_report.json
echo "(JSON report: build/example/fold_report.json)"
echo
echo "== bnrt bench: batch norm over the ResNet-50 ladder =="
build/tools/bnrt bench "$@"
