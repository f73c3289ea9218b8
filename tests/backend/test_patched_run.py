"""A patched script's run as the user sees it: its stdout is its own (no progress bars, the same
random draws), stderr has only coder's one-line messages and the closing line, the second run
loads from the cache, CODER_QUIET silences the closing line, and conversion stays within the
script's thread count."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent("""
    import random
    import torch
    import torchvision

    torch.manual_seed(0)
    random.seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.eval()
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 64, 64))
    print(tuple(logits.shape))
    print(torch.rand(3).tolist(), random.random())  # what the script draws next is what it drew before
""")
CLOSING = re.compile(
    r"^coder: nano_openvino_int8: (converted in [0-9.]+ s \(cached for next runs\)|"
    r"loaded from the cache in [0-9.]+ s), 1 call, speed not compared \(never_slower is off\)$"
)


def run(args: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "CODER_CACHE": str(tmp_path / "cache"),
        **env,
    }
    return subprocess.run(
        [sys.executable, *args, str(script)], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=900
    )


@pytest.mark.slow
def test_the_run_prints_what_the_script_prints_and_one_closing_line(tmp_path):
    original = run([], tmp_path)
    patched = [run(["-m", "coder", "-o", "nano_openvino_int8"], tmp_path) for _ in range(2)]
    for result in patched:
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout == original.stdout  # no NNCF progress bar, the same random numbers
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert all(line.startswith("coder: ") for line in lines), lines
        assert CLOSING.match(lines[-1]), lines[-1]
    assert "converted in" in patched[0].stderr and "loaded from the cache in" in patched[1].stderr
    quiet = run(["-m", "coder", "-o", "nano_openvino_int8"], tmp_path, CODER_QUIET="1")
    assert not any(CLOSING.match(line) for line in quiet.stderr.splitlines())


THREADS = textwrap.dedent("""
    import os, torch, torchvision
    from coder.backend import InferenceOptimizer

    def threads():
        return set(os.listdir("/proc/self/task"))

    before = threads()
    model = InferenceOptimizer.quantize(torchvision.models.resnet18(weights=None).eval(), precision="int8",
                                        accelerator="openvino")
    with torch.no_grad():
        model(torch.rand(1, 3, 64, 64))
    assert model.accelerated, model.fallback_reason
    for tid in sorted(threads() - before):
        allowed = [line for line in open(f"/proc/self/task/{tid}/status") if line.startswith("Cpus_allowed_list")]
        print(allowed[0].split()[1])
    print("main", len(os.sched_getaffinity(0)))
""")


@pytest.mark.slow
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to confine")
def test_threads_started_by_a_conversion_stay_within_the_scripts_count(tmp_path):
    script = tmp_path / "threads.py"
    script.write_text(THREADS)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    *started, main = result.stdout.split("\n")[:-1]
    assert started and all(re.fullmatch(r"\d+", cpus) for cpus in started)  # one CPU each, not a range
    assert main == f"main {len(os.sched_getaffinity(0))}"  # the script's own thread is given back its CPUs
