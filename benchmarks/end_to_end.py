"""Whole runs of user-like scripts: as written, patched on a first run (empty conversion cache),
and patched on a second run (the cache filled by the first), side by side.

Each repeat runs original, first and second in turn, each a fresh process with one thread
(OMP_NUM_THREADS=1) and coder's defaults (never slower and the conversion budget on); the
second-run variant gets its cache from one untimed patched run before the repeats. Wall and CPU
seconds (user + system, of the process and its children) are medians over the repeats. The
calls and what coder did come from its closing line.

    python benchmarks/end_to_end.py --transform nano_openvino_int8 --repeats 3 --markdown
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {  # name -> (the script and its arguments, the kind of script it stands for)
    "classify_image": (["end_to_end/classify_image.py"], "model-card snippet, image (resnet50)"),
    "classify_text": (["end_to_end/classify_text.py"], "model-card snippet, text (BERT-base)"),
    "sentiment_pipeline": (["end_to_end/sentiment_pipeline.py"], "pipeline, 10 reviews (BERT-base)"),
    "detect_images": (["end_to_end/detect_images.py"], "detection, a list of 2 images (Faster R-CNN MobileNetV3)"),
    "benchmark_loop": (
        ["../coder/examples/resnet_inference.py", "--steps", "100"],
        "benchmark loop (resnet18, 3 + 100 calls)",
    ),
}
CLOSING = re.compile(r"^coder: (\S+)(:| not used).*$", re.MULTILINE)
CALLS = re.compile(r"(\d+) calls?")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transform", default="nano_openvino_int8")
    parser.add_argument("--scripts", default=",".join(SCRIPTS), help="comma-separated, among: " + ", ".join(SCRIPTS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--json", help="write every run here")
    parser.add_argument("--markdown", action="store_true")
    return parser.parse_args(argv)


def command(script: str, transform: str | None) -> list[str]:
    path, *rest = SCRIPTS[script][0]
    patched = [] if transform is None else ["-m", "coder", "-o", transform]
    return [sys.executable, *patched, str((HERE / path).resolve()), *rest]


def timed(cmd: list[str], cache: str, timeout: float) -> dict:
    """One whole process: wall and CPU seconds, its closing line, whether it failed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CODER_CACHE": cache}
    for name in ("CODER_NEVER_SLOWER", "CODER_RECORD", "CODER_QUIET"):
        env.pop(name, None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    closing = [m.group(0) for m in CLOSING.finditer(done.stderr) if " call" in m.group(0)]
    return {
        "wall": wall,
        "cpu": cpu,
        "code": done.returncode,
        "closing": closing[-1] if closing else None,
        "stdout": done.stdout,
    }


def run_script(script: str, args) -> dict:
    warm = tempfile.mkdtemp(prefix="coder-e2e-warm-")
    timed(command(script, args.transform), warm, args.timeout)  # fills the cache for "second"
    runs = {"original": [], "first": [], "second": []}
    for repeat in range(args.repeats):
        runs["original"].append(timed(command(script, None), "off", args.timeout))
        empty = tempfile.mkdtemp(prefix="coder-e2e-")
        runs["first"].append(timed(command(script, args.transform), empty, args.timeout))
        shutil.rmtree(empty, ignore_errors=True)
        runs["second"].append(timed(command(script, args.transform), warm, args.timeout))
        print(
            f"[{time.strftime('%H:%M:%S')}] {script} repeat {repeat + 1}: "
            + ", ".join(f"{k} {v[-1]['wall']:.1f} s" for k, v in runs.items()),
            file=sys.stderr,
            flush=True,
        )
    shutil.rmtree(warm, ignore_errors=True)
    return runs


def median(runs: list[dict], figure: str) -> float:
    return statistics.median(run[figure] for run in runs)


def printed(run: dict) -> list[str]:
    """What a run printed, its own timings aside."""
    return [line for line in run["stdout"].splitlines() if not line.startswith("latency:")]


def row(script: str, runs: dict) -> str:
    closing = runs["second"][-1]["closing"] or "(no closing line)"
    calls = CALLS.search(closing)
    cells = [SCRIPTS[script][1], calls.group(1) if calls else "?"]
    original = median(runs["original"], "wall")
    for variant in ("first", "second"):
        wall = median(runs[variant], "wall")
        cells.append(f"{wall:.1f} s ({wall / original:.2f}x), CPU {median(runs[variant], 'cpu'):.1f} s")
    cells.append(f"{original:.1f} s, CPU {median(runs['original'], 'cpu'):.1f} s")
    same = all(printed(run) == printed(runs["original"][0]) for run in runs["second"])
    cells.append(("same output; " if same else "output differs; ") + closing.split(": ", 1)[-1])
    return "| " + " | ".join(cells) + " |"


def main(argv=None) -> int:
    args = parse_args(argv)
    results = {script: run_script(script, args) for script in args.scripts.split(",")}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.markdown:
        print(
            f"| script ({args.transform}) | calls | first run | second run | original | what coder said (second run) |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for script, runs in results.items():
            print(row(script, runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
