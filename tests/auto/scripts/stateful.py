"""A model whose forward keeps Python state: from its 4th call on, it negates its output. A trace
bakes in the branch of its first calls without a TracerWarning (no tensor becomes a Python
value), so the runtime's own checks (the first two calls) pass; only -o auto's later checks,
which compare with the original model, see the drift."""

import torch


class Stateful(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(16, 10)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        y = self.linear(x)
        return -y if self.calls >= 4 else y


torch.manual_seed(0)
model = Stateful()
model.eval()
with torch.no_grad():
    for step in range(100):
        y = model(torch.rand(4, 16))
