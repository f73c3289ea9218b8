"""A model whose branch depends on the data: a trace bakes in the branch of its first inputs,
the runtime's checks on the first calls pass, and the drift shows only when the inputs change."""

import torch


class Gate(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(16, 10)

    def forward(self, x):
        if x.sum() > 0:
            return self.linear(x)
        return -self.linear(x)


torch.manual_seed(0)
model = Gate()
model.eval()
with torch.no_grad():
    for step in range(100):
        x = torch.rand(4, 16) if step < 3 else -torch.rand(4, 16)
        y = model(x)
