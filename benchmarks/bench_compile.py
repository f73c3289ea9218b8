"""The compile family side by side, in one run: eager, coder's nano_compile_fp32/bf16/int8, the
same calls written by hand (torch.compile + freezing; autocast + torch.compile; PT2E with the
default X86InductorQuantizer config + torch.compile), and the fp32 model as an AOTInductor .pt2
package loaded back (coder's save/load) against the in-process compiled model.

    python benchmarks/bench_compile.py --models resnet18 bert_base --batches 1 32 --threads 1 2

Each variant is built (compiled) once, at the largest batch, and then called at every batch size
and thread count: the batch dimension is dynamic, a batch of 1 compiles once more (its own
graph); that time is in the "compile s" table. Latencies are medians of --steps calls after
--warmup calls, the variants of one (model, batch, threads) cell timed round-robin. Prints
markdown tables; --json writes every number.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch._inductor.config as inductor_config

from coder.backend import InferenceOptimizer

CALIBRATION_BATCHES = 4


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet18", "bert_base"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=None, help="a subset of the variant names")
    parser.add_argument("--json", type=Path)
    return parser.parse_args()


class Logits(torch.nn.Module):
    """BERT as tensors in, one tensor out: what one hand-writes before exporting."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def workload(name: str, args):
    """(model, make_inputs(batch, seed) -> positional args)."""
    torch.manual_seed(0)
    if name == "resnet18":
        import torchvision

        model = torchvision.models.resnet18(weights=None).eval()
        return model, lambda b, s: (
            torch.rand(b, 3, args.image_size, args.image_size, generator=torch.Generator().manual_seed(s)),
        )
    import transformers

    model = Logits(transformers.BertModel(transformers.BertConfig()).eval()).eval()  # BERT-base sized

    def tokens(b, s):
        ids = torch.randint(0, 30000, (b, args.seq_len), generator=torch.Generator().manual_seed(s))
        return ids, torch.ones_like(ids)

    return model, tokens


def freezing():
    return inductor_config.patch(freezing=True)


