"""A model whose forward keeps Python state: from call SWITCH on (default 2) it negates its
output. A trace bakes in the branch of its first call with no TracerWarning (no input value is
read), and the runtime's own check of its second call sees the output differ."""

import sys

import torch


class Switched(torch.nn.Module):
    def __init__(self, switch: int):
        super().__init__()
        self.linear = torch.nn.Linear(16, 10)
        self.switch = switch
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        y = self.linear(x)
        return -y if self.calls >= self.switch else y


torch.manual_seed(0)
model = Switched(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
model.eval()
with torch.no_grad():
    for step in range(100):
        y = model(torch.rand(4, 16))
