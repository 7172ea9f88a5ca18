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
  grep -q "\"op\":\"$op_impl\",\"median_us\":$number,\"gbps\":$number,\"samples_us\":\[$number\]}" \
    "$work/train.jsonl" ||
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
# Every round's sample, in round order; the median is the middle one.
"$bnrt" bench --shapes 4x6 --threads 1 --rounds 3 --sample-ms 1 --json > "$work/rounds.jsonl"
grep '"impl":"bnrt"' "$work/rounds.jsonl" | awk '
  { match($0, /"median_us":[0-9.]+/); median = substr($0, RSTART + 12, RLENGTH - 12)
    match($0, /"samples_us":\[[0-9.,]*\]/); list = substr($0, RSTART + 14, RLENGTH - 15)
    n = split(list, s, ",")
    if (n != 3) { print "samples: " list; exit 1 }
    below = 0; above = 0
    for (i = 1; i <= 3; i++) { if (s[i] + 0 < median + 0) below++; if (s[i] + 0 > median + 0) above++ }
    if (below > 1 || above > 1) { print "median " median " of " list; exit 1 } }' ||
  fail "samples_us: $(cat "$work/rounds.jsonl")"
for bad in 8 1x2x3x4x5x6 0x3 2xx3; do
  if "$bnrt" bench --shapes "$bad" 2> "$work/err.txt"; then fail "--shapes $bad accepted"; fi
  grep -q -- "--shapes" "$work/err.txt" || fail "unclear error: $(cat "$work/err.txt")"
done
if "$bnrt" bench --shapes 2x3 --batch 4 2> "$work/err.txt"; then fail "--shapes with --batch"; fi
echo "bench json: ok"
