"""Calls its model once, as many inference scripts do: -o auto still times it (on replays)."""

import torch
import torchvision

torch.manual_seed(0)
model = torchvision.models.resnet18(weights=None)
model.eval()
with torch.no_grad():
    logits = model(torch.rand(2, 3, 64, 64))
print("classes:", logits.argmax(dim=1).tolist())
