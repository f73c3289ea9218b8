"""The speed suite: each script run (a) as written, (b) patched by coder for each transform,
(c) with the same optimization written by hand (benchmarks/handwritten.py), side by side.

Every cell of the grid (workload x threads x batch) runs its variants interleaved, once per
repeat, each in a fresh process; a value is the median over repeats of each run's median.

    python benchmarks/suite.py --workloads resnet50 --methods nano_jit_bf16_ipex,nano_openvino_int8 \\
        --threads 1,2 --batches 1,8 --repeats 3 --markdown
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from coder import transforms  # noqa: E402  (the repository root is on sys.path only from here on)

WORKLOADS = ("resnet50", "mobilenet_v3_small", "bert_base")
LATENCY = re.compile(r"^latency_ms=([0-9.]+)$", re.MULTILINE)
FALLBACK = re.compile(r"not used, running the original model: (.*)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated; also resnet18")
    parser.add_argument("--methods", default="all", help="comma-separated transform names, or all")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json", help="write every measurement here")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    return parser.parse_args(argv)


@dataclass(frozen=True)
class Cell:
    workload: str
    threads: int
    batch: int


@dataclass
class Measure:
    """One variant in one cell: its latencies over repeats, or why it has none."""

    variant: str  # "original", "coder" or "hand"
    method: str
    samples: list[float] = field(default_factory=list)
    problem: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None


def script_args(cell: Cell, args) -> list[str]:
    common = ["--batch-size", str(cell.batch), "--steps", str(args.steps), "--warmup", str(args.warmup)]
    return common + (["--seq-len", str(args.seq_len)] if cell.workload == "bert_base" else [])


def command(measure: Measure, cell: Cell, args) -> list[str]:
    script = str(HERE / "scripts" / f"{cell.workload}.py")
    rest = script_args(cell, args)
    if measure.variant == "original":
        return [sys.executable, script, *rest]
    if measure.variant == "coder":
        return [sys.executable, "-m", "coder", "-o", measure.method, script, *rest]
    return [sys.executable, str(HERE / "handwritten.py"), measure.method, cell.workload, *rest]


def run_once(measure: Measure, cell: Cell, args) -> None:
    # the never-slower check off: the suite times each variant as written, side by side
    env = dict(os.environ, OMP_NUM_THREADS=str(cell.threads), MKL_NUM_THREADS=str(cell.threads), CODER_NEVER_SLOWER="0")
    env.pop("CODER_RECORD", None)
    try:
        done = subprocess.run(
            command(measure, cell, args), env=env, capture_output=True, text=True, timeout=args.timeout, cwd=HERE.parent
        )
    except subprocess.TimeoutExpired:
        measure.problem = f"timeout ({args.timeout:.0f} s)"
        return
    found = LATENCY.search(done.stdout)
    fallback = FALLBACK.search(done.stderr)
    if done.returncode != 0 or not found:
        measure.problem = last_line(done.stderr) or f"exit code {done.returncode}"
    elif fallback:
        measure.problem = f"fell back: {fallback.group(1)[:80]}"
    else:
        measure.samples.append(float(found.group(1)))


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception)\b", line)]
    return (errors or lines or [""])[-1][:120]


def measures_for(methods: list[str]) -> list[Measure]:
    return [Measure("original", "original")] + [
        Measure(variant, method) for method in methods for variant in ("coder", "hand")
    ]


def run_cell(cell: Cell, methods: list[str], args) -> list[Measure]:
    """All variants of one cell, interleaved: repeat 1 of each, then repeat 2 of each, ..."""
    measures = measures_for(methods)
    for repeat in range(args.repeats):
        for measure in measures:
            if measure.problem is None:
                run_once(measure, cell, args)
                progress(cell, measure, repeat)
    return measures


def progress(cell: Cell, measure: Measure, repeat: int) -> None:
    value = f"{measure.samples[-1]:.2f} ms" if measure.samples and not measure.problem else measure.problem
    print(
        f"[{time.strftime('%H:%M:%S')}] {cell.workload} t{cell.threads} b{cell.batch} r{repeat + 1} "
        f"{measure.variant:<8} {measure.method:<34} {value}",
        file=sys.stderr,
        flush=True,
    )


def rows(cell: Cell, measures: list[Measure]) -> list[dict]:
    original = measures[0].median
    by_key = {(m.variant, m.method): m for m in measures}
    table = [row(cell, "original", measures[0], None, original)]
    for method in dict.fromkeys(m.method for m in measures[1:]):
        table.append(row(cell, method, by_key[("coder", method)], by_key[("hand", method)], original))
    return table


def row(cell: Cell, method: str, coder: Measure, hand: Measure | None, original: float | None) -> dict:
    ours, theirs = coder.median, hand.median if hand else None
    return {
        **asdict(cell),
        "method": method,
        "coder_ms": ours,
        "hand_ms": theirs,
        "speedup": ratio(original, ours),
        "hand_speedup": ratio(original, theirs),
        "coder_vs_hand": ratio(ours, theirs),
        "coder_samples": coder.samples,
        "hand_samples": hand.samples if hand else [],
        "problem": problem_of(coder, hand),
    }


def problem_of(coder: Measure, hand: Measure | None) -> str | None:
    if coder.problem:
        return coder.problem
    return f"hand-written: {hand.problem}" if hand and hand.problem else None


def ratio(numerator, denominator) -> float | None:
    return numerator / denominator if numerator and denominator else None


def markdown(table: list[dict]) -> str:
    lines = [
        "| workload | threads | batch | method | coder ms | hand ms | speedup (coder) "
        "| speedup (hand) | coder / hand | note |",
        "|" + " --- |" * 10,
    ]
    for r in table:
        lines.append(
            f"| {r['workload']} | {r['threads']} | {r['batch']} | {r['method']} | {fmt(r['coder_ms'])} "
            f"| {fmt(r['hand_ms'])} | {fmt(r['speedup'], 'x')} | {fmt(r['hand_speedup'], 'x')} "
            f"| {fmt(r['coder_vs_hand'])} | {r['problem'] or ''} |"
        )
    return "\n".join(lines)


def fmt(value, suffix="") -> str:
    return "-" if value is None else f"{value:.2f}{suffix}"


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    import torch

    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_average": os.getloadavg(),
    }


def chosen_methods(text: str) -> list[str]:
    if text == "all":
        return [entry.name for entry in transforms.CATALOG if not entry.missing()]
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        transforms.get(name)  # an unknown name fails here, with close matches
    return names


def main(argv=None) -> int:
    args = parse_args(argv)
    methods = chosen_methods(args.methods)
    began = {"started": time.strftime("%Y-%m-%d %H:%M %Z"), "load_average_at_start": os.getloadavg()}
    cells = [
        Cell(w, int(t), int(b))
        for w, t, b in itertools.product(args.workloads.split(","), args.threads.split(","), args.batches.split(","))
    ]
    table = [r for cell in cells for r in rows(cell, run_cell(cell, methods, args))]
    print(markdown(table) if args.markdown else json.dumps(table, indent=1))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": {**machine(), **began}, "argv": sys.argv, "rows": table}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
