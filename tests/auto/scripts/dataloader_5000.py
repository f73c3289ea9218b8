"""Evaluates a small model over a DataLoader of 5,000 batches: -o auto stops it after a few."""

import torch
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
model.eval()
loader = DataLoader(TensorDataset(torch.rand(10_000, 32)), batch_size=2)
correct = 0
with torch.no_grad():
    for (features,) in loader:
        correct += int((model(features).argmax(dim=1) == 0).sum())
print("batches:", len(loader), "class 0:", correct)
