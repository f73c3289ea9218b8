"""nano_int8_dynamic vs eager vs dynamic INT8 written by hand, on BERT-base-sized from a config.

    python benchmarks/bench_dynamic_int8.py [--batch 1,32] [--threads 1,2] [--seq 128] [--rounds 5]
        [--layers 12] [--out FILE.md]

Random weights (no download). For each batch size and thread count the paths are built from
fresh copies of one model, then timed interleaved, one call each per round; the table shows
medians and the ratio to eager. Paths: eager fp32; ``torch.ao.quantization.quantize_dynamic``
(Linear, qint8) by hand; torchao ``quantize_(Int8DynamicActivationInt8WeightConfig())`` by hand;
``InferenceOptimizer.quantize(precision="int8", approach="dynamic")`` (coder).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from coder.backend import InferenceOptimizer


def bert_base(layers: int):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(num_hidden_layers=layers, num_labels=2)  # BERT-base sizes
    return BertForSequenceClassification(config).eval()


def hand_quantize_dynamic(model):
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def hand_torchao(model):
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    quantize_(model, Int8DynamicActivationInt8WeightConfig())
    return model


def coder_dynamic(model):
    return InferenceOptimizer.quantize(model, precision="int8", approach="dynamic", never_slower=False)


PATHS = {
    "eager": lambda m: m,
    "quantize_dynamic (hand)": hand_quantize_dynamic,
    "torchao int8 dyn (hand)": hand_torchao,
    "nano_int8_dynamic": coder_dynamic,
}


def timed(model, inputs) -> float:
    started = time.perf_counter()
    with torch.no_grad():
        model(**inputs)
    return (time.perf_counter() - started) * 1000


def warmed(name: str, model, inputs) -> tuple[object, float]:
    """The path built and past its first call(s); the seconds that took. coder's first two calls
    also run the original model (its parity check), then it serves alone."""
    started = time.perf_counter()
    runnable = PATHS[name](copy.deepcopy(model))
    for _ in range(2 if name == "nano_int8_dynamic" else 1):
        timed(runnable, inputs)
    if name == "nano_int8_dynamic" and not runnable.accelerated:
        raise RuntimeError(f"coder fell back: {runnable.fallback_reason}")
    return runnable, time.perf_counter() - started


def run_case(model, batch: int, seq: int, threads: int, rounds: int) -> dict[str, tuple[float, float]]:
    torch.set_num_threads(threads)
    inputs = {
        "input_ids": torch.randint(0, 30000, (batch, seq)),
        "attention_mask": torch.ones(batch, seq, dtype=torch.long),
    }
    built, first = {}, {}
    for name in PATHS:
        try:
            built[name], first[name] = warmed(name, model, inputs)
        except Exception as error:  # a path this stack lacks (torchao missing) is shown as such
            print(f"{name}: {type(error).__name__}: {error}", file=sys.stderr)
    samples = {name: [] for name in built}
    for _ in range(rounds):
        for name, runnable in built.items():
            samples[name].append(timed(runnable, inputs))
    return {name: (statistics.median(values), first[name]) for name, values in samples.items()}


def table(results) -> str:
    lines = [
        "| batch | threads | path | median ms | vs eager | build + first call(s) s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for batch, threads, medians in results:
        eager = medians.get("eager", (None,))[0]
        for name, (ms, first) in medians.items():
            ratio = f"{eager / ms:.2f}x" if eager else "-"
            lines.append(f"| {batch} | {threads} | {name} | {ms:.1f} | {ratio} | {first:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", default="1,32")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--paths", default="eager,quantize_dynamic (hand),nano_int8_dynamic")
    parser.add_argument("--out")
    args = parser.parse_args()
    for name in set(PATHS) - set(args.paths.split(",")):
        PATHS.pop(name)
    warnings.simplefilter("ignore")
    model = bert_base(args.layers)
    results = [
        (b, t, run_case(model, b, args.seq, t, args.rounds))
        for b in map(int, args.batch.split(","))
        for t in map(int, args.threads.split(","))
    ]
    text = f"torch {torch.__version__}, seq {args.seq}, {args.layers} layers, {args.rounds} rounds\n\n" + table(results)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
