"""A user's script run under ``python -m coder -o NAME`` in a subprocess, for the tests of the
cache's and the workspaces' files (what a user sees: exit code, stdout, stderr's lines)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]

# 2 MB of weights: more than a 1 MB disk holds
CLASSIFIER = textwrap.dedent("""
    import torch

    torch.manual_seed(SEED)
    model = torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10))
    model.eval()
    x = torch.rand(8, 512, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        print("classes", model(x).argmax(1).tolist())
""")
TWO_CLASSIFIERS = CLASSIFIER + CLASSIFIER.replace("SEED", "SEED + 1")


def classes(seed: int = 0) -> str:
    """What CLASSIFIER prints, computed here."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10)).eval()
    with torch.no_grad():
        return f"classes {model(torch.rand(8, 512, generator=torch.Generator().manual_seed(1))).argmax(1).tolist()}"


def run_patched(
    tmp_path: Path,
    transform: str,
    script: str = CLASSIFIER,
    cache: Path | str | None = None,
    seed: int = 0,
    preexec_fn=None,
    **env,
) -> subprocess.CompletedProcess:
    path = tmp_path / "script.py"
    path.write_text(script.replace("SEED", str(seed)))
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "CODER_CACHE": str(cache if cache is not None else tmp_path / "cache"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "coder", "-o", transform, str(path)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=900,
        preexec_fn=preexec_fn,
    )


def cache_command(action: str, cache: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "CODER_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "coder", "cache", action], capture_output=True, text=True, env=environment, timeout=300
    )


def lines(stderr: str, about: str = "") -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and about in line]
