#!/usr/bin/python3
"""Golden fixtures for the Resize / Upsample ops of `bnrt fold --verify`'s evaluator.

Runs the ONNX backend test cases for Resize and Upsample as Debian's python3-onnx (1.12) ships
them (onnx/backend/test/case/node/resize.py, upsample.py: nearest with every nearest_mode,
linear and cubic, up and down, from scales and from sizes, each coordinate transformation), and
writes each as a self-contained model (every input an initializer) with the output its numpy
reference implementation computed:

    tests/fixtures/onnx_resize/<case>.onnx           the model, opset as the case sets it
    tests/fixtures/onnx_resize/<case>.expected.pb    a TensorProto: the expected output

tests/onnx/reference_eval_test.cpp evaluates every model and compares. onnx 1.12 names both
tf_crop_and_resize cases test_resize_tf_crop_and_resize; the second (extrapolation_value = 10)
is written as test_resize_tf_crop_and_resize_extrapolation_value. Left out: the two
align_corners cases that shrink by scales (test_resize_downsample_scales_{linear,cubic}_
align_corners): onnx 1.12's reference maps coordinates with the unrounded output length
scale * input (2.4 for 4 x 0.6) where the operator's definition and ONNX Runtime use the output's
length (2); the test works those two out by hand, as ONNX Runtime computes them.

Needs Debian's python3-onnx:  /usr/bin/python3 tools/make_onnx_resize_fixtures.py
"""

import glob
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.backend.test.case.node import resize, upsample

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "onnx_resize")

cases = []


def capture(node, inputs, outputs, name, **kwargs):
    cases.append((node, inputs, outputs, name, kwargs))


def main():
    resize.expect = capture
    upsample.expect = capture
    for kind in (resize.Resize, upsample.Upsample):
        for attribute in sorted(dir(kind)):
            if attribute.startswith("export"):
                getattr(kind, attribute)()
    for old in glob.glob(os.path.join(OUT, "*")):
        os.remove(old)
    written = 0
    for node, inputs, outputs, name, kwargs in cases:
        if "downsample_scales" in name and "align_corners" in name:
            continue
        if os.path.exists(os.path.join(OUT, name + ".onnx")):
            extra = [a.name for a in node.attribute if a.name == "extrapolation_value"]
            if not extra:
                raise SystemExit("two cases named " + name)
            name += "_extrapolation_value"
        present = [n for n in node.input if n != ""]
        initializers = [numpy_helper.from_array(np.asarray(a), n) for a, n in zip(inputs, present)]
        (expected,) = outputs
        graph = helper.make_graph(
            [node], name, [],
            [helper.make_tensor_value_info(node.output[0], onnx.TensorProto.FLOAT,
                                           expected.shape)],
            initializers)
        opsets = kwargs.get("opset_imports", [helper.make_opsetid("", 13)])
        model = helper.make_model(graph, opset_imports=opsets, producer_name="make_onnx_resize_fixtures")
        model.ir_version = 7
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(OUT, name + ".onnx"))
        tensor = numpy_helper.from_array(np.asarray(expected, dtype=np.float32), "expected")
        with open(os.path.join(OUT, name + ".expected.pb"), "wb") as f:
            f.write(tensor.SerializeToString())
        written += 1
    print("wrote %d cases to %s" % (written, os.path.normpath(OUT)))


if __name__ == "__main__":
    main()
