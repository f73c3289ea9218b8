"""A cache entry serves only the model that made it: the user's reproduction as real
runs of ``python -m coder``; a random walk over models that differ in one attribute, global,
helper function, buffer or weight, which never gets a stale entry; a model that loads another's
entry (what the key leaves out: an environment variable read in forward) falls back without
taking the entry from the model that made it."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from coder.backend import InferenceOptimizer, cache
from coder.backend.parity import TOLERANCE, relative_error
from tests.backend.inputs import load_script

ROOT = Path(__file__).resolve().parents[2]

CLAMPED = textwrap.dedent("""
    import argparse
    import torch


    class Clamped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(8, 8)
            self.limit = 10.0

        def forward(self, x):
            return torch.clamp(self.linear(x), max=self.limit)


    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=float, default=10.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = Clamped().eval()
    model.limit = args.limit
    x = torch.randn(4, 8) * 100
    with torch.no_grad():
        for _ in range(3):
            y = model(x)
    print(f"max {y.max().item():.1f}")
""")


def run_coder(transform: str, script: Path, limit: int, cache_folder: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CODER_CACHE": str(cache_folder), "CODER_NEVER_SLOWER": "0", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "coder", "-o", transform, str(script), "--limit", str(limit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("transform", ["nano_jit_fp32", "nano_openvino_fp32", "nano_onnxruntime_fp32"])
def test_a_script_run_with_another_limit_gets_its_own_entry(transform, tmp_path):
    script = tmp_path / "clamped.py"
    script.write_text(CLAMPED)
    runs = [run_coder(transform, script, limit, tmp_path / "cache") for limit in (10, 1, 10)]
    assert [run.stdout.strip() for run in runs] == ["max 10.0", "max 1.0", "max 10.0"]
    first, second, third = (run.stderr for run in runs)
    assert "converted" in first and "converted" in second, second  # the limit is part of the key
    assert "loaded from the cache" in third and "not used" not in third, third
    assert len(cache.entries(tmp_path / "cache")) == 2


SOURCE = textwrap.dedent("""
    import torch

    SCALE = 1.0


    def plus_one(x):
        return x + 1


    def minus_one(x):
        return x - 1


    helper = plus_one


    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(256, 512)  # 512 KB: the old hash read every other element
            self.register_buffer("offset", torch.zeros(512))
            self.limit = 2.0

        def forward(self, x):
            return helper(torch.clamp(self.linear(x) * SCALE, max=self.limit) + self.offset)
""")

CHANGES = {
    "attribute": lambda script, model, rng: setattr(model, "limit", rng.choice([0.5, 2.0, 5.0])),
    "global": lambda script, model, rng: setattr(script, "SCALE", rng.choice([1.0, 3.0])),
    "helper": lambda script, model, rng: setattr(script, "helper", rng.choice([script.plus_one, script.minus_one])),
    "buffer": lambda script, model, rng: model.offset.fill_(rng.choice([0.0, 0.5])),
    "weight": lambda script, model, rng: model.linear.weight.view(-1)[1].fill_(rng.choice([0.0, 4.0])),
    "nothing": lambda script, model, rng: None,
}


@pytest.fixture
def script(tmp_path):
    yield load_script(tmp_path, SOURCE, "stale_script")
    sys.modules.pop("stale_script", None)


@pytest.mark.parametrize("accelerator, steps", [("jit", 40), ("openvino", 5)])
def test_a_random_walk_over_model_changes_never_gets_a_stale_entry(accelerator, steps, script, tmp_path, monkeypatch):
    monkeypatch.setenv("CODER_CACHE", str(tmp_path / "cache"))
    rng = random.Random(18)
    torch.manual_seed(0)
    model, x = script.Net().eval(), torch.randn(2, 256) * 3
    loaded = 0
    for step in range(steps):
        change = rng.choice(sorted(CHANGES))
        with torch.no_grad():
            CHANGES[change](script, model, rng)
            accelerated = InferenceOptimizer.trace(model, accelerator=accelerator)  # as in a script's next run
            served, eager = accelerated(x), model(x)
        assert accelerated.accelerated, (step, change, accelerated.fallback_reason)
        assert relative_error(served, eager) <= TOLERANCE["fp32"], (step, change)
        loaded += not accelerated.story.converted
    assert loaded > 0  # states recur: their entries are found again


class ReadsTheEnvironment(torch.nn.Module):
    """What the key leaves out: forward reads an environment variable, which a trace bakes in."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(8, 8)

    def forward(self, x):
        return self.linear(x) * float(os.environ.get("STALE_TEST_SCALE", "1"))


def test_a_model_that_loads_another_ones_entry_leaves_it_to_that_model(tmp_path, monkeypatch, runtime_warnings):
    monkeypatch.setenv("CODER_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    model, x = ReadsTheEnvironment().eval(), torch.randn(2, 8)

    def run(scale: str):
        monkeypatch.setenv("STALE_TEST_SCALE", scale)
        accelerated = InferenceOptimizer.trace(model, accelerator="jit")
        with torch.no_grad():
            assert torch.allclose(accelerated(x), model(x))  # the check caught the other one's entry
        return accelerated

    assert run("1").story.converted
    other = run("3")
    assert other.fallback is not None and other.fallback.kind == "drift"
    [entry] = cache.entries(tmp_path / "cache")
    meta = entry.meta()
    assert meta["status"] == "ok" and meta["rejected"][-1]["reason"] == other.fallback_reason
    again = run("1")  # the model that made the entry still loads it
    assert again.accelerated and not again.story.converted
