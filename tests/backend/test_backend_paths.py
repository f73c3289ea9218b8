"""Every named transform on resnet18, mobilenet_v3_small and a tiny BERT, batch 1 then 4.

What is expected follows this machine's CPU verdict for the transform. Native or emulated: the
model is called until its runtime is built (INT8: calibrated on the first call) and past its
verification calls; then the accelerated outputs must match the original's at the documented
tolerance, keep the original's output type, come back as float32, and no fallback may have
happened (INT8 says once that one sample is too few for reliable ranges). Unsupported: the
model says why in one line and serves the original's own outputs.
"""

from __future__ import annotations

import pytest
import torch
import torch.utils._pytree as pytree

from coder import transforms
from coder.backend import InferenceOptimizer
from coder.backend.calibration import too_few_note
from coder.backend.cpu import this_cpu
from coder.backend.messages import not_used
from coder.backend.parity import TOLERANCE, worst_error
from coder.backend.wrapper import VERIFY_CALLS
from tests.backend.inputs import coder_warnings, images, tokens

CALIB_CALLS = 1  # the first call only (no recalibration), to keep the suite quick


def precision_of(entry) -> str:
    return entry.kwargs.get("precision", "fp32")


def marks(entry):
    return [pytest.mark.ipex] if entry.kwargs.get("use_ipex") else []


# the compile family is tested in test_compile.py: a compile costs 10-60 s, batch 1 then 4 two
CASES = [
    pytest.param(entry, id=entry.name, marks=marks(entry))
    for entry in transforms.CATALOG
    if entry.options.accelerator != "compile"
]


def optimize(entry, model):
    extra = {"calib_calls": CALIB_CALLS} if entry.is_int8 else {}
    return getattr(InferenceOptimizer, entry.method)(model, **entry.kwargs, **extra)


def call(model, inputs):
    with torch.no_grad():
        return model(**inputs) if isinstance(inputs, dict) else model(inputs)


def assert_as_this_cpu_allows(entry, model, make_inputs, runtime_warnings):
    verdict = entry.verdict(this_cpu())
    if verdict.kind == "unsupported":
        assert_says_why_and_runs_the_original(entry, model, make_inputs(2, 0), verdict.reason, runtime_warnings)
    else:
        assert_runs_like_original(entry, model, make_inputs, runtime_warnings)


def assert_says_why_and_runs_the_original(entry, model, inputs, reason, runtime_warnings):
    accelerated = optimize(entry, model)
    got, want = call(accelerated, inputs), call(model, inputs)
    assert all(torch.equal(a, b) for a, b in zip(pytree.tree_leaves(got), pytree.tree_leaves(want)))
    assert accelerated.fallback_reason == reason and not accelerated.accelerated
    assert coder_warnings(runtime_warnings) == [not_used(entry.name, reason, on_this_cpu=True)]


def assert_runs_like_original(entry, model, make_inputs, runtime_warnings):
    accelerated = optimize(entry, model)
    for batch in (1, 4):
        for seed in range(VERIFY_CALLS):  # then the runtime serves alone
            call(accelerated, make_inputs(batch, seed))
        inputs = make_inputs(batch, 99)
        got, want = call(accelerated, inputs), call(model, inputs)
        assert type(got) is type(want)
        got_leaves, want_leaves = pytree.tree_leaves(got), pytree.tree_leaves(want)
        assert all(leaf.dtype == torch.float32 for leaf in got_leaves)
        assert worst_error(got_leaves, want_leaves) <= TOLERANCE[precision_of(entry)]
    notes = [f"coder: {entry.name}: {too_few_note(1)}"] if entry.needs_calibration else []
    assert coder_warnings(runtime_warnings) == notes
    assert accelerated.accelerated


@pytest.mark.slow
@pytest.mark.parametrize("entry", CASES)
def test_resnet18(entry, resnet18, runtime_warnings):
    assert_as_this_cpu_allows(entry, resnet18, images, runtime_warnings)


@pytest.mark.slow
@pytest.mark.parametrize("entry", CASES)
def test_mobilenet_v3_small(entry, mobilenet, runtime_warnings):
    assert_as_this_cpu_allows(entry, mobilenet, images, runtime_warnings)


@pytest.mark.slow
@pytest.mark.parametrize("entry", CASES)
def test_bert(entry, bert, runtime_warnings):
    assert_as_this_cpu_allows(entry, bert, tokens, runtime_warnings)
