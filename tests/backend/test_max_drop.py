"""--max-drop's criterion in the runtime's parity check, and the INT8 re-tune (coder/backend/accuracy.py)."""

from __future__ import annotations

import pytest
import torch

from coder.backend import InferenceOptimizer
from coder.backend.accuracy import ENVIRONMENT, MaxDrop, bad_max_drop
from tests.backend.inputs import coder_warnings


def judge(limit: float, got: torch.Tensor, want: torch.Tensor) -> str | None:
    return MaxDrop(limit).judge([got], [want], [""])


def test_classifier_logits_are_judged_on_top1_agreement():
    want = torch.eye(4) * 5  # four samples, four different classes
    got = want.clone()
    got[0] = torch.tensor([0.0, 9.0, 0.0, 0.0])  # one of four flips: a drop of 0.25
    assert "top-1 agreement with the original 0.75, a drop of 0.25 > --max-drop 0.2" in judge(0.2, got, want)
    assert judge(0.25, got, want) is None
    assert judge(0.0, want * 1.5, want) is None  # large relative error, same top-1


def test_other_outputs_and_one_class_batches_are_judged_on_relative_error():
    features = torch.ones(2, 3, 4)
    assert "relative error 0.1 > --max-drop 0.05" in judge(0.05, features * 1.1, features)
    one_class = torch.tensor([[1.0, 0.0], [2.0, 0.0]])  # every sample in class 0: top-1 says nothing
    assert "relative error" in judge(0.01, one_class * 1.1, one_class)
    assert judge(0.2, one_class * 1.1, one_class) is None


@pytest.mark.parametrize(
    "text,problem",
    [("-0.1", "between 0 and 1"), ("1.5", "between 0 and 1"), ("abc", "not a number"), ("nan", "between 0 and 1")],
)
def test_bad_values(text, problem):
    assert problem in bad_max_drop(text)
    assert bad_max_drop("0") is None and bad_max_drop("1") is None


def outlier_model() -> tuple[torch.nn.Module, torch.Tensor]:
    """Its input has one huge feature that the first layer ignores: INT8 activations of the
    first layer lose every other feature, the middle layer quantizes well."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
    ).eval()
    with torch.no_grad():
        model[0].weight[:, 0] = 0
    x = torch.randn(8, 16)
    x[:, 0] = 1000.0
    return model, x


def run(model, x, calls: int = 3):
    accelerated = InferenceOptimizer.quantize(model, precision="int8", approach="dynamic")
    with torch.no_grad():
        outputs = [accelerated(x) for _ in range(calls)]
    return accelerated, outputs[-1]


def test_dynamic_int8_is_re_tuned_with_first_and_last_layers_in_fp32(monkeypatch, runtime_warnings):
    monkeypatch.setenv(ENVIRONMENT, "0.05")
    model, x = outlier_model()
    accelerated, y = run(model, x)
    assert accelerated.accelerated
    (note,) = coder_warnings(runtime_warnings)
    assert note.startswith(
        "coder: nano_int8_dynamic: re-tuned for --max-drop 0.05, first and last layers left in "
        "fp32 (the default config: relative error "
    )
    assert torch.linalg.norm(y - model(x)) / torch.linalg.norm(model(x)) <= 0.05


def test_without_max_drop_the_int8_tolerance_applies_and_nothing_is_re_tuned(runtime_warnings):
    model, x = outlier_model()
    accelerated, _ = run(model, x)
    (warning,) = coder_warnings(runtime_warnings)
    assert "relative error" in warning and "> 0.25" in warning and not accelerated.accelerated


def test_a_drop_the_safer_config_cannot_meet_falls_back_with_both_measurements(monkeypatch, runtime_warnings):
    monkeypatch.setenv(ENVIRONMENT, "0")
    model, x = outlier_model()
    accelerated, y = run(model, x)
    assert torch.equal(y, model(x)) and not accelerated.accelerated
    (warning,) = coder_warnings(runtime_warnings)
    assert warning.startswith("coder: nano_int8_dynamic not used (relative error ")
    assert "> --max-drop 0; re-tuned (first and last layers left in fp32): relative error " in warning


@pytest.mark.slow
def test_static_int8_is_re_tuned_with_7_bit_activations_where_its_default_is_8_bit(monkeypatch, runtime_warnings):
    from coder.backend.cpu import this_cpu

    monkeypatch.setenv(ENVIRONMENT, "0")  # nothing INT8 meets it: both configs are measured
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)).eval()
    x = torch.randn(8, 16)
    accelerated = InferenceOptimizer.quantize(model, precision="int8", calib_calls=1)
    with torch.no_grad():
        assert torch.equal(accelerated(x), model(x))
    (warning,) = coder_warnings(runtime_warnings)
    assert warning.startswith("coder: nano_int8 not used (relative error ")
    retuned = "; re-tuned (PT2E with 7-bit activations): relative error " in warning
    assert retuned == this_cpu().vnni  # without VNNI the default already is that config
