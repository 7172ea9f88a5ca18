#!/bin/sh
# `bnrt bench` and `bnrt bench train` with --json: one record per (op, shape, layout, threads,
# impl), every pass under its own op name, the training table's columns, and --shapes. One
# batch, one thread, one short sample each.
bnrt="$1"
. "$(dirname "$0")/common.sh"
quick="--batch 1 --threads 1 --rounds 1 --sample-ms 1"
number='[0-9.]*'

# Each record's key (everything before the timing) appears once.
unique_keys() {
  sed 's/,"median_us".*//' "$1" | sort | uniq -d > "$work/dupes.txt"
  [ ! -s "$work/dupes.txt" ] || fail "records measured twice: $(cat "$work/dupes.txt")"
}

"$bnrt" bench train $quick --layouts nchw --json > "$work/train.jsonl"
row='"shape":"1x512x7x7","layout":"nchw","threads":1'
for op_impl in 'batch_norm".*"impl":"memcpy' 'batch_norm".*"impl":"bnrt' \
  'batch_stats".*"impl":"bnrt' 'batch_stats_fast".*"impl":"bnrt' \
  'batch_norm_train".*"impl":"bnrt'; do
  grep -q "\"op\":\"$op_impl\",\"median_us\":$number,\"gbps\":$number}" "$work/train.jsonl" ||
    fail "no $op_impl record: $(head -5 "$work/train.jsonl")"
  grep "\"op\":\"$op_impl\"" "$work/train.jsonl" | grep -q "$row" || fail "no $op_impl for $row"
done
unique_keys "$work/train.jsonl"

"$bnrt" bench $quick --layouts nhwc --json > "$work/eval.jsonl"
grep -q '"op":"batch_norm","shape":"1x7x7x2048","layout":"nhwc","threads":1,"isa":"[a-z0-9]*","impl":"bnrt"' \
  "$work/eval.jsonl" || fail "no eval record: $(head -5 "$work/eval.jsonl")"
grep -q '"impl":"naive"' "$work/eval.jsonl" || fail "no naive record"
if grep -q '"op":"batch_stats\|"op":"batch_norm_train' "$work/eval.jsonl"; then
  fail "eval bench measured training passes"
fi
unique_keys "$work/eval.jsonl"

"$bnrt" bench train $quick --layouts nhwc --no-tiny > "$work/train.txt"
grep -q 'train/eval' "$work/train.txt" || fail "no train/eval column: $(cat "$work/train.txt")"
grep -q '^1x7x7x2048 *nhwc *1 ' "$work/train.txt" || fail "no 1x7x7x2048 row"
if grep -q '^1x16x8x8' "$work/train.txt"; then fail "--no-tiny kept the tiny maps"; fi
# Your own shapes, PyTorch's order, in the layout of their rank; (N, C) once.
"$bnrt" bench --shapes 2x3x5,4x6 --threads 1 --rounds 1 --sample-ms 1 --json > "$work/shapes.jsonl"
for shape_layout in '"2x3x5","layout":"ncl"' '"2x5x3","layout":"nlc"' '"4x6","layout":"nc"'; do
  grep -q "\"op\":\"batch_norm\",\"shape\":$shape_layout,.*\"impl\":\"bnrt\"" "$work/shapes.jsonl" ||
    fail "no bnrt record for $shape_layout: $(cat "$work/shapes.jsonl")"
done
unique_keys "$work/shapes.jsonl"
if grep -q '1x64x56x56' "$work/shapes.jsonl"; then fail "--shapes kept the ladder"; fi
for bad in 8 1x2x3x4x5x6 0x3 2xx3; do
  if "$bnrt" bench --shapes "$bad" 2> "$work/err.txt"; then fail "--shapes $bad accepted"; fi
  grep -q -- "--shapes" "$work/err.txt" || fail "unclear error: $(cat "$work/err.txt")"
done
if "$bnrt" bench --shapes 2x3 --batch 4 2> "$work/err.txt"; then fail "--shapes with --batch"; fi
echo "bench json: ok"