class Hand:
    """A hand-written compiled callable: freezing on around every call (compiles happen in calls)."""

    def __init__(self, module, bf16=False):
        self.module, self.bf16 = torch.compile(module), bf16

    def __call__(self, *inputs):
        with freezing(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            return self.module(*inputs)


def hand_int8(model, inputs, calibration):
    from coder.backend.pt2e import api

    pt2e = api()
    batch = torch.export.Dim("batch", min=1, max=1024)
    exported = torch.export.export(
        model, inputs, dynamic_shapes=tuple({0: batch} for _ in inputs), strict=True
    ).module()
    quantizer = pt2e.xiq.X86InductorQuantizer().set_global(pt2e.xiq.get_default_x86_inductor_quantization_config())
    prepared = pt2e.prepare(exported, quantizer)
    for batch_inputs in calibration:
        prepared(*batch_inputs)
    return Hand(pt2e.convert(prepared))


def builders(model, make_inputs, big: int):
    calibration = [make_inputs(big, 100 + i) for i in range(CALIBRATION_BATCHES)]
    # several positional inputs go in as (x, y) with x a tuple: a bare pair would be read as input, label
    calib_data = [(tuple(inputs), None) if len(inputs) > 1 else inputs[0] for inputs in calibration]
    coder = dict(never_slower=False)
    return {
        "eager": lambda: model,
        "coder fp32": lambda: InferenceOptimizer.trace(model, accelerator="compile", **coder),
        "hand fp32": lambda: Hand(model),
        "coder bf16": lambda: InferenceOptimizer.quantize(model, precision="bf16", accelerator="compile", **coder),
        "hand bf16": lambda: Hand(model, bf16=True),
        "coder int8": lambda: InferenceOptimizer.quantize(
            model, precision="int8", accelerator="compile", calib_data=calib_data, **coder
        ),
        "hand int8": lambda: hand_int8(model, make_inputs(2, 7), calibration),
    }


def built(name, build, make_inputs, batches, folder):
    """The variant, and its build + first-call (compile) seconds at each batch size."""
    seconds = {}
    started = time.perf_counter()
    with torch.no_grad():
        variant = build()
        for batch in sorted(batches, reverse=True):
            variant(*make_inputs(batch, 0))
            seconds[batch] = time.perf_counter() - started
            started = time.perf_counter()
    return variant, seconds


def packaged(coder_fp32, make_inputs, batches, folder):
    started = time.perf_counter()
    path = folder / "model.pt2"
    InferenceOptimizer.save(coder_fp32, path)
    saved = time.perf_counter() - started
    started = time.perf_counter()
    loaded = InferenceOptimizer.load(path)
    with torch.no_grad():
        loaded(*make_inputs(min(batches), 0))
    return loaded, {"save (AOTInductor compile) s": saved, "load + first call s": time.perf_counter() - started}


def timed(variants, make_inputs, batch, threads, args) -> dict:
    torch.set_num_threads(threads)
    inputs = make_inputs(batch, 1)
    times = {name: [] for name in variants}
    with torch.no_grad():
        for _ in range(args.warmup):
            for variant in variants.values():
                variant(*inputs)
        for _ in range(args.steps):
            for name, variant in variants.items():
                started = time.perf_counter()
                variant(*inputs)
                times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def run_model(name, args) -> dict:
    model, make_inputs = workload(name, args)
    torch.set_num_threads(max(args.threads))
    variants, compile_seconds = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for variant_name, build in builders(model, make_inputs, max(args.batches)).items():
            if args.variants and variant_name not in args.variants and variant_name != "eager":
                continue
            variants[variant_name], compile_seconds[variant_name] = built(
                variant_name, build, make_inputs, args.batches, folder
            )
            print(f"{name}: {variant_name} built: {compile_seconds[variant_name]}", flush=True)
        package = {}
        if "coder fp32" in variants:
            variants["coder fp32 .pt2"], package = packaged(
                variants["coder fp32"], make_inputs, args.batches, Path(folder)
            )
            print(f"{name}: .pt2 {package}", flush=True)
        cells = {f"b{b} t{t}": timed(variants, make_inputs, b, t, args) for b in args.batches for t in args.threads}
    return {"latency_ms": cells, "compile_s": compile_seconds, "package": package}


def tables(name: str, result: dict) -> str:
    cells = result["latency_ms"]
    names = list(next(iter(cells.values())))
    lines = [
        f"#### {name}: median ms per call (speedup vs eager)",
        "",
        "| variant | " + " | ".join(cells) + " |",
        "|---" * (len(cells) + 1) + "|",
    ]
    for variant in names:
        row = [f"{c[variant]:.1f} ({c['eager'] / c[variant]:.2f}x)" for c in cells.values()]
        lines.append(f"| {variant} | " + " | ".join(row) + " |")
    lines += [
        "",
        f"#### {name}: compile (build + first call) s per batch size, largest first",
        "",
        "| variant | " + " | ".join(f"b{b}" for b in next(iter(result["compile_s"].values()))) + " |",
        "|---" * (1 + len(next(iter(result["compile_s"].values())))) + "|",
    ]
    for variant, seconds in result["compile_s"].items():
        lines.append(f"| {variant} | " + " | ".join(f"{s:.1f}" for s in seconds.values()) + " |")
    for key, value in result["package"].items():
        lines.append(f"\n.pt2 {key}: {value:.1f}")
    return "\n".join(lines)


def warm_up_inductor() -> None:
    """Inductor's one-time start-up in a process (imports, C++ toolchain checks), so that the first
    variant's compile time is not inflated by it."""
    with torch.no_grad():
        Hand(torch.nn.Linear(4, 4).eval())(torch.rand(2, 4))


def main() -> None:
    args = parse_args()
    warm_up_inductor()
    results = {}
    for name in args.models:
        results[name] = run_model(name, args)
        print(tables(name, results[name]), flush=True)
    if args.json:
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
