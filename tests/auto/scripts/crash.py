"""Calls its model with inputs of the wrong shape: every run fails to forward."""

import torch

model = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
model.eval()
with torch.no_grad():
    model(torch.rand(2, 5))
