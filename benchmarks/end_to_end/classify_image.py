"""A model-card snippet: classify one image with a torchvision ResNet-50 (random weights).

    python benchmarks/end_to_end/classify_image.py
"""

import torch
from torchvision.models import resnet50

torch.manual_seed(0)
model = resnet50(weights=None)
model.eval()

image = torch.rand(3, 224, 224)  # stands in for a decoded photo
mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
batch = ((image - mean) / std).unsqueeze(0)

with torch.no_grad():
    prediction = model(batch).squeeze(0).softmax(0)
top = prediction.topk(3)
for score, index in zip(top.values.tolist(), top.indices.tolist()):
    print(f"class {index}: {100 * score:.2f}%")
