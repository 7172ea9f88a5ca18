#!/usr/bin/env bash
# Folds a few models with `bnrt fold` and has ONNX Runtime (onnxruntime-node, installed by
# tools/setup-ort-node.sh) run original and folded side by side. ORT computes in float32, so
# the two differ by float rounding: the check is relative difference <= 1e-5 of the largest
# output (a wrong fold shows up as O(1)). Skips (exit 77) when node or the package is missing.
# Usage: ort_crosscheck.sh BNRT_BINARY SOURCE_DIR ORT_NODE_DIR [MAKE_RESNET50_ONNX]
set -euo pipefail
bnrt=$1 source=$2 ort_dir=$3 make_resnet50=${4:-}
if ! command -v node >/dev/null || [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
  echo "skipped: node or onnxruntime-node not installed (bash tools/setup-ort-node.sh)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
models="tools/example/small_cnn.onnx [2,3,32,32]
tests/fuzz/corpus/conv_bn.onnx [1,3,5,5]
tests/fuzz/corpus/convt_bn.onnx [1,4,3,3]
tests/fuzz/corpus/gemm_matmul_bn.onnx [2,4]
tests/fuzz/corpus/identity_shared.onnx [1,2,4,4]
tests/fuzz/corpus/ir3_initializer_inputs.onnx [1,3,5,5]
tests/fuzz/corpus/resize_head.onnx [1,3,3,3]
tests/fuzz/corpus/matmul_transposed_weight.onnx [2,4]
tests/fuzz/corpus/pointwise_tail.onnx [1,2,4,4]"
if [ -n "$make_resnet50" ]; then
  "$make_resnet50" "$work/resnet50.onnx"
  models="$models
$work/resnet50.onnx [1,3,224,224]"
fi
while read -r model dims; do
  case $model in /*) ;; *) model="$source/$model" ;; esac
  "$bnrt" fold "$model" -o "$work/folded.onnx" --quiet
  result=$(NODE_PATH="$ort_dir/node_modules" node "$source/tests/onnx/ort_compare.js" \
    "$model" "$work/folded.onnx" "$dims")
  relative=$(echo "$result" | sed 's/.*"relative":\([^}]*\)}.*/\1/')
  verdict=$(awk -v r="$relative" 'BEGIN { print (r <= 1e-5) ? "ok" : "FAIL" }')
  echo "$verdict ${model#"$source/"} $result"
  [ "$verdict" = ok ] || status=1
done <<< "$models"
exit $status
