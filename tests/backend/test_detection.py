"""A detection model (a list of images in, a list of dicts out) under every named transform.

The eager fp32 transforms run the model's own Python code and must serve it. Every other
transform either serves outputs with the original's structure (list, dict keys, lengths) and
values, or falls back with a one-line reason and serves the original's own outputs from then on;
no call may return something that differs without a warning. Four calls: a runtime whose trace
warned that it may not hold for other inputs (this model's does) is checked on each of its first
four calls. What a transform cannot run on this CPU says why and serves the original.
"""

from __future__ import annotations

import pytest
import torch
import torch.utils._pytree as pytree

from coder import transforms
from coder.backend import InferenceOptimizer
from coder.backend.cpu import this_cpu
from coder.backend.parity import TOLERANCE, difference
from tests.backend.inputs import coder_warnings, image_list

CALLS = 4
SERVED = {"nano_fp32_channels_last", "nano_fp32_ipex", "nano_fp32_ipex_channels_last"}  # eager fp32


def marks(entry):
    return [pytest.mark.ipex] if entry.kwargs.get("use_ipex") else []


# One name per runtime path, the one that exercises most of it (INT8 converts the fp32 graph
# first); an OpenVINO case alone costs over a minute on 2 cores. Not the compile family:
# TorchDynamo on Faster R-CNN's Python control flow (a compile per graph break) runs for
# minutes per name (test_compile.py covers it on other models).
REPRESENTATIVE = (
    "nano_fp32_channels_last",
    "nano_bf16",
    "nano_bf16_ipex",
    "nano_jit_fp32",
    "nano_jit_bf16_ipex",
    "nano_onnxruntime_int8_qlinear",
    "nano_openvino_int8",
    "nano_int8",
    "nano_int8_dynamic",
)
CASES = [pytest.param(transforms.get(name), id=name, marks=marks(transforms.get(name))) for name in REPRESENTATIVE]


def optimize(entry, model):
    extra = {"calib_calls": 1} if entry.is_int8 else {}
    return getattr(InferenceOptimizer, entry.method)(model, **entry.kwargs, **extra)


@pytest.mark.slow
@pytest.mark.parametrize("entry", CASES)
def test_detection_outputs_are_the_originals_or_it_says_why(entry, detector, runtime_warnings):
    model = optimize(entry, detector)
    tolerance = TOLERANCE[entry.kwargs.get("precision", "fp32")]
    with torch.no_grad():
        for seed in range(CALLS):
            got, want = model(image_list(seed)), detector(image_list(seed))
            assert pytree.tree_structure(got) == pytree.tree_structure(want)
            assert difference(pytree.tree_leaves(got), want, tolerance) is None, (seed, model.fallback_reason)
    messages = coder_warnings(runtime_warnings)
    assert all("\n" not in message for message in messages)
    verdict = entry.verdict(this_cpu())
    if verdict.kind == "unsupported":
        assert model.fallback_reason == verdict.reason
    elif entry.name in SERVED:
        assert model.accelerated and messages == []
    elif model.fallback_reason:
        assert any(f"coder: {entry.name} not used (" in message for message in messages)
