"""The compile family (coder/backend/compile.py): torch.compile + Inductor with freezing, in fp32,
under BF16 autocast, and PT2E INT8; and AOTInductor packages (save/load of a .pt2).

A compile costs 10-60 s on a shared 2-core machine: each test compiles once (BERT fp32 twice,
to show the batch-1 specialization), with Inductor's compile workers off (one process).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
import torch.utils._pytree as pytree

from coder import transforms
from coder.backend import InferenceOptimizer
from coder.backend.calibration import too_few_note
from coder.backend.messages import not_used
from coder.backend.parity import TOLERANCE, worst_error
from coder.backend.report import closing_line
from tests.backend.inputs import coder_warnings, images, tokens

NAMES = ("nano_compile_fp32", "nano_compile_bf16", "nano_compile_int8")


@pytest.fixture(autouse=True)
def one_compile_process():
    import torch._inductor.config as inductor_config

    with inductor_config.patch(compile_threads=1):
        yield


def optimize(name, model):
    entry = transforms.get(name)
    extra = {"calib_calls": 1} if entry.is_int8 else {}
    return getattr(InferenceOptimizer, entry.method)(model, **entry.kwargs, **extra)


def graphs() -> int:
    """Graphs TorchDynamo has compiled in this process."""
    return torch._dynamo.utils.counters["stats"]["unique_graphs"]


def call(model, inputs):
    with torch.no_grad():
        return model(**inputs) if isinstance(inputs, dict) else model(inputs)


def assert_close(name, accelerated, original, inputs):
    got, want = call(accelerated, inputs), call(original, inputs)
    assert type(got) is type(want)
    leaves = pytree.tree_leaves(got)
    assert all(leaf.dtype == torch.float32 for leaf in leaves)
    assert worst_error(leaves, pytree.tree_leaves(want)) <= TOLERANCE[transforms.get(name).options.precision]


def assert_serves_new_batch_sizes_without_recompiling(name, model, make_inputs, first_batch=2):
    accelerated = optimize(name, model)
    call(accelerated, make_inputs(first_batch, 0))  # builds, compiles, checks
    compiled = graphs()
    for batch, seed in ((4, 1), (3, 2), (4, 99)):
        assert_close(name, accelerated, model, make_inputs(batch, seed))
    assert graphs() == compiled
    assert accelerated.accelerated
    return accelerated


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_resnet18(name, resnet18, runtime_warnings):
    accelerated = assert_serves_new_batch_sizes_without_recompiling(name, resnet18, images)
    notes = [f"coder: {name}: {too_few_note(2)}"] if transforms.get(name).is_int8 else []
    assert coder_warnings(runtime_warnings) == notes
    assert ", compiled in " in closing_line(accelerated.story)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES[1:])
def test_bert(name, bert, runtime_warnings):
    assert_serves_new_batch_sizes_without_recompiling(name, bert, tokens)


@pytest.mark.slow
def test_bert_first_called_with_batch_1_compiles_once_more(bert, runtime_warnings):
    """PyTorch specializes sizes 0 and 1: batch 1 gets its own graph, the next size a dynamic one."""
    accelerated = optimize("nano_compile_fp32", bert)
    call(accelerated, tokens(1, 0))
    after_first = graphs()
    assert_close("nano_compile_fp32", accelerated, bert, tokens(3, 1))
    assert graphs() == after_first + 1
    for batch in (5, 2, 1):
        assert_close("nano_compile_fp32", accelerated, bert, tokens(batch, batch))
    assert graphs() == after_first + 1 and accelerated.accelerated
    assert coder_warnings(runtime_warnings) == []


def test_no_cpp_compiler_falls_back_with_one_line(runtime_warnings):
    import torch._inductor.config as inductor_config

    model = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
    x = torch.rand(2, 4)
    with inductor_config.patch({"cpp.cxx": (None, "/nonexistent/g++")}):
        accelerated = optimize("nano_compile_fp32", model)
        assert torch.equal(call(accelerated, x), call(model, x))
    reason = "Inductor needs a C++ compiler and /nonexistent/g++ is not on PATH (install g++, or set CXX)"
    assert accelerated.fallback_reason == f"NotConvertible: {reason}" and not accelerated.accelerated
    assert coder_warnings(runtime_warnings) == [not_used("nano_compile_fp32", f"NotConvertible: {reason}")]


LOAD_ELSEWHERE = textwrap.dedent("""
    import sys, torch
    sys.modules["tiny_model_class"] = None  # the model's module cannot be imported here
    from coder.backend import InferenceOptimizer
    model = InferenceOptimizer.load(sys.argv[1])
    inputs = torch.load(sys.argv[2])
    out = model(inputs["x"], scale=inputs["scale"])
    torch.save({"type": type(out).__name__, "keys": sorted(out), "y": out["y"], "z": out["z"]}, sys.argv[3])
""")


class Tiny(torch.nn.Module):
    """A model class the loading process does not have, called with a keyword, returning a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x, scale=None):
        features = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return {"y": self.head(features) * scale, "z": features}


Tiny.__module__ = "tiny_model_class"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["nano_compile_int8"])
def test_pt2_package_runs_in_a_fresh_process_without_the_model_class(name, tmp_path):
    torch.manual_seed(0)
    model = Tiny().eval()
    accelerated = optimize(name, model)
    sample = (torch.rand(3, 3, 12, 12), torch.full((1, 2), 2.0))  # scale: not batched
    with torch.no_grad():
        accelerated(sample[0], scale=sample[1])
    InferenceOptimizer.save(accelerated, tmp_path / "m.pt2")

    x = torch.rand(5, 3, 12, 12)  # another batch size than the saved model's sample
    torch.save({"x": x, "scale": sample[1]}, tmp_path / "in.pt")
    script = tmp_path / "load.py"
    script.write_text(LOAD_ELSEWHERE)
    loading = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "m.pt2"), str(tmp_path / "in.pt"), str(tmp_path / "out.pt")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert loading.returncode == 0, loading.stderr[-2000:]
    got = torch.load(tmp_path / "out.pt")
    want = call(model, {"x": x, "scale": sample[1]})
    assert got["type"] == "dict" and got["keys"] == ["y", "z"]
    assert worst_error([got["y"], got["z"]], [want["y"], want["z"]]) <= TOLERANCE["int8"]


def test_pt2_needs_a_compile_model_that_ran(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
    with pytest.raises(ValueError, match="accelerator='compile' once it has run"):
        InferenceOptimizer.save(optimize("nano_compile_fp32", model), tmp_path / "m.pt2")
