"""How fast the engine rewrites a 2,000-line script (DESIGN: --emit < 0.3 s, --diff process < 0.5 s).

    .venv/bin/python benchmarks/bench_engine.py [--repeat 7]

Two generated scripts of about 2,000 lines, built around coder/examples/resnet_inference.py:
  mostly-unrelated  the example plus helper functions that never touch torch
  all-torch         the example plus functions that all use torch and call each other
(In both, the added functions are parsed and written back, but left out of the metadata view.)
Measured: the in-process patch (parse, detect, plan, rewrite, re-parse check) and whole processes
`python -m coder -o nano_jit_bf16_ipex --emit OUT` and `--diff`, medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import functools
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # measure this checkout, not whichever coder is installed
EXAMPLE = ROOT / "coder" / "examples" / "resnet_inference.py"
TRANSFORM = "nano_jit_bf16_ipex"

UNRELATED = '''

def summarize_{i}(rows, key="score", limit=10):
    """Statistics of one column, as report helpers in long scripts do."""
    values = [row[key] for row in rows if key in row]
    if not values:
        return {{"count": 0}}
    values.sort()
    middle = len(values) // 2
    return {{"count": len(values), "median": values[middle], "top": values[-limit:]}}
'''

TORCH = '''

def preprocess_{i}(batch, scale=1.0):
    """Normalize a batch and run it through the previous stage."""
    batch = torch.nn.functional.normalize(batch, dim=1) * scale
    if batch.dim() == 4:
        batch = batch.contiguous(memory_format=torch.channels_last)
    return preprocess_{prev}(batch, scale) if {i} % 7 else batch
'''


def build_script(kind: str, lines: int = 2000) -> str:
    parts, text, i = [EXAMPLE.read_text()], EXAMPLE.read_text(), 1
    while text.count("\n") < lines:
        part = (UNRELATED if kind == "mostly-unrelated" else TORCH).format(i=i, prev=max(i - 1, 0))
        parts.insert(1, part)
        text += part
        i += 1
    return "".join(parts).replace("preprocess_0(batch, scale)", "batch")


def median_seconds(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_child_cpu(action, repeat: int) -> float:
    """CPU seconds (user + system) of the child process: what a shared machine does not inflate."""
    times = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        action()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def in_process(source: str) -> None:
    from coder import engine

    engine._cached_analysis.cache_clear()  # measure the whole work each time
    engine.patch(source, TRANSFORM)


def process(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "coder", "-o", TRANSFORM, *args],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    print(
        "| script | lines | patch in-process, wall (s) | --emit process, wall / CPU (s) "
        "| --diff process, wall / CPU (s) |"
    )
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("mostly-unrelated", "all-torch"):
            script = Path(folder) / f"{kind}.py"
            script.write_text(build_script(kind))
            out = str(Path(folder) / "out.py")
            patch = median_seconds(lambda script=script: in_process(script.read_text()), repeat)
            emit = median_seconds(functools.partial(process, "--emit", out, str(script)), repeat)
            emit_cpu = median_child_cpu(functools.partial(process, "--emit", out, str(script)), repeat)
            diff = median_seconds(functools.partial(process, "--diff", str(script)), repeat)
            diff_cpu = median_child_cpu(functools.partial(process, "--diff", str(script)), repeat)
            lines = script.read_text().count("\n")
            print(f"| {kind} | {lines} | {patch:.3f} | {emit:.3f} / {emit_cpu:.3f} | {diff:.3f} / {diff_cpu:.3f} |")


if __name__ == "__main__":
    main()
