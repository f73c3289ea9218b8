"""A conversion past its time budget is stopped, says so in one line, and is not tried again."""

from __future__ import annotations

import time

import pytest
import torch

from coder.backend import InferenceOptimizer, budget, cache
from tests.backend.inputs import coder_warnings, images


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_deadline_interrupts_python_work():
    started = time.perf_counter()
    with pytest.raises(budget.ConversionStopped), budget.deadline(0.05):
        busy(5)
    assert time.perf_counter() - started < 2


def test_a_library_that_swallows_the_interruption_and_carries_on_is_still_stopped():
    """OpenVINO's frontend catches a failed trace and tries another way: that must not outlive the budget."""
    with pytest.raises(budget.ConversionStopped), budget.deadline(0.05):
        try:
            busy(5)
        except Exception:  # what a library's fallback path does
            pass


def test_a_block_that_ends_in_time_is_never_interrupted_later():
    with budget.deadline(0.05):
        pass
    busy(0.2)  # the timer would have fired here


def test_the_budget_follows_the_original_and_the_settings(monkeypatch):
    monkeypatch.delenv("CODER_CONVERSION_BUDGET", raising=False)
    assert budget.budget_for(0.01, timing_on=True).seconds == budget.BUDGET_FLOOR_SECONDS
    assert budget.budget_for(10.0, timing_on=True).seconds == 10.0 * budget.BUDGET_CALLS
    assert budget.budget_for(10.0, timing_on=False).seconds is None  # the test suite, benchmarks
    monkeypatch.setenv("CODER_CONVERSION_BUDGET", "5")
    assert budget.budget_for(10.0, timing_on=False).seconds == 5.0
    monkeypatch.setenv("CODER_CONVERSION_BUDGET", "off")
    assert budget.budget_for(10.0, timing_on=True).seconds is None


def test_a_stopped_conversion_falls_back_and_is_remembered(resnet18, tmp_path, monkeypatch, runtime_warnings):
    monkeypatch.setenv("CODER_CACHE", str(tmp_path))
    monkeypatch.setenv("CODER_CONVERSION_BUDGET", "0.01")
    x = images(1, 0)
    model = InferenceOptimizer.trace(resnet18, accelerator="openvino")
    with torch.no_grad():
        assert torch.equal(model(x), resnet18(x))
        assert model.fallback_reason.startswith("conversion stopped after 0.01 s, its time budget (")
        again = InferenceOptimizer.trace(resnet18, accelerator="openvino")  # the same budget
        again(x)
    assert again.fallback_reason == model.fallback_reason and not again.story.converted
    [entry] = cache.entries(tmp_path)
    assert entry.meta()["status"] == "failed"
    assert [m.count("\n") for m in coder_warnings(runtime_warnings)] == [0, 0]


def test_a_stop_under_a_budget_is_retried_with_more_time(resnet18, tmp_path, monkeypatch, runtime_warnings):
    monkeypatch.setenv("CODER_CACHE", str(tmp_path))
    monkeypatch.setenv("CODER_CONVERSION_BUDGET", "0.01")
    x = images(1, 0)
    with torch.no_grad():
        InferenceOptimizer.trace(resnet18, accelerator="jit")(x)
        monkeypatch.setenv("CODER_CONVERSION_BUDGET", "off")
        again = InferenceOptimizer.trace(resnet18, accelerator="jit")
        again(x)
    assert again.accelerated and again.story.converted
    assert not any("unreadable" in message for message in coder_warnings(runtime_warnings))
    [entry] = cache.entries(tmp_path)
    assert entry.meta()["status"] == "ok"
