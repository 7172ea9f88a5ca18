#!/usr/bin/env bash
# Installs onnxruntime-node (ONNX Runtime's CPU build for Node.js, from the npm registry) into
# build/ort-node, for the optional independent check tests/onnx/ort_crosscheck.sh. Its install
# script would fetch GPU add-ons from a host this machine cannot reach; the CPU binaries are in
# the package itself, so scripts are skipped. Best effort: without node/npm it says so, exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
target=build/ort-node
if [ -d "$target/node_modules/onnxruntime-node" ]; then exit 0; fi
if ! command -v npm >/dev/null; then
  echo "setup-ort-node: npm not found; the ONNX Runtime cross-check will be skipped" >&2
  exit 0
fi
mkdir -p "$target"
if ! (cd "$target" && npm install --silent --no-audit --no-fund --ignore-scripts \
      onnxruntime-node@1.20.1 >/dev/null 2>&1); then
  echo "setup-ort-node: npm install failed; the ONNX Runtime cross-check will be skipped" >&2
fi
