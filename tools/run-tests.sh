#!/usr/bin/env bash
# The README's test command: install dependencies, build (Release) and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build
bash tools/setup-ort-node.sh  # optional: ONNX Runtime as an independent check of `bnrt fold`
ctest --test-dir build --output-on-failure -j "$(nproc)"
