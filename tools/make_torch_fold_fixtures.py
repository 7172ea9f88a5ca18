#!/usr/bin/python3
"""Golden fixtures for bnrt's fold library, computed by PyTorch.

For Conv1d/2d/3d (groups 1, in between, depthwise), ConvTranspose2d/3d and Linear, each with
BatchNorm after it, records: the layer's weights and hyper-parameters, the BN's statistics, an
input x, the float64 output of layer-then-BN (torch, every tensor in float64), and what
torch.nn.utils.fusion makes of the pair (fuse_conv_bn_eval / fuse_linear_bn_eval, float32):
its fused weight and bias, or what goes wrong: for grouped ConvTranspose a wrong-shaped weight
or an error (it scales dim 1 of a [IC, OC/groups, k...] weight as if it held all OC channels),
for Linear with an affine=False BN a TypeError.
tests/torch_fold_fixture_test.cpp replays every case through bnrt::fold_bn_after.

Needs Debian's python3-torch (1.13):  /usr/bin/python3 tools/make_torch_fold_fixtures.py
"""

import copy
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import fusion

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "fold.txt")


def fmt(t):
    return " ".join("%.9g" % v for v in t.detach().reshape(-1).tolist())


def fmt64(t):
    return " ".join("%.17g" % v for v in t.detach().reshape(-1).tolist())


def ints(values):
    return " ".join(str(int(v)) for v in values)


def randomize_bn(bn, gen, affine):
    channels = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(channels, generator=gen))
        # Variances from tiny to a few: the tiny ones make large scales.
        bn.running_var.copy_(torch.rand(channels, generator=gen) ** 3 * 4 + 1e-4)
        if affine:
            bn.weight.copy_(torch.randn(channels, generator=gen))
            bn.bias.copy_(torch.randn(channels, generator=gen))


def write_case(out, gen, name, layer, bn, x_shape):
    """layer: an eval-mode Conv*/ConvTranspose*/Linear; bn: an eval-mode BatchNorm."""
    transposed = isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d))
    linear = isinstance(layer, nn.Linear)
    x = torch.randn(*x_shape, generator=gen)
    out.write("case %s\n" % name)
    out.write("kind %s\n" % ("linear" if linear else "conv_transpose" if transposed else "conv"))
    if not linear:
        out.write("groups %d\n" % layer.groups)
        out.write("stride %s\n" % ints(layer.stride))
        out.write("padding %s\n" % ints(layer.padding))
        out.write("dilation %s\n" % ints(layer.dilation))
        out.write("output_padding %s\n" % ints(layer.output_padding))
    out.write("weight_dims %s\n" % ints(layer.weight.shape))
    out.write("weight %s\n" % fmt(layer.weight))
    out.write("bias %s\n" % (fmt(layer.bias) if layer.bias is not None else "-"))
    out.write("eps %.17g\n" % bn.eps)
    out.write("bn_mean %s\n" % fmt(bn.running_mean))
    out.write("bn_var %s\n" % fmt(bn.running_var))
    out.write("bn_gamma %s\n" % (fmt(bn.weight) if bn.affine else "-"))
    out.write("bn_beta %s\n" % (fmt(bn.bias) if bn.affine else "-"))
    out.write("x_dims %s\n" % ints(x.shape))
    out.write("x %s\n" % fmt(x))
    # Ground truth: layer then BN, all in float64.
    with torch.no_grad():
        layer64 = copy.deepcopy(layer).double()
        bn64 = copy.deepcopy(bn).double()
        y64 = bn64(layer64(x.double()))
    out.write("y64 %s\n" % fmt64(y64))
    # What PyTorch's fusion utility makes of it.
    try:
        with torch.no_grad():
            if linear:
                fused = fusion.fuse_linear_bn_eval(layer, bn)
            else:
                fused = fusion.fuse_conv_bn_eval(layer, bn, transpose=transposed)
        status = "ok" if fused.weight.shape == layer.weight.shape else "wrong_shape"
        out.write("torch_status %s\n" % status)
        out.write("torch_weight_dims %s\n" % ints(fused.weight.shape))
        if status == "ok":
            out.write("torch_weight %s\n" % fmt(fused.weight))
            out.write("torch_bias %s\n" % fmt(fused.bias))
        else:
            try:
                with torch.no_grad():
                    fused(x)
                out.write("torch_forward ran\n")
            except RuntimeError as e:
                out.write("torch_forward %s\n" % str(e).splitlines()[0])
    except (RuntimeError, TypeError) as e:
        out.write("torch_status error\n")
        out.write("torch_error %s\n" % str(e).splitlines()[0])
    out.write("end\n")


