"""Object detection on a list of images, as a torchvision detection snippet does it (random weights).

    python benchmarks/end_to_end/detect_images.py --images 2
"""

import argparse

import torch
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=2)
    return parser.parse_args()


def main():
    args = parse_args()
    torch.manual_seed(0)
    model = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=3)
    model.eval()
    images = [torch.rand(3, 240, 320) for _ in range(args.images)]
    with torch.no_grad():
        predictions = model(images)
    for index, prediction in enumerate(predictions):
        boxes, scores = prediction["boxes"], prediction["scores"]
        best = f"{scores[0]:.3f} at {[round(v) for v in boxes[0].tolist()]}" if len(scores) else "-"
        print(f"image {index}: {len(boxes)} boxes, best {best}")


if __name__ == "__main__":
    main()
