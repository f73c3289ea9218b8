"""A coder .pt2 package run from C++ (benchmarks/aoti/run_package.cpp, no Python) and from Python
(InferenceOptimizer.load), on the same input: the outputs must agree.

    python benchmarks/aoti/cpp_roundtrip.py [--image-size 64] [--batch 5]

Saves nano_compile_fp32 of resnet18 (weights=None) as a .pt2, builds run_package with
benchmarks/aoti/build.sh against this Python's torch wheel, runs both, prints the times.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision

from coder.backend import InferenceOptimizer

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        compiled = InferenceOptimizer.trace(model, accelerator="compile", never_slower=False)
        with torch.no_grad():
            compiled(torch.rand(2, 3, args.image_size, args.image_size))
        seconds = {}
        started = time.perf_counter()
        InferenceOptimizer.save(compiled, folder / "m.pt2")
        seconds["save .pt2 (AOTInductor compile)"] = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run(["sh", str(HERE / "build.sh"), sys.executable, str(folder / "run_package")], check=True)
        seconds["g++ build of run_package"] = time.perf_counter() - started
        x = torch.rand(args.batch, 3, args.image_size, args.image_size)
        torch.save([x], folder / "in.pt")
        started = time.perf_counter()
        run = subprocess.run(
            [str(folder / "run_package"), str(folder / "m.pt2"), str(folder / "in.pt"), str(folder / "out.pt")],
            check=True,
            capture_output=True,
            text=True,
        )
        seconds["C++ process: load + first call"] = time.perf_counter() - started
        from_cpp = torch.load(folder / "out.pt", weights_only=False)[0]
        with torch.no_grad():
            from_python = InferenceOptimizer.load(folder / "m.pt2")(x)
            original = model(x)
    print(run.stdout.strip())
    for what, value in seconds.items():
        print(f"{what}: {value:.1f} s")
    print(f"max abs difference C++ vs Python package: {(from_cpp - from_python).abs().max().item():.3g}")
    print(f"max abs difference C++ vs the original model: {(from_cpp - original).abs().max().item():.3g}")


if __name__ == "__main__":
    main()
