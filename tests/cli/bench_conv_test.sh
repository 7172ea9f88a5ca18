#!/bin/sh
# `bnrt bench conv`: JSON records (one per implementation, plus the FMA peak), the table with a
# peer file folded in (--with), and usage errors. One small layer, one short sample each.
bnrt="$1"
. "$(dirname "$0")/common.sh"
quick="--layers dw3x3 --threads 1 --layouts nhwc --rounds 1 --sample-ms 1"

"$bnrt" bench conv $quick --json > "$work/out.jsonl"
grep -q '"op":"fma_peak"' "$work/out.jsonl" || fail "no fma_peak record"
record="\"op\":\"dw3x3\",\"model\":\"mobilenetv2\",\"shape\":\"144x56x56->144\",\"layout\":\"nhwc\",\"threads\":1,"
grep -q "$record.*\"impl\":\"bnrt\",\"median_us\":[0-9.]*,\"gflops\":[0-9.]*}" "$work/out.jsonl" ||
  fail "no bnrt record: $(cat "$work/out.jsonl")"
# Other implementations also carry their time over bnrt's, paired by round.
grep -q "$record.*\"impl\":\"unfused\",\"median_us\":[0-9.]*,\"gflops\":[0-9.]*,\"over_bnrt\":[0-9.]*}" \
  "$work/out.jsonl" || fail "no unfused record: $(cat "$work/out.jsonl")"
[ "$(grep -c '"op":"dw3x3"' "$work/out.jsonl")" -le 3 ] || fail "more than one record per impl"

# A peer record in the same format becomes a column; its ratio is peer time / bnrt time.
echo '{"op":"dw3x3","model":"mobilenetv2","shape":"144x56x56->144","layout":"nhwc","threads":1,"isa":"n/a","impl":"pytorch","median_us":1000000.0,"gflops":0.01}' > "$work/peer.jsonl"
"$bnrt" bench conv $quick --with "$work/peer.jsonl" > "$work/table.txt"
grep -q 'x_pytorch' "$work/table.txt" || fail "no peer column: $(cat "$work/table.txt")"
grep -q '^dw3x3 .* 1000000.0 ' "$work/table.txt" || fail "peer time not in the row"

# Usage errors exit 1 and say what is wrong.
if "$bnrt" bench conv --layers nope 2> "$work/err.txt"; then fail "unknown layer accepted"; fi
grep -q "no layer named 'nope'" "$work/err.txt" || fail "unclear error: $(cat "$work/err.txt")"
echo 'not json' > "$work/bad.jsonl"
"$bnrt" bench conv $quick --with "$work/bad.jsonl" > /dev/null  # non-record lines are skipped
echo '{"op":"dw3x3"}' > "$work/bad.jsonl"
if "$bnrt" bench conv $quick --with "$work/bad.jsonl" 2> "$work/err.txt"; then fail "bad peer file accepted"; fi
grep -q "is not a conv record" "$work/err.txt" || fail "unclear error: $(cat "$work/err.txt")"
echo "bench conv: ok"
