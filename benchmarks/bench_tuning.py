"""Accuracy-controlled INT8: how long the search takes against ``max_trials``.

    python benchmarks/bench_tuning.py [--trials 1,2,4] [--paths nano_int8,nano_openvino_int8,...]
        [--threads 1] [--batches 4] [--batch 8] [--size 224] [--repeats 1]

resnet18 (weights=None) on ``--batches`` labelled batches of random images. The metric is
1 - the largest absolute difference from the fp32 outputs (higher is better) and the criterion
allows no drop (``{"absolute": 0}``): no INT8 config meets it, so every search
runs exactly ``max_trials`` trials and raises AccuracyNotMet, and the time measured is the
cost of that many trials (plus the original's scoring). For each path the max_trials values
are run one after the other in one process (median of ``--repeats``). Also shown: the time
of one plain ``quantize`` (no metric) of the same path, built on the same data, after one
warm-up ``quantize`` per path (the libraries' imports are not counted).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("CODER_CACHE", "off")
os.environ.setdefault("CODER_NEVER_SLOWER", "0")
os.environ.setdefault("CODER_QUIET", "1")  # the trial tables of the searches

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from coder.backend import InferenceOptimizer
from coder.backend.tuning import AccuracyNotMet

ACCELERATORS = {"nano_int8": None, "nano_openvino_int8": "openvino", "nano_onnxruntime_int8_qlinear": "onnxruntime"}
EXACT = {"absolute": 0.0, "higher_is_better": True}


def closeness(output, target):
    return 1 - (output - target).abs().max()


def labelled(model, batches: int, batch: int, size: int) -> list:
    data = []
    for seed in range(batches):
        x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            data.append((x, model(x)))
    return data


def plain(model, accelerator, data) -> float:
    started = time.perf_counter()
    InferenceOptimizer.quantize(model, precision="int8", accelerator=accelerator, calib_data=data)
    return time.perf_counter() - started


def search(model, accelerator, data, trials: int) -> float:
    started = time.perf_counter()
    try:
        InferenceOptimizer.quantize(
            model,
            precision="int8",
            accelerator=accelerator,
            calib_data=data,
            metric=closeness,
            accuracy_criterion=EXACT,
            max_trials=trials,
        )
    except AccuracyNotMet as missed:
        assert f"after {trials} trial" in str(missed), missed
    else:
        raise AssertionError("an exact criterion was met")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", default="1,2,4")
    parser.add_argument("--paths", default=",".join(ACCELERATORS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    data = labelled(model, args.batches, args.batch, args.size)
    trials = [int(t) for t in args.trials.split(",")]
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), resnet18, {args.batches} batches of "
        f"{args.batch} x 3 x {args.size} x {args.size}, median of {args.repeats}"
    )
    print("| path | plain quantize s | " + " | ".join(f"max_trials={t} s" for t in trials) + " | s per extra trial |")
    print("| --- | --- | " + " | ".join("---" for _ in trials) + " | --- |")
    for name in args.paths.split(","):
        accelerator = ACCELERATORS[name]
        plain(model, accelerator, data[:1])  # warm-up: the libraries' imports and first-use costs
        base = statistics.median(plain(model, accelerator, data) for _ in range(args.repeats))
        times = [statistics.median(search(model, accelerator, data, t) for _ in range(args.repeats)) for t in trials]
        per_trial = (times[-1] - times[0]) / (trials[-1] - trials[0]) if len(trials) > 1 else float("nan")
        print(f"| {name} | {base:.1f} | " + " | ".join(f"{t:.1f}" for t in times) + f" | {per_trial:.1f} |", flush=True)


if __name__ == "__main__":
    main()
