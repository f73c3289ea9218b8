"""Never slower: a runtime that does not beat the original on the first real inputs is not used.

The decision rule is tested on a scripted clock; the wrapper is tested on runtimes whose speed
is not in doubt (one sleeps 50 ms per call against a Linear layer, or the other way round).
"""

from __future__ import annotations

import time

import pytest
import torch

from coder.backend import speed
from coder.backend.recipe import Recipe
from coder.backend.runtimes import Options, Runtime, torch_needs
from coder.backend.wrapper import AcceleratedModel
from tests.backend.inputs import coder_warnings

SLEEP = 0.05


class ScriptedClock:
    """Each timed call takes the next duration of its side; the budget clock ticks with them."""

    def __init__(self, original: float, accelerated: float) -> None:
        self.now = 0.0
        self.durations = {"original": original, "accelerated": accelerated}

    def __call__(self) -> float:
        return self.now

    def call(self, side: str):
        def run():
            self.now += self.durations[side]

        return run


def compare(original: float, accelerated: float) -> speed.Comparison:
    clock = ScriptedClock(original, accelerated)
    return speed.compare(clock.call("original"), clock.call("accelerated"), clock)


def test_hopeless_runtime_is_judged_after_one_pair():
    result = compare(0.010, 0.050)
    assert result.pairs == 1 and not result.faster and result.ratio == pytest.approx(5.0)


def test_plainly_faster_runtime_is_judged_after_the_minimum_pairs():
    result = compare(0.010, 0.004)
    assert result.pairs == speed.MIN_PAIRS and result.faster


def test_a_tie_goes_to_the_original_after_every_pair_or_the_budget():
    result = compare(0.010, 0.0099)
    assert result.pairs == speed.MAX_PAIRS and not result.faster
    slow_tie = compare(0.4, 0.4)  # 0.8 s per pair: the budget ends it after the minimum
    assert slow_tie.pairs == speed.MIN_PAIRS


def test_keyword_beats_environment(monkeypatch):
    monkeypatch.setenv("CODER_NEVER_SLOWER", "0")
    assert not speed.enabled(None) and speed.enabled(True)
    monkeypatch.setenv("CODER_NEVER_SLOWER", "1")
    assert speed.enabled(None) and not speed.enabled(False)


class SleepyLinear(torch.nn.Linear):
    def forward(self, x):
        time.sleep(SLEEP)
        return super().forward(x)


class FlatRunner:
    """A runtime on flat tensors, as every build returns."""

    def __init__(self, module) -> None:
        self.module = module

    def __call__(self, tensors):
        return [self.module(*tensors)]


def build_sleepy(request):
    sleepy = SleepyLinear(4, 4)
    sleepy.load_state_dict(request.model.state_dict())
    return FlatRunner(sleepy.eval())


def build_plain(request):
    plain = torch.nn.Linear(4, 4)
    plain.load_state_dict(request.model.state_dict())
    return FlatRunner(plain.eval())


def accelerated(original: torch.nn.Module, build: str, never_slower: bool = True) -> AcceleratedModel:
    runtime = Runtime("scripted", ("torch",), torch_needs, {"fp32": f"tests.backend.test_never_slower:{build}"})
    return AcceleratedModel(original.eval(), Recipe("scripted", Options(), (runtime,)), never_slower=never_slower)


def test_a_slower_runtime_is_not_used_and_says_so_in_one_line(runtime_warnings):
    torch.manual_seed(0)
    original = torch.nn.Linear(4, 4)
    model = accelerated(original, "build_sleepy")
    x = torch.rand(2, 4)
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x))
    assert not model.accelerated and model.speed.ratio > speed.HOPELESS
    [message] = coder_warnings(runtime_warnings)
    assert message.startswith("coder: scripted not used (not faster than the original here: ")
    assert message.endswith(" per call): running the original model")


def test_a_faster_runtime_is_kept(runtime_warnings):
    torch.manual_seed(0)
    original = SleepyLinear(4, 4)
    model = accelerated(original, "build_plain")
    x = torch.rand(2, 4)
    with torch.no_grad():
        model(x)
    assert model.accelerated and model.speed.faster
    assert coder_warnings(runtime_warnings) == []


def test_not_faster_is_remembered_while_the_rule_is_on(tmp_path, monkeypatch, runtime_warnings):
    monkeypatch.setenv("CODER_CACHE", str(tmp_path))
    torch.manual_seed(0)
    original, x = torch.nn.Linear(4, 4), torch.rand(2, 4)
    with torch.no_grad():
        accelerated(original, "build_sleepy")(x)
        again = accelerated(original, "build_sleepy")
        again(x)
        assert again.fallback_reason.startswith("not faster") and again.speed is None  # not timed again
        unruled = accelerated(original, "build_sleepy", never_slower=False)
        unruled(x)
    assert unruled.accelerated  # never_slower off: the remembered timing does not apply
