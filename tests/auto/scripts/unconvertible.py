"""A model that returns a string beside its tensor: no runtime can convert it."""

import torch


class Tagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(16, 4)

    def forward(self, x):
        return self.linear(x), "tagged"


model = Tagger()
model.eval()
with torch.no_grad():
    for _ in range(50):
        scores, tag = model(torch.rand(2, 16))
