"""A model whose branch depends on the data: a trace bakes in the branch of its first inputs
(with a TracerWarning, so the runtime checks its first 4 calls and then every power of two).
The inputs change sign at call SWITCH (default 4), which those checks catch."""

import sys

import torch


class Gate(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(16, 10)

    def forward(self, x):
        if x.sum() > 0:
            return self.linear(x)
        return -self.linear(x)


switch = int(sys.argv[1]) if len(sys.argv) > 1 else 4
torch.manual_seed(0)
model = Gate()
model.eval()
with torch.no_grad():
    for step in range(100):
        x = torch.rand(4, 16) if step + 1 < switch else -torch.rand(4, 16)
        y = model(x)
