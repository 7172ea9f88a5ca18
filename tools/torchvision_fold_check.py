#!/usr/bin/python3
"""`bnrt fold` on real architectures: torchvision models exported by torch.onnx, folded, then run
side by side with the originals by ONNX Runtime.

Each model gets random weights and random BN statistics and affine parameters (no download), is
exported in eval mode with its BNs kept (TrainingMode.PRESERVE) in three ways: opset 13, opset
17, and opset 8 as IR version 3 with every initializer a graph input
(keep_initializers_as_inputs). With --shared, BNs of equal width get equal parameters, which
torch.onnx stores once and reads through Identity nodes. Then `bnrt fold --verify` folds each
file, and tests/onnx/ort_compare.js (onnxruntime-node, tools/setup-ort-node.sh) runs original
and folded model on one random input. One line per file: BNs before / after, bnrt's float64
verification, ONNX Runtime's largest difference relative to the largest output.
Besides the classification models (the default), the segmentation models LR-ASPP, DeepLabV3
and FCN can be named (lraspp_mobilenet_v3_large, deeplabv3_mobilenet_v3_large, fcn_resnet50):
their heads upsample with Resize.
With --legacy, each model is exported at opset 9 instead and written down to opsets 6 and 3 by
onnx.version_converter (BatchNormalization-6 / -1 with is_test, Gemm and Add with broadcast
attributes, Reshape-1: the forms of the ONNX model zoo's oldest files); ONNX Runtime, which
starts at opset 7, then runs the opset-9 export against the folded file written back up to
opset 9. Models with broadcasts that opset 6 cannot express (squeeze-and-excitation) or whose
ops have no down-conversion are reported as not converted.

Needs Debian's python3-torch, python3-torchvision and python3-onnx, node, and a build:
  /usr/bin/python3 tools/torchvision_fold_check.py [--shared] [MODEL ...]
Not part of the test suite (python3-torchvision is a large install); the README quotes a run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings

import onnx
from onnx import version_converter
import torch
import torchvision.models as models
import torchvision.models.segmentation as segmentation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = ["resnet18", "resnet50", "resnext50_32x4d", "mobilenet_v2", "mobilenet_v3_small",
                  "efficientnet_b0", "mnasnet1_0", "regnet_y_400mf", "shufflenet_v2_x1_0",
                  "googlenet", "inception_v3", "densenet121", "vgg11_bn"]
SEGMENTATION = {"lraspp_mobilenet_v3_large": {}, "deeplabv3_mobilenet_v3_large": {"aux_loss": False},
                "fcn_resnet50": {"aux_loss": False}}
INPUT_SIZE = {"inception_v3": 299, "vgg11_bn": 224}  # others: 96 x 96


def build(name, shared):
    kwargs = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    torch.manual_seed(0)
    if name in SEGMENTATION:
        model = getattr(segmentation, name)(weights_backbone=None, **SEGMENTATION[name])
    else:
        model = getattr(models, name)(**kwargs)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            c = module.num_features
            g = torch.Generator().manual_seed(c if shared else int(torch.randint(1 << 30, ())))
            module.running_mean.copy_(torch.rand(c, generator=g) - 0.5)
            module.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
            if module.affine:
                module.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
                module.bias.data.copy_(torch.rand(c, generator=g) * 0.6 - 0.3)
    return model.eval()


def batch_norms(path):
    return sum(node.op_type == "BatchNormalization" for node in onnx.load(path).graph.node)


def check(bnrt, original, folded, dims, ort_original=None, ort_opset=None):
    """Folds `original`; ONNX Runtime compares `ort_original` (default: the same file) with the
    folded file, written up to `ort_opset` first when given."""
    run = subprocess.run([bnrt, "fold", original, "-o", folded, "--verify"], capture_output=True,
                         text=True)
    if run.returncode != 0:
        return f"bnrt fold failed: {run.stderr.strip().splitlines()[-1]}"
    verify = [line for line in run.stderr.splitlines() if line.startswith("verify:")]
    verify_text = verify[0].split(" (tolerance")[0] if verify else "verify: -"
    if ort_opset is not None:
        onnx.save(version_converter.convert_version(onnx.load(folded), ort_opset), folded)
    env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "build", "ort-node", "node_modules"))
    ort = subprocess.run(["node", os.path.join(ROOT, "tests", "onnx", "ort_compare.js"),
                          ort_original or original, folded, str(dims).replace(" ", "")],
                         capture_output=True, text=True, env=env)
    if ort.returncode == 0:
        ort_text = f"ORT relative diff {json.loads(ort.stdout)['relative']:.2g}"
    else:
        ort_text = "ORT failed: " + ort.stderr.strip()
    return f"BNs {batch_norms(original)} -> {batch_norms(folded)}; {verify_text}; {ort_text}"


def check_legacy(bnrt, work, name, model, x, dims):
    base = os.path.join(work, f"{name}_9.onnx")
    torch.onnx.export(model, x, base, opset_version=9, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)
    for opset in (6, 3):
        label = f"opset {opset}"
        path = os.path.join(work, f"{name}_{opset}.onnx")
        try:
            onnx.save(version_converter.convert_version(onnx.load(base), opset), path)
        except Exception as e:  # RuntimeError from the converter's C++ asserts
            print(f"{name:20s} {label:9s} not converted: {str(e).splitlines()[0][:100]}")
            continue
        result = check(bnrt, path, os.path.join(work, "folded.onnx"), dims, base, 9)
        print(f"{name:20s} {label:9s} {result}", flush=True)


def main():
    warnings.filterwarnings("ignore")  # torch.onnx's notes on training mode and constants
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--shared", action="store_true",
                        help="equal parameters for BNs of equal width (read through Identity nodes)")
    parser.add_argument("--legacy", action="store_true",
                        help="opsets 6 and 3, written down from an opset-9 export")
    parser.add_argument("--bnrt", default=os.path.join(ROOT, "build", "tools", "bnrt"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for name in args.models:
            model = build(name, args.shared)
            size = INPUT_SIZE.get(name, 96)
            dims = [1, 3, size, size]
            x = torch.rand(*dims) * 2 - 1
            if args.legacy:
                check_legacy(args.bnrt, work, name, model, x, dims)
                continue
            for label, opset, ir3 in (("opset 13", 13, False), ("opset 17", 17, False),
                                      ("IR 3", 8, True)):
                path = os.path.join(work, f"{name}.onnx")
                try:
                    torch.onnx.export(model, x, path, opset_version=opset, do_constant_folding=False,
                                      training=torch.onnx.TrainingMode.PRESERVE,
                                      keep_initializers_as_inputs=ir3)
                except Exception as e:  # e.g. an op opset 8 lacks
                    print(f"{name:20s} {label:9s} not exported: {str(e).splitlines()[0][:100]}")
                    continue
                if ir3:
                    exported = onnx.load(path)
                    exported.ir_version = 3
                    onnx.save(exported, path)
                result = check(args.bnrt, path, os.path.join(work, "folded.onnx"), dims)
                print(f"{name:20s} {label:9s} {result}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
