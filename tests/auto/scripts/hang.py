"""Calls its model once, then never ends: every run reaches its time limit."""

import time

import torch

model = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
model.eval()
with torch.no_grad():
    model(torch.rand(2, 16))
time.sleep(3600)
