"""The cache key's cost: a sampled weight hash (the former key, which models differing only in
weights it skips shared) vs every byte hashed, and the whole model fingerprint (``baked.Baked``:
weights plus attributes, code and hooks).

    python benchmarks/bench_fingerprint.py [--models resnet50,vgg16] [--rounds 7] [--conversion]

Each round times each way once, interleaved; the table shows medians and the ratio to the
sampled hash. ``--conversion`` adds one ``nano_jit_fp32`` trace + freeze of the model at
batch 1, 224x224, for scale (what a cache hit saves). Random weights: nothing is downloaded.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from coder.backend.baked import Baked, tensor_digest

WHOLE_TENSOR_BYTES = 1 << 18  # the previous key: small tensors whole, 64K elements of larger ones
SAMPLED_ELEMENTS = 1 << 16


def sampled_hash(model: torch.nn.Module) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        flat = tensor.detach().reshape(-1)
        if flat.numel() * flat.element_size() > WHOLE_TENSOR_BYTES:
            flat = flat[:: flat.numel() // SAMPLED_ELEMENTS]
        hasher.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        hasher.update(memoryview(flat.contiguous().view(torch.uint8).numpy()))
    return hasher.hexdigest()


def full_hash(model: torch.nn.Module) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        hasher.update(name.encode())
        hasher.update(tensor_digest(tensor))
    return hasher.hexdigest()


WAYS = {
    "sampled weights (before)": sampled_hash,
    "every weight byte": full_hash,
    "whole fingerprint (now)": lambda model: Baked().model(model).digest(),
}


def conversion_seconds(model: torch.nn.Module) -> float:
    x = torch.rand(1, 3, 224, 224)
    started = time.perf_counter()
    with torch.no_grad():
        torch.jit.freeze(torch.jit.trace(model, x))
    return time.perf_counter() - started


def measure(name: str, rounds: int, conversion: bool) -> list[str]:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    megabytes = sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 1e6
    times = {way: [] for way in WAYS}
    for _ in range(rounds):
        for way, hash_of in WAYS.items():
            started = time.perf_counter()
            hash_of(model)
            times[way].append(time.perf_counter() - started)
    base = statistics.median(times["sampled weights (before)"])
    rows = [
        f"| {name} | {megabytes:.0f} MB | {way} | {statistics.median(t) * 1e3:.1f} ms | "
        f"{statistics.median(t) / base:.1f}x |"
        for way, t in times.items()
    ]
    if conversion:
        seconds = conversion_seconds(model)
        rows.append(
            f"| {name} | {megabytes:.0f} MB | nano_jit_fp32 trace + freeze (once) | "
            f"{seconds * 1e3:.0f} ms | {seconds / base:.0f}x |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet50,vgg16")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--conversion", action="store_true")
    args = parser.parse_args()
    print("| model | weights | way | median | vs sampled |\n|---|---|---|---|---|")
    for name in args.models.split(","):
        print("\n".join(measure(name, args.rounds, args.conversion)), flush=True)


if __name__ == "__main__":
    main()
