"""Classify a batch of sentences with a BERT-base-sized model built from a config (random
weights, no download), as a user would.

    python benchmarks/scripts/bert_base.py --batch-size 1 --seq-len 128
Prints the median latency per batch on its last line: `latency_ms=<value>`.
"""

import argparse
import statistics
import time

import torch
from transformers import BertConfig, BertForSequenceClassification


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    return parser.parse_args()


def main():
    args = parse_args()
    torch.manual_seed(0)
    config = BertConfig(num_labels=2)  # bert-base: 12 layers, hidden 768, 12 heads
    model = BertForSequenceClassification(config)
    model.eval()
    input_ids = torch.randint(0, config.vocab_size, (args.batch_size, args.seq_len))
    attention_mask = torch.ones_like(input_ids)

    with torch.no_grad():
        for _ in range(args.warmup):
            model(input_ids=input_ids, attention_mask=attention_mask)
        times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            outputs = model(input_ids=input_ids, attention_mask=attention_mask)
            times.append(time.perf_counter() - start)

    print(f"predicted labels: {outputs.logits.argmax(dim=-1).tolist()}")
    print(f"latency_ms={statistics.median(times) * 1000:.3f}")


if __name__ == "__main__":
    main()
