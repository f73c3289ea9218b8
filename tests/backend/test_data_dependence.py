"""A traced graph is not served for a model that branches on its input's values, and the closing
line counts truly.

Before: with ``if x.sum() > 0:`` in forward and the timing check off, calls 5-7 returned the
traced branch's values (wrong: those inputs took the other branch; only calls 1-4 and 8 were
checked), and the closing line said "9 calls ran the original model". Now the trace is refused
in one line naming a transform that follows control flow, every call returns the original's
values, and the closing line says what really ran. A model whose TracerWarnings come from
shapes or constants is still accelerated."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

from coder.backend import InferenceOptimizer
from coder.backend.report import Story, closing_line

ROOT = Path(__file__).resolve().parents[2]
BRANCHY = textwrap.dedent("""
    import torch

    class Branchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(8, 8)

        def forward(self, x):
            if x.sum() > 0:
                return self.linear(x) * 2
            return self.linear(x) - 1

    torch.manual_seed(0)
    model = Branchy().eval()
    with torch.no_grad():
        for i in range(9):
            x = torch.randn(4, 8) + (3 if i < 4 else -3)  # calls 5-9 take the other branch
            print(i + 1, model(x).tolist())
""")


def run(script: Path, *coder_args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "CODER_NEVER_SLOWER": "0", "CODER_CACHE": "off"}
    return subprocess.run(
        [sys.executable, *coder_args, str(script)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=script.parent,
        timeout=600,
    )


@pytest.mark.slow
@pytest.mark.parametrize("transform", ["nano_jit_fp32", "nano_onnxruntime_fp32", "nano_openvino_fp32"])
def test_a_model_branching_on_input_values_gets_no_traced_graph(tmp_path, transform):
    script = tmp_path / "script.py"
    script.write_text(BRANCHY)
    eager = run(script)
    patched = run(script, "-m", "coder", "-o", transform)
    assert patched.returncode == 0, patched.stderr[-3000:]
    assert patched.stdout == eager.stdout  # every call's output is the original's
    lines = patched.stderr.splitlines()
    assert len(lines) == 2, lines  # the warning once, and the closing line
    assert lines[0].startswith(f"coder: {transform} not used (forward branches on input values (script.py:10): ")
    assert lines[0].endswith("nano_compile_fp32 follows control flow): running the original model"), lines[0]
    assert lines[1] == lines[0].removesuffix("running the original model") + "9 calls ran the original model"


class ShapeAndConstant(torch.nn.Module):
    """TracerWarnings that do not depend on the input's values: a tensor built from a shape-derived
    number, a branch on a shape, a branch on a weight."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 8)

    def forward(self, x):
        scale = torch.tensor(math.sqrt(x.shape[-1]))
        if x.shape[0] > 1:
            x = x * 2
        if self.linear.weight.sum() > -100:
            x = x + 1
        return self.linear(x) / scale


def inputs(count: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(4, 8, generator=generator) + (3 if i % 2 else -3) for i in range(count)]


@pytest.mark.parametrize("accelerator", ["jit", "onnxruntime", "openvino"])
def test_tracer_warnings_from_shapes_and_constants_still_accelerate(accelerator):
    torch.manual_seed(0)
    original = ShapeAndConstant().eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.jit.trace(original, inputs(1)[0])
    assert any(issubclass(w.category, torch.jit.TracerWarning) for w in caught)  # the trace does warn
    model = InferenceOptimizer.trace(original, accelerator=accelerator)
    with torch.no_grad():
        for x in inputs(6):
            torch.testing.assert_close(model(x), original(x), rtol=1e-4, atol=1e-5)
    assert model.accelerated, model.fallback_reason


class ShapeBranch(torch.nn.Module):
    """Traced at batch 4, the branch on the batch size is baked into OpenVINO's dynamic-shape graph."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 8)

    def forward(self, x):
        return self.linear(x) * 2 if x.shape[0] > 2 else self.linear(x) - 1


def test_the_closing_line_counts_the_calls_each_model_ran():
    torch.manual_seed(0)
    original = ShapeBranch().eval()
    model = InferenceOptimizer.trace(original, accelerator="openvino")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for batch in (4, 4, 4, 1, 4, 4):  # the new batch size is checked, differs: the original from then on
            x = torch.randn(batch, 8)
            torch.testing.assert_close(model(x), original(x), rtol=1e-4, atol=1e-5)
    assert model.fallback is not None and model.fallback.kind == "drift"
    line = closing_line(model.story)
    assert line.endswith(": 3 calls ran the accelerated model before that, 3 ran the original model"), line


@pytest.mark.parametrize(
    "calls, accelerated, fallback, said",
    [
        (9, 0, "why", "coder: m not used (why): 9 calls ran the original model"),
        (1, 0, "why", "coder: m not used (why): 1 call ran the original model"),
        (
            9,
            7,
            "why",
            "coder: m not used (why): 7 calls ran the accelerated model before that, 2 ran the original model",
        ),
        (9, 9, None, "coder: m: ready, 9 calls, speed not compared (never_slower is off)"),
        (9, 8, None, "coder: m: ready, 9 calls (1 ran the original model), speed not compared (never_slower is off)"),
        (0, 0, None, None),  # interrupted on its first call: nothing returned
    ],
)
def test_closing_line_wording(calls, accelerated, fallback, said):
    story = Story("m", calls=calls, accelerated_calls=accelerated, fallback_reason=fallback)
    assert closing_line(story) == said
