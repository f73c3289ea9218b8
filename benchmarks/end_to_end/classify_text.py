"""A model-card snippet: classify one sentence with a BERT-base sequence classifier (random
weights; the tokenizer is toy_tokenizer.py's: nothing is downloaded).

    python benchmarks/end_to_end/classify_text.py
"""

import torch
from transformers import BertConfig, BertForSequenceClassification

from toy_tokenizer import make_tokenizer

torch.manual_seed(0)
tokenizer = make_tokenizer()
model = BertForSequenceClassification(BertConfig(num_labels=2))
model.eval()

inputs = tokenizer("this movie was not very good but the actors were fun", return_tensors="pt")
with torch.no_grad():
    logits = model(**inputs).logits
label = ["negative", "positive"][int(logits.argmax(-1))]
print(f"{label} ({logits.softmax(-1).max():.3f})")
