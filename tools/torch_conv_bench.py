#!/usr/bin/python3
"""PyTorch eager Conv2d -> BatchNorm2d -> ReLU on the layers `bnrt bench conv` measures.

The peer a user would otherwise run: three eager modules in eval mode under torch.no_grad(), the
input and module in channels_last for the nhwc rows and contiguous for nchw. Prints one JSON
record per (layer, layout, threads) in the format of `bnrt bench conv --json` (impl "pytorch"),
so `bnrt bench conv --with FILE` puts them in its table:

  /usr/bin/python3 tools/torch_conv_bench.py > torch.jsonl
  build/tools/bnrt bench conv --with torch.jsonl

The layer list mirrors bench/conv_cases.cpp (conv_layers); keep the two in step.
Timing: like bnrt's, each sample repeats the call for about --sample-ms, the median of --rounds
samples is reported.
"""
import argparse
import json
import statistics
import sys
import time

import torch

# name, model, in_channels, out_channels, input size, kernel, stride, padding, groups
LAYERS = [
    ("conv3x3", "resnet50", 64, 64, 56, 3, 1, 1, 1),
    ("conv1x1", "resnet50", 256, 64, 56, 1, 1, 0, 1),
    ("conv3x3", "resnet50", 128, 128, 28, 3, 1, 1, 1),
    ("conv1x1", "resnet50", 1024, 256, 14, 1, 1, 0, 1),
    ("conv3x3s2", "resnet50", 256, 256, 28, 3, 2, 1, 1),
    ("conv7x7s2", "resnet50", 3, 64, 224, 7, 2, 3, 1),
    ("dw3x3", "mobilenetv2", 144, 144, 56, 3, 1, 1, 144),
    ("dw3x3s2", "mobilenetv2", 144, 144, 56, 3, 2, 1, 144),
    ("conv1x1", "mobilenetv2", 24, 144, 56, 1, 1, 0, 1),
]


def build(layer, channels_last):
    _, _, cin, cout, size, k, stride, pad, groups = layer
    block = torch.nn.Sequential(
        torch.nn.Conv2d(cin, cout, k, stride=stride, padding=pad, groups=groups, bias=False),
        torch.nn.BatchNorm2d(cout),
        torch.nn.ReLU(),
    ).eval()
    with torch.no_grad():  # non-trivial statistics, as in a trained network
        block[1].running_mean.uniform_(-0.5, 0.5)
        block[1].running_var.uniform_(0.5, 1.5)
        block[1].weight.uniform_(-1, 1)
        block[1].bias.uniform_(-0.5, 0.5)
    x = torch.rand(1, cin, size, size) * 2 - 1
    if channels_last:
        block = block.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return block, x


def median_us(block, x, rounds, sample_seconds):
    with torch.no_grad():
        for _ in range(3):
            block(x)
        start = time.perf_counter()
        block(x)
        once = max(time.perf_counter() - start, 1e-9)
        calls = max(1, int(sample_seconds / once))
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                block(x)
            samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", default="1,2", help="comma list (default 1,2)")
    parser.add_argument("--layouts", default="nhwc,nchw", help="comma list (default nhwc,nchw)")
    parser.add_argument("--layers", default="", help="layer names to keep (default all)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--sample-ms", type=float, default=20.0)
    args = parser.parse_args()
    keep = set(filter(None, args.layers.split(",")))
    torch.manual_seed(0)
    for layer in LAYERS:
        name, model, cin, cout, size, k, stride, pad, groups = layer
        if keep and name not in keep:
            continue
        out = (size + 2 * pad - k) // stride + 1
        flops = 2.0 * cout * out * out * (cin // groups) * k * k
        for layout in args.layouts.split(","):
            block, x = build(layer, layout == "nhwc")
            for threads in [int(t) for t in args.threads.split(",")]:
                torch.set_num_threads(threads)
                us = median_us(block, x, args.rounds, args.sample_ms / 1000.0)
                print(json.dumps({
                    "op": name, "model": model, "shape": f"{cin}x{size}x{size}->{cout}",
                    "layout": layout, "threads": threads, "isa": "n/a", "impl": "pytorch",
                    "median_us": round(us, 3), "gflops": round(flops / (us * 1e3), 2),
                }, separators=(",", ":")), flush=True)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads max", file=sys.stderr)


if __name__ == "__main__":
    main()
