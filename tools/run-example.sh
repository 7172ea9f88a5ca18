#!/usr/bin/env bash
# The README's main-job command: install dependencies, build, and print the batch-norm
# latency / bandwidth table over the ResNet-50 ladder (bnrt vs memcpy vs naive vs oneDNN).
# Extra arguments go to `bnrt bench` (e.g. --batch 1,32 --json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null
build/tools/bnrt bench "$@"
