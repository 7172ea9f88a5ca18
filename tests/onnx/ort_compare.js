// Independent check of `bnrt fold` with ONNX Runtime (onnxruntime-node from npm): runs the
// original and the folded model on the same random input and prints the largest difference
// relative to the largest output, as JSON. Usage: node ort_compare.js ORIGINAL FOLDED DIMS_JSON
const ort = require('onnxruntime-node');

(async () => {
  const [original, folded, dimsJson] = process.argv.slice(2);
  const dims = JSON.parse(dimsJson);
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  let seed = 20261121;
  for (let i = 0; i < count; ++i) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    data[i] = (seed / 2147483648) * 2 - 1;
  }
  const run = async (path) => {
    const session = await ort.InferenceSession.create(path);
    const outputs = await session.run({[session.inputNames[0]]: new ort.Tensor('float32', data, dims)});
    return session.outputNames.map((name) => outputs[name].data);
  };
  const [a, b] = [await run(original), await run(folded)];
  let diff = 0, magnitude = 0;
  for (let o = 0; o < a.length; ++o) {
    for (let i = 0; i < a[o].length; ++i) {
      diff = Math.max(diff, Math.abs(a[o][i] - b[o][i]));
      magnitude = Math.max(magnitude, Math.abs(a[o][i]));
    }
  }
  console.log(JSON.stringify({diff, magnitude, relative: diff / magnitude}));
})().catch((e) => { console.error(e.message); process.exit(2); });
