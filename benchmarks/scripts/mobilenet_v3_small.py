"""Classify a batch of images with torchvision's mobilenet_v3_small, as a user would (random weights).

    python benchmarks/scripts/mobilenet_v3_small.py --batch-size 1
Prints the median latency per batch on its last line: `latency_ms=<value>`.
"""

import argparse
import statistics
import time

import torch
import torchvision.models as models


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    return parser.parse_args()


def main():
    args = parse_args()
    torch.manual_seed(0)
    model = models.mobilenet_v3_small(weights=None)
    model.eval()
    images = torch.rand(args.batch_size, 3, args.image_size, args.image_size)

    with torch.no_grad():
        for _ in range(args.warmup):
            model(images)
        times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            logits = model(images)
            times.append(time.perf_counter() - start)

    print(f"top-1 classes: {logits.argmax(dim=1).tolist()}")
    print(f"latency_ms={statistics.median(times) * 1000:.3f}")


if __name__ == "__main__":
    main()
