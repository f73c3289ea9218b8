"""A pipeline: sentiment of ten reviews, one call each, with a transformers pipeline around a
BERT-base classifier (random weights; the tokenizer is toy_tokenizer.py's).

    python benchmarks/end_to_end/sentiment_pipeline.py
"""

import torch
from transformers import BertConfig, BertForSequenceClassification, pipeline

from toy_tokenizer import make_tokenizer

REVIEWS = ["great movie", "the plot was boring", "not very good", "i loved the actors",
           "awful film", "this was fun", "a very bad plot", "good actors but a boring film",
           "it is not a great movie", "fun"]

torch.manual_seed(0)
classifier = pipeline("text-classification", model=BertForSequenceClassification(BertConfig(num_labels=2)),
                      tokenizer=make_tokenizer())

for review in REVIEWS:
    result = classifier(review)[0]
    print(f"{result['label']:>8} {result['score']:.3f}  {review}")
