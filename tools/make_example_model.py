#!/usr/bin/python3
"""The bundled example for `bnrt fold` (tools/example/small_cnn.onnx), built with onnx.helper.

A small CNN with the cases a fold pass meets in real models: Conv+BN+ReLU blocks (with and
without conv bias), a residual block, a depthwise conv with ReLU6, a 1x1 conv, a ConvTranspose,
a BN whose producer's output is also used elsewhere (so it folds into the unpadded conv after it
instead), a BN on the graph input in front of a padded conv (cannot fold: kept, with the
reason), and a classifier head Gemm+BN. Statistics are random, plus the two oddities the fold
report flags: a dead channel (gamma = 0) and a near-zero variance (a folded scale above 1000).

Needs Debian's python3-onnx and numpy:  /usr/bin/python3 tools/make_example_model.py
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "example", "small_cnn.onnx")
rng = np.random.default_rng(20261121)
initializers = []
nodes = []


def constant(name, array):
    initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
    return name


def conv(name, x, in_c, out_c, k, stride=1, pad=0, group=1, bias=True):
    fan_in = in_c // group * k * k
    w = constant(name + ".weight", rng.normal(0, np.sqrt(2 / fan_in), (out_c, in_c // group, k, k)))
    inputs = [x, w]
    if bias:
        inputs.append(constant(name + ".bias", rng.normal(0, 0.1, out_c)))
    nodes.append(helper.make_node("Conv", inputs, [name], name=name, kernel_shape=[k, k],
                                  strides=[stride, stride], pads=[pad] * 4, group=group))
    return name


def conv_transpose(name, x, in_c, out_c, k, stride):
    w = constant(name + ".weight", rng.normal(0, np.sqrt(1 / in_c), (in_c, out_c, k, k)))
    nodes.append(helper.make_node("ConvTranspose", [x, w], [name], name=name, kernel_shape=[k, k],
                                  strides=[stride, stride]))
    return name


def bn(name, x, channels, dead_channel=None, tiny_var_channel=None, eps=1e-5):
    gamma = rng.uniform(0.5, 1.5, channels)
    if dead_channel is not None:
        gamma[dead_channel] = 0.0
    var = rng.uniform(0.5, 2.0, channels)
    if tiny_var_channel is not None:
        var[tiny_var_channel] = 1e-7  # a near-constant channel: a folded scale above 1000
    params = [constant(name + ".weight", gamma), constant(name + ".bias", rng.normal(0, 0.2, channels)),
              constant(name + ".running_mean", rng.normal(0, 0.5, channels)),
              constant(name + ".running_var", var)]
    nodes.append(helper.make_node("BatchNormalization", [x] + params, [name], name=name,
                                  epsilon=eps))
    return name


def op(kind, inputs, name, **attrs):
    nodes.append(helper.make_node(kind, inputs, [name], name=name, **attrs))
    return name


def main():
    x = "input"
    # BN on the raw input, in front of a padded conv: nothing to fold into (kept).
    h = bn("input_bn", x, 3)
    h = op("Relu", [bn("stem_bn", conv("stem_conv", h, 3, 16, 3, pad=1), 16)], "stem_relu")
    # Residual block (convs without bias).
    r = op("Relu", [bn("block_bn1", conv("block_conv1", h, 16, 16, 3, pad=1, bias=False), 16,
                       dead_channel=5)], "block_relu1")
    r = bn("block_bn2", conv("block_conv2", r, 16, 16, 3, pad=1, bias=False), 16)
    h = op("Relu", [op("Add", [r, h], "block_add")], "block_relu2")
    # Depthwise 3x3 stride 2 with ReLU6, then a 1x1 expand.
    h = bn("dw_bn", conv("dw_conv", h, 16, 16, 3, stride=2, pad=1, group=16), 16)
    h = op("Clip", [h, constant("relu6_min", np.array(0.0)), constant("relu6_max", np.array(6.0))],
           "dw_relu6")
    h = op("Relu", [bn("pw_bn", conv("pw_conv", h, 16, 32, 1), 32)], "pw_relu")
    # ConvTranspose 2x upsampling.
    h = op("Relu", [bn("up_bn", conv_transpose("up_convt", h, 32, 16, 2, 2), 16)], "up_relu")
    # A conv whose output is also a skip connection: its BN folds into the 1x1 conv after it.
    s = conv("skip_conv", h, 16, 16, 3, pad=1)
    t = conv("skip_proj", bn("skip_bn", s, 16), 16, 16, 1)
    h = op("Relu", [op("Add", [s, t], "skip_add")], "skip_relu")
    # Classifier head: Gemm then BatchNorm1d.
    h = op("Flatten", [op("GlobalAveragePool", [h], "pool")], "flatten", axis=1)
    w = constant("head.weight", rng.normal(0, 0.25, (10, 16)))
    b = constant("head.bias", rng.normal(0, 0.1, 10))
    h = op("Gemm", [h, w, b], "head", transB=1)
    y = bn("head_bn", h, 10, tiny_var_channel=3, eps=1e-7)

    graph = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, ["N", 10])], initializers)
    model = helper.make_model(graph, producer_name="bnrt tools/make_example_model.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, OUT)
    print("wrote", os.path.relpath(OUT), os.path.getsize(OUT), "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
