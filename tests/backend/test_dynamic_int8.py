"""nano_int8_dynamic: dynamic INT8 of Linear/LSTM layers, no calibration (coder/backend/dynamic_int8.py)."""

from __future__ import annotations

import pytest
import torch
import torch.utils._pytree as pytree

from coder import engine, transforms
from coder.backend import InferenceOptimizer
from coder.backend.cpu import read_cpu
from coder.backend.parity import TOLERANCE, worst_error
from coder.backend.runtimes import Options
from tests.backend.inputs import coder_warnings, images, tokens

ENTRY = transforms.get("nano_int8_dynamic")
CPUINFO = "tests/cpuinfo"


def dynamic(model, **extra):
    return InferenceOptimizer.quantize(model, precision="int8", approach="dynamic", **extra)


def quantized_layers(accelerated) -> list[str]:
    (runtime,) = accelerated._runtimes.values()
    return [
        name
        for name, module in runtime.runner.module.named_modules()
        if type(module).__name__ in ("Linear", "LSTM")
        and type(module).__module__.startswith("torch.ao.nn.quantized.dynamic")
    ]


def call(model, inputs):
    with torch.no_grad():
        return model(**inputs) if isinstance(inputs, dict) else model(inputs)


def test_the_catalog_entry_is_the_dynamic_quantize_call():
    assert ENTRY.call_source("model") == 'InferenceOptimizer.quantize(model, precision="int8", approach="dynamic")'
    assert ENTRY.is_int8 and not ENTRY.needs_calibration
    assert transforms.names()[-1] == "nano_int8_dynamic" or "nano_int8_dynamic" in transforms.names()[20:]


def test_bert_quantizes_every_linear_layer_without_calibration(bert, runtime_warnings):
    accelerated = dynamic(bert)
    for seed in range(3):
        got, want = call(accelerated, tokens(2, seed)), call(bert, tokens(2, seed))
        assert type(got) is type(want)
        assert worst_error(pytree.tree_leaves(got), pytree.tree_leaves(want)) <= TOLERANCE["int8"]
    assert accelerated.accelerated and accelerated.script_calibration is None
    linears = [name for name, module in bert.named_modules() if type(module) is torch.nn.Linear]
    assert quantized_layers(accelerated) == linears
    assert coder_warnings(runtime_warnings) == []  # no "calibrated on too few samples" note


def test_resnet18_quantizes_only_its_fc_layer(resnet18, runtime_warnings):
    accelerated = dynamic(resnet18)
    got, want = call(accelerated, images(2, 0)), call(resnet18, images(2, 0))
    assert worst_error([got], [want]) <= TOLERANCE["int8"]
    assert accelerated.accelerated and quantized_layers(accelerated) == ["fc"]
    assert coder_warnings(runtime_warnings) == []


def test_lstm_layers_are_quantized(runtime_warnings):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.LSTM(16, 32, batch_first=True)).eval()
    lstm = dynamic(model)
    x = torch.rand(2, 5, 16)
    got, want = call(lstm, x), call(model, x)
    assert worst_error(pytree.tree_leaves(got), pytree.tree_leaves(want)) <= TOLERANCE["int8"]
    assert quantized_layers(lstm) == ["0"]


def test_a_model_without_linear_layers_says_so_and_runs_the_original(runtime_warnings):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    accelerated = dynamic(model)
    for seed in range(2):
        assert torch.equal(call(accelerated, images(1, seed)), call(model, images(1, seed)))
    assert "no Linear or LSTM layer" in accelerated.fallback_reason
    assert len(coder_warnings(runtime_warnings)) == 1


def test_calib_data_is_accepted_and_not_used(bert):
    accelerated = dynamic(bert, calib_data=[tokens(1, 0)])
    assert accelerated.calibration == [] and accelerated.script_calibration is None


def test_the_engine_passes_no_loader_to_it():
    script = (
        "import torch, torchvision\nfrom torch.utils.data import DataLoader\n"
        "model = torchvision.models.resnet18(weights=None).eval()\n"
        "loader = DataLoader([torch.rand(3, 8, 8)], batch_size=1)\n"
        "for x in loader:\n    y = model(x)\n"
    )
    assert "calib_data=loader" in engine.patch(script, "nano_int8").source
    patched = engine.patch(script, "nano_int8_dynamic").source
    assert 'InferenceOptimizer.quantize(model, precision="int8", approach="dynamic")\n' in patched


@pytest.mark.parametrize("cpu", ["zen3", "zen4", "skylake_sp", "sapphire_rapids"])
def test_verdict_is_the_int8_rule(cpu):
    """fbgemm's dynamic Linear takes 7-bit activations (reduce_range): no VNNI saturation."""
    here = read_cpu(open(f"{CPUINFO}/{cpu}.txt").read())
    assert ENTRY.verdict(here).kind == ("native" if here.avx2 else "emulated")


@pytest.mark.parametrize(
    "options",
    [dict(approach="dynamic", accelerator="jit"), dict(approach="dynamic", precision="bf16"), dict(approach="weekly")],
)
def test_bad_combinations_are_refused(options):
    with pytest.raises(ValueError, match="approach"):
        Options(**{"precision": "int8", **options})


def test_save_and_load_keep_the_approach(bert, tmp_path):
    accelerated = dynamic(bert)
    call(accelerated, tokens(1, 0))
    InferenceOptimizer.save(accelerated, tmp_path / "m")
    loaded = InferenceOptimizer.load(tmp_path / "m")
    assert loaded.recipe.label == "nano_int8_dynamic"
    assert torch.allclose(
        call(loaded, tokens(1, 1)).last_hidden_state, call(accelerated, tokens(1, 1)).last_hidden_state
    )
