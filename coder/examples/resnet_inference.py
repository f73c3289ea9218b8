"""A plain PyTorch inference script, as a user would write it (random weights: no downloads).

    python -m coder -o nano_jit_bf16 coder/examples/resnet_inference.py --batch-size 4
"""

import argparse
import time

import torch
import torchvision.models as models


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    return parser.parse_args()


def main():
    args = parse_args()
    torch.manual_seed(0)
    model = models.resnet18(weights=None)
    model.eval()
    images = torch.rand(args.batch_size, 3, 224, 224)

    with torch.no_grad():
        for _ in range(3):  # warm-up
            model(images)
        start = time.perf_counter()
        for _ in range(args.steps):
            logits = model(images)
        elapsed = time.perf_counter() - start

    print(f"top-1 classes: {logits.argmax(dim=1).tolist()}")
    print(f"latency: {elapsed / args.steps * 1000:.1f} ms per batch of {args.batch_size}")


if __name__ == "__main__":
    main()
