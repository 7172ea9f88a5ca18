#!/usr/bin/python3
"""Seed corpus for the `bnrt fold` fuzzer (tests/fuzz/corpus/): small models that reach every
fold rule, so mutations start from inputs the pass takes seriously.

Needs Debian's python3-onnx and numpy:  /usr/bin/python3 tools/make_fuzz_seeds.py
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fuzz", "corpus")
rng = np.random.default_rng(7)


def t(name, shape, dtype=np.float32, lo=-1.0, hi=1.0):
    return numpy_helper.from_array(rng.uniform(lo, hi, shape).astype(dtype), name)


def bn_params(prefix, c, dtype=np.float32):
    return [t(prefix + ".s", [c], dtype), t(prefix + ".b", [c], dtype), t(prefix + ".m", [c], dtype),
            t(prefix + ".v", [c], dtype, 0.2, 2.0)]


def bn(prefix, x, c, out, dtype=np.float32, **attrs):
    params = bn_params(prefix, c, dtype)
    node = helper.make_node("BatchNormalization", [x] + [p.name for p in params], [out], name=prefix,
                            **attrs)
    return node, params


def model(nodes, inits, inputs, outputs, opset=13, elem=TensorProto.FLOAT):
    graph = helper.make_graph(nodes, "seed",
                              [helper.make_tensor_value_info(n, elem, s) for n, s in inputs],
                              [helper.make_tensor_value_info(n, elem, s) for n, s in outputs], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def save(name, m):
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


def main():
    os.makedirs(OUT, exist_ok=True)
    # Conv + BN + Relu, and BN before an unpadded conv.
    b1, p1 = bn("bn1", "c", 4, "y1")
    b2, p2 = bn("keep_me", "y1", 4, "y2")
    save("conv_bn", model(
        [helper.make_node("Conv", ["x", "w", "cb"], ["c"], name="conv", pads=[1, 1, 1, 1]), b1, b2,
         helper.make_node("Conv", ["y2", "w2"], ["y"], name="conv2")],
        [t("w", [4, 3, 3, 3]), t("cb", [4]), t("w2", [2, 4, 1, 1])] + p1 + p2,
        [("x", [1, 3, 5, 5])], [("y", [1, 2, 5, 5])]))
    # Grouped ConvTranspose + BN.
    b, p = bn("bn", "c", 6, "y")
    save("convt_bn", model([helper.make_node("ConvTranspose", ["x", "w"], ["c"], name="ct", group=2,
                                             strides=[2, 2]), b],
                           [t("w", [4, 3, 2, 2])] + p, [("x", [1, 4, 3, 3])], [("y", [1, 6, 6, 6])]))
    # Gemm with alpha / beta / scalar C, MatMul, and BN before a Gemm.
    b1, p1 = bn("bn1", "g", 5, "h")
    b2, p2 = bn("bn2", "m", 3, "k")
    save("gemm_matmul_bn", model(
        [helper.make_node("Gemm", ["x", "w", "c"], ["g"], name="gemm", alpha=0.5, beta=2.0, transB=1),
         b1, helper.make_node("MatMul", ["h", "w2"], ["m"], name="mm"), b2,
         helper.make_node("Gemm", ["k", "w3"], ["y"], name="gemm2")],
        [t("w", [5, 4]), numpy_helper.from_array(np.array(0.5, np.float32), "c"), t("w2", [5, 3]),
         t("w3", [3, 2])] + p1 + p2, [("x", [2, 4])], [("y", [2, 2])]))
    # float16 conv whose BN overflows fp16.
    p = bn_params("bn", 2, np.float16)
    p[3] = numpy_helper.from_array(np.array([1.0, 0.0], np.float16), "bn.v")
    save("fp16_overflow", model(
        [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
         helper.make_node("BatchNormalization", ["c"] + [q.name for q in p], ["y"], name="bn",
                          epsilon=1e-12)],
        [t("w", [2, 1, 1, 1], np.float16)] + p, [("x", [1, 1, 2, 2])], [("y", [1, 2, 2, 2])],
        elem=TensorProto.FLOAT16))
    # BN inside an If branch, with weights from a Constant node.
    b, p = bn("inner_bn", "ic", 2, "iy")
    branch = helper.make_graph(
        [helper.make_node("Constant", [], ["iw"], value=t("iw", [2, 2, 1, 1])),
         helper.make_node("Conv", ["x", "iw"], ["ic"], name="inner_conv"), b], "branch", [],
        [helper.make_tensor_value_info("iy", TensorProto.FLOAT, [1, 2, 2, 2])], p)
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], name="if", then_branch=branch, else_branch=branch)],
        "seed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 2, 2]),
                 helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2, 2])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    save("subgraph_bn", m)
    # BN-7 with spatial = 0, and a training-mode BN-14.
    b, p = bn("bn", "c", 2, "y", spatial=0)
    save("bn7_spatial0", model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv"), b],
                               [t("w", [2, 2, 1, 1])] + p, [("x", [1, 2, 2, 2])],
                               [("y", [1, 2, 2, 2])], opset=7))
    p = bn_params("bn", 2)
    save("bn14_training", model(
        [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
         helper.make_node("BatchNormalization", ["c"] + [q.name for q in p], ["y", "rm", "rv"],
                          name="bn", training_mode=1)],
        [t("w", [2, 2, 1, 1])] + p, [("x", [1, 2, 2, 2])], [("y", [1, 2, 2, 2])], opset=14))
    # torch.onnx's shared parameters: one bias and one set of BN statistics read by two layers
    # through Identity nodes (the bias through a chain of two).
    p = bn_params("bn", 3)
    nodes = [helper.make_node("Identity", ["cb"], ["cb_once"], name="cb_id1"),
             helper.make_node("Identity", ["cb_once"], ["cb_copy"], name="cb_id2")]
    for k in (1, 2):
        nodes += [helper.make_node("Identity", [q.name], [f"{q.name}_{k}"]) for q in p]
        nodes += [helper.make_node("Conv", ["x", f"w{k}", "cb" if k == 1 else "cb_copy"], [f"c{k}"],
                                   name=f"conv{k}", pads=[1, 1, 1, 1]),
                  helper.make_node("BatchNormalization", [f"c{k}"] + [f"{q.name}_{k}" for q in p],
                                   [f"y{k}"], name=f"bn{k}")]
    nodes.append(helper.make_node("Add", ["y1", "y2"], ["y"], name="add"))
    save("identity_shared", model(nodes, [t("w1", [3, 2, 3, 3]), t("w2", [3, 2, 3, 3]), t("cb", [3])] + p,
                                  [("x", [1, 2, 4, 4])], [("y", [1, 3, 4, 4])]))
    # IR version 3 (opset 8): every initializer also a graph input, and a constant there.
    b, p = bn("bn", "c", 4, "y")
    inits = [t("w", [4, 3, 3, 3])] + p
    m = model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]), b], inits,
              [("x", [1, 3, 5, 5])] + [(i.name, list(i.dims)) for i in inits], [("y", [1, 4, 5, 5])],
              opset=8)
    m.ir_version = 3
    save("ir3_initializer_inputs", m)
    # The evaluator's shape ops after a folded BN: Pad, ceil-mode MaxPool, Transpose, Unsqueeze,
    # Squeeze, ReduceMean.
    b, p = bn("bn", "c", 3, "n")
    i64 = lambda name, values: numpy_helper.from_array(np.array(values, np.int64), name)
    save("evaluator_ops", model(
        [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"), b,
         helper.make_node("Pad", ["n", "pads"], ["p"], name="pad"),
         helper.make_node("MaxPool", ["p"], ["q"], name="pool", kernel_shape=[2, 2], strides=[2, 2],
                          ceil_mode=1),
         helper.make_node("Transpose", ["q"], ["t"], name="transpose", perm=[0, 2, 3, 1]),
         helper.make_node("Unsqueeze", ["t", "axis0"], ["u"], name="unsqueeze"),
         helper.make_node("Squeeze", ["u", "axis0"], ["s"], name="squeeze"),
         helper.make_node("ReduceMean", ["s"], ["y"], name="mean", axes=[1, 2], keepdims=0)],
        [t("w", [3, 2, 1, 1]), i64("pads", [0, 0, 1, 0, 0, 0, 0, 1]), i64("axis0", [0])] + p,
        [("x", [1, 2, 4, 4])], [("y", [1, 3])]))
    # A segmentation head's upsampling between folded BNs: Resize by sizes (linear,
    # pytorch_half_pixel) and by scales (cubic, then nearest asymmetric).
    b1, p1 = bn("bn1", "c1", 2, "n1")
    b2, p2 = bn("bn2", "c2", 2, "n2")
    f32 = lambda name, values: numpy_helper.from_array(np.array(values, np.float32), name)
    save("resize_head", model(
        [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1"), b1,
         helper.make_node("Resize", ["n1", "", "", "sizes"], ["r1"], name="up", mode="linear",
                          coordinate_transformation_mode="pytorch_half_pixel"),
         helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"), b2,
         helper.make_node("Resize", ["n2", "", "scales"], ["r2"], name="cubic", mode="cubic",
                          exclude_outside=1),
         helper.make_node("Resize", ["r2", "", "half"], ["y"], name="down",
                          coordinate_transformation_mode="asymmetric", nearest_mode="ceil")],
        [t("w1", [2, 3, 1, 1]), t("w2", [2, 2, 1, 1]), i64("sizes", [1, 2, 6, 5]),
         f32("scales", [1, 1, 1.5, 2]), f32("half", [1, 1, 0.5, 0.5])] + p1 + p2,
        [("x", [1, 3, 3, 3])], [("y", [1, 2, 4, 5])]))
    # Bias-free Linears as torch.onnx writes them without constant folding: MatMul of a
    # Transpose of the weight, a BN after one and before the next.
    b1, p1 = bn("bn1", "m1", 6, "n1")
    b2, p2 = bn("bn2", "r", 6, "n2")
    save("matmul_transposed_weight", model(
        [helper.make_node("Transpose", ["w1"], ["w1t"], name="t1", perm=[1, 0]),
         helper.make_node("MatMul", ["x", "w1t"], ["m1"], name="linear1"), b1,
         helper.make_node("Relu", ["n1"], ["r"], name="relu"), b2,
         helper.make_node("Transpose", ["w2"], ["w2t"], name="t2"),
         helper.make_node("MatMul", ["n2", "w2t"], ["y"], name="linear2")],
        [t("w1", [6, 4]), t("w2", [3, 6])] + p1 + p2, [("x", [2, 4])], [("y", [2, 3])]))

    # Elementwise tails after folded BNs: PRelu, Elu, a decode with Pow / Exp / Sqrt, variadic
    # Max and Mean, Expand and ConstantOfShape.
    b1, p1 = bn("bn1", "c1", 3, "n1")
    save("pointwise_tail", model(
        [helper.make_node("Conv", ["x", "w"], ["c1"], name="conv"), b1,
         helper.make_node("PRelu", ["n1", "slope"], ["a"], name="prelu"),
         helper.make_node("Elu", ["a"], ["e"], name="elu", alpha=0.5),
         helper.make_node("Pow", ["e", "two"], ["p"], name="pow"),
         helper.make_node("Exp", ["p"], ["q"], name="exp"),
         helper.make_node("Sqrt", ["q"], ["r"], name="sqrt"),
         helper.make_node("ConstantOfShape", ["shape"], ["k"], name="fill",
                          value=numpy_helper.from_array(np.array([0.25], np.float32), "v")),
         helper.make_node("Expand", ["r", "shape"], ["s"], name="expand"),
         helper.make_node("Max", ["s", "k", "n1"], ["m"], name="max"),
         helper.make_node("Mean", ["m", "k"], ["y"], name="mean")],
        [t("w", [3, 2, 1, 1]), t("slope", [3, 1, 1]), f32("two", [2.0]),
         i64("shape", [1, 3, 4, 4])] + p1,
        [("x", [1, 2, 4, 4])], [("y", [1, 3, 4, 4])]))

    # Opsets 6 and 3: BN-6 / BN-1 with is_test (and consumed_inputs), Add broadcasting with
    # `broadcast` / `axis`, Reshape-1's shape attribute, a MatMul that becomes a Gemm and a Gemm
    # with broadcast = 1.
    for opset in (6, 3):
        legacy = {"is_test": 1} if opset == 6 else {"is_test": 1, "consumed_inputs": [0, 0, 0, 1, 1]}
        b1, p1 = bn("bn1", "c", 3, "n1", **legacy)
        b2, p2 = bn("bn2", "mm", 4, "n2", **legacy)
        b3, p3 = bn("bn3", "g", 5, "y", **legacy)
        reshape = (helper.make_node("Reshape", ["a", "shape"], ["r"], name="reshape") if opset >= 5
                   else helper.make_node("Reshape", ["a"], ["r"], name="reshape", shape=[2, 27]))
        save(f"legacy_opset{opset}", model(
            [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"), b1,
             helper.make_node("Add", ["n1", "bias"], ["a"], name="add", broadcast=1, axis=1),
             reshape, helper.make_node("MatMul", ["r", "m"], ["mm"], name="matmul"), b2,
             helper.make_node("Gemm", ["n2", "gw", "gc"], ["g"], name="gemm", broadcast=1), b3],
            [t("w", [3, 2, 1, 1]), t("bias", [3]), i64("shape", [2, 27]), t("m", [27, 4]),
             t("gw", [4, 5]), t("gc", [5])] + p1 + p2 + p3,
            [("x", [2, 2, 3, 3])], [("y", [2, 5])], opset=opset))

    # Opset 1: Pad-1 (`paddings`), Split-1 with its sizes as a second input, Cast-1 with `to`
    # as a type's name, after a folded BN-1.
    b1, p1 = bn("bn1", "c", 3, "n1", is_test=1, consumed_inputs=[0, 0, 0, 1, 1])
    save("legacy_opset1", model(
        [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"), b1,
         helper.make_node("Pad", ["n1"], ["p"], name="pad", paddings=[0, 0, 1, 1, 0, 0, 1, 1],
                          value=0.5),
         helper.make_node("Split", ["p", "sizes"], ["s0", "s1"], name="split", axis=1),
         helper.make_node("Cast", ["s1"], ["k"], name="cast", to="FLOAT"),
         helper.make_node("Concat", ["k", "s0"], ["y"], name="concat")],
        [t("w", [3, 2, 1, 1]), i64("sizes", [1, 2])] + p1,
        [("x", [1, 2, 3, 3])], [("y", [1, 3, 5, 5])], opset=1))

    # A crop of a folded BN's output by tf_crop_and_resize (roi partly outside the input).
    b1, p1 = bn("bn1", "c1", 2, "n1")
    save("resize_crop", model(
        [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1"), b1,
         helper.make_node("Resize", ["n1", "roi", "", "sizes"], ["y"], name="crop",
                          mode="linear", coordinate_transformation_mode="tf_crop_and_resize",
                          extrapolation_value=0.5)],
        [t("w1", [2, 3, 1, 1]), f32("roi", [0, 0, -0.2, 0.1, 1, 1, 0.8, 1.3]),
         i64("sizes", [1, 2, 4, 5])] + p1,
        [("x", [1, 3, 3, 3])], [("y", [1, 2, 4, 5])]))


if __name__ == "__main__":
    main()