def conv_case(out, gen, name, cls, in_c, out_c, kernel, x_spatial, groups=1, stride=1,
              padding=0, dilation=1, output_padding=0, bias=True, affine=True):
    kwargs = dict(groups=groups, stride=stride, padding=padding, dilation=dilation, bias=bias)
    if cls in (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d):
        kwargs["output_padding"] = output_padding
    layer = cls(in_c, out_c, kernel, **kwargs).eval()
    dims = len(x_spatial)
    bn = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims](
        out_c, affine=affine).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    randomize_bn(bn, gen, affine)
    write_case(out, gen, name, layer, bn, (2, in_c) + tuple(x_spatial))


def linear_case(out, gen, name, in_f, out_f, bias=True, affine=True):
    layer = nn.Linear(in_f, out_f, bias=bias).eval()
    bn = nn.BatchNorm1d(out_f, affine=affine).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    randomize_bn(bn, gen, affine)
    write_case(out, gen, name, layer, bn, (3, in_f))


def main():
    gen = torch.Generator().manual_seed(20261123)
    with open(OUT, "w") as out:
        out.write("# bnrt fold fixtures from PyTorch %s; generated by "
                  "tools/make_torch_fold_fixtures.py\n" % torch.__version__)
        # Where PyTorch's fusion is right: bnrt must agree with it.
        conv_case(out, gen, "conv2d_groups1", nn.Conv2d, 3, 5, 3, (6, 5), padding=1)
        conv_case(out, gen, "conv2d_groups2_no_bias", nn.Conv2d, 4, 6, 3, (5, 5), groups=2,
                  stride=2, bias=False)
        conv_case(out, gen, "conv2d_depthwise", nn.Conv2d, 6, 6, 3, (5, 4), groups=6,
                  padding=1, dilation=1)
        conv_case(out, gen, "conv2d_groups3_dilated", nn.Conv2d, 6, 9, 3, (7, 7), groups=3,
                  padding=2, dilation=2)
        conv_case(out, gen, "conv1d_affine_false", nn.Conv1d, 3, 4, 5, (9,), padding=2,
                  affine=False)
        conv_case(out, gen, "conv3d", nn.Conv3d, 2, 3, (2, 3, 3), (3, 4, 4), padding=(0, 1, 1))
        conv_case(out, gen, "conv_transpose2d_groups1", nn.ConvTranspose2d, 3, 4, 3, (4, 3),
                  stride=2, padding=1, output_padding=1)
        conv_case(out, gen, "conv_transpose3d_groups1_no_bias", nn.ConvTranspose3d, 2, 3, 2,
                  (2, 3, 2), stride=2, bias=False)
        linear_case(out, gen, "linear", 7, 5)
        linear_case(out, gen, "linear_no_bias_affine_false", 4, 6, bias=False, affine=False)
        # Where PyTorch's fusion fails: grouped ConvTranspose (scales the wrong axis), and a
        # Linear before an affine=False BN (fuse_linear_bn_weights multiplies by None).
        conv_case(out, gen, "conv_transpose2d_depthwise", nn.ConvTranspose2d, 4, 4, 3, (4, 4),
                  groups=4, stride=2, padding=1, output_padding=1)
        conv_case(out, gen, "conv_transpose2d_groups2", nn.ConvTranspose2d, 4, 6, 3, (3, 4),
                  groups=2, stride=1, padding=1)
        conv_case(out, gen, "conv_transpose1d_groups3", nn.ConvTranspose1d, 3, 6, 4, (5,),
                  groups=3, stride=2)
    print("wrote", os.path.relpath(OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
