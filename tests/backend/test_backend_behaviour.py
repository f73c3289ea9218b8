"""How the accelerated model behaves: laziness, structure, attributes, shapes, fallback."""

from __future__ import annotations

import copy
import importlib.util
import subprocess
import sys

import pytest
import torch

from coder.backend import InferenceOptimizer
from coder.backend.libraries import MissingLibrary, require
from coder.backend.parity import relative_error
from coder.backend.recipe import Recipe
from coder.backend.runtimes import Options, Runtime, torch_needs
from coder.backend.wrapper import VERIFY_CALLS, AcceleratedModel
from coder.transforms import IPEX_STACK_HINT
from tests.backend.inputs import coder_warnings, images, tokens


class DataDependentBranch(torch.nn.Module):
    """A trace records only the branch its sample took, so later inputs go wrong."""

    def forward(self, x):
        if x.mean() > 0:
            return x * 2
        return x - 1


class LabelOutput(torch.nn.Module):
    """Returns a Python int beside the tensor: nothing a graph runtime can give back."""

    def forward(self, x):
        y = x * 3
        return y, int(y.argmax())


class DictInDictOut(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 4)
        self.note = "kept"

    def forward(self, x, *, scale=None):
        out = self.linear(x)
        return {"logits": out * scale if scale is not None else out, "pair": (out.relu(), out.sigmoid())}


def call_many(model, inputs_list):
    with torch.no_grad():
        return [model(x) for x in inputs_list]


def test_import_is_cheap():
    code = (
        "import sys, coder.backend; heavy = ['onnxruntime', 'openvino', 'intel_extension_for_pytorch', "
        "'nncf', 'neural_compressor', 'torch']; print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_plain_trace_returns_the_model_itself(resnet18):
    assert InferenceOptimizer.trace(resnet18) is resnet18


def test_lazy_build_happens_on_first_call(resnet18):
    model = InferenceOptimizer.trace(resnet18, accelerator="jit")
    assert not model.accelerated and model.warmup_calls == VERIFY_CALLS
    call_many(model, [images(1, 0)])
    assert model.accelerated


def test_input_sample_builds_right_away(resnet18):
    model = InferenceOptimizer.trace(resnet18, accelerator="onnxruntime", input_sample=images(2, 0))
    assert model.accelerated


@pytest.mark.parametrize("accelerator", ["jit", "onnxruntime", "openvino"])
def test_data_dependent_control_flow_falls_back(accelerator, runtime_warnings):
    model = InferenceOptimizer.trace(DataDependentBranch(), accelerator=accelerator)
    positive, negative = torch.ones(2, 3), torch.full((2, 3), -3.0)
    outputs = call_many(model, [positive, negative, negative])
    assert torch.equal(outputs[2], negative - 1)
    assert model.fallback_reason
    assert len(coder_warnings(runtime_warnings)) == 1


@pytest.mark.parametrize("accelerator", ["jit", "onnxruntime", "openvino"])
def test_non_tensor_output_falls_back(accelerator, runtime_warnings):
    model = InferenceOptimizer.trace(LabelOutput(), accelerator=accelerator)
    x = torch.rand(2, 5)
    assert call_many(model, [x])[0][1] == LabelOutput()(x)[1]
    [message] = coder_warnings(runtime_warnings)
    assert "non-tensor" in message and "\n" not in message


def test_random_mobilenet_int8_drift_is_caught(runtime_warnings):
    import torchvision

    torch.manual_seed(0)
    raw = torchvision.models.mobilenet_v3_small(weights=None).eval()  # outputs ~1e-15
    model = InferenceOptimizer.quantize(raw, precision="int8", accelerator="openvino", calib_calls=1)
    x = images(1, 0)
    assert torch.equal(call_many(model, [x])[0], raw(x))
    assert "relative error" in model.fallback_reason
    assert len(coder_warnings(runtime_warnings)) == 1


def test_missing_library_warns_once_with_pip_command(runtime_warnings):
    runtime = Runtime("imaginary", ("coder_imaginary_runtime",), torch_needs, {"fp32": "builtins:print"})
    recipe = Recipe("imaginary", Options(), (runtime,))
    model = AcceleratedModel(torch.nn.Identity(), recipe)
    x = torch.rand(2)
    assert torch.equal(call_many(model, [x, x])[1], x)
    [message] = coder_warnings(runtime_warnings)
    assert "coder_imaginary_runtime is not installed: pip install coder_imaginary_runtime" in message


def test_missing_library_error_is_one_line():
    with pytest.raises(MissingLibrary) as raised:
        require("torch", "coder_imaginary_runtime")
    assert "\n" not in str(raised.value)


def test_ipex_request_without_ipex_says_it_needs_the_ipex_stack(resnet18, runtime_warnings):
    if importlib.util.find_spec("intel_extension_for_pytorch"):
        pytest.skip("IPEX is installed here")
    model = InferenceOptimizer.trace(resnet18, use_ipex=True)  # fp32: no CPU with AVX2 rules it out
    x = images(1, 0)
    assert torch.equal(call_many(model, [x])[0], resnet18(x))
    [message] = coder_warnings(runtime_warnings)
    assert IPEX_STACK_HINT in message


@pytest.mark.parametrize("accelerator", ["jit", "onnxruntime", "openvino"])
def test_dicts_tuples_keywords_and_attributes_survive(accelerator, runtime_warnings):
    original = DictInDictOut().eval()
    model = InferenceOptimizer.trace(original, accelerator=accelerator)
    scale = torch.full((1,), 2.0)
    with torch.no_grad():
        for batch in (3, 3, 3, 5):
            got, want = model(torch.rand(batch, 8), scale=scale), None
        x = torch.rand(5, 8)
        got, want = model(x, scale=scale), original(x, scale=scale)
    assert set(got) == {"logits", "pair"} and isinstance(got["pair"], tuple)
    torch.testing.assert_close(got["logits"], want["logits"], rtol=1e-4, atol=1e-5)
    assert model.note == "kept" and model.accelerated
    assert not coder_warnings(runtime_warnings)


def test_bf16_outputs_come_back_float32(bert):
    model = InferenceOptimizer.quantize(bert, precision="bf16", accelerator="jit")
    with torch.no_grad():
        out = [model(**tokens(2, seed)) for seed in range(VERIFY_CALLS + 1)][-1]
    assert out.last_hidden_state.dtype == torch.float32
    assert model.config is bert.config


def test_generate_delegates_to_the_original():
    import transformers  # a dev dependency in both lanes: missing must fail, not skip

    config = transformers.GPT2Config(vocab_size=50, n_embd=32, n_layer=1, n_head=2, n_positions=32)
    original = transformers.GPT2LMHeadModel(config).eval()
    model = InferenceOptimizer.trace(original, accelerator="jit")
    ids = torch.randint(0, 50, (1, 4))
    generated = model.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert generated.shape == (1, 7)


def test_get_context_sets_threads_and_no_grad(resnet18):
    model = InferenceOptimizer.trace(resnet18, accelerator="jit", thread_num=1)
    before = torch.get_num_threads()
    with InferenceOptimizer.get_context(model):
        assert torch.get_num_threads() == 1 and not torch.is_grad_enabled()
        model(images(1, 0))
    assert torch.get_num_threads() == before


def test_something_that_is_not_a_module_is_returned_as_it_is(runtime_warnings):
    def pipeline(text):
        return text.upper()

    assert InferenceOptimizer.trace(pipeline, accelerator="jit") is pipeline
    [message] = coder_warnings(runtime_warnings)
    assert "not a torch.nn.Module" in message


class BakedBatch(torch.nn.Module):
    """``int()`` of a size becomes a constant in a trace: the graph only fits its sample's batch."""

    def forward(self, x):
        return x.reshape(int(x.shape[0]), -1) * 2


def test_a_new_batch_size_is_checked_before_it_is_trusted(runtime_warnings):
    model = InferenceOptimizer.trace(BakedBatch(), accelerator="onnxruntime")
    calls = [torch.rand(1, 2, 3)] * (VERIFY_CALLS + 1) + [torch.rand(4, 2, 3)]
    assert call_many(model, calls)[-1].shape == (4, 6)
    assert model.fallback_reason
    assert len(coder_warnings(runtime_warnings)) == 1


def built_runner(model: AcceleratedModel):
    [runtime] = model._runtimes.values()
    return runtime.runner


def test_the_call_options_reach_the_build(resnet18):
    x = images(1, 0)
    bf16 = InferenceOptimizer.quantize(resnet18, precision="bf16", accelerator="jit")
    with torch.no_grad():
        error = relative_error(bf16(x), resnet18(x))
    assert built_runner(bf16).bf16 and 1e-5 < error < 5e-2  # bf16 rounding shows, within tolerance
    fresh = copy.deepcopy(resnet18)
    assert not fresh.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    channels_last = InferenceOptimizer.trace(fresh, channels_last=True)
    call_many(channels_last, [x])
    assert built_runner(channels_last).flat.model.conv1.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.ipex
def test_use_ipex_reaches_the_build(resnet18):
    model = InferenceOptimizer.trace(resnet18, use_ipex=True)
    call_many(model, [images(1, 0)])
    assert type(built_runner(model).flat.model.conv1) is not torch.nn.Conv2d  # IPEX's own module


class DropoutHead(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear, self.dropout = torch.nn.Linear(8, 4), torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.dropout(self.linear(x))


def test_a_model_left_in_training_mode_is_run_in_eval_mode_with_one_warning(runtime_warnings):
    model = DropoutHead()  # never model.eval(): dropout would zero half of the outputs
    accelerated = InferenceOptimizer.trace(model, accelerator="jit")
    x = torch.rand(2, 8)
    outputs = call_many(accelerated, [x] * 3)
    expected = model.linear(x)
    assert all(torch.allclose(out, expected, atol=1e-5) for out in outputs)
    [message] = coder_warnings(runtime_warnings)
    assert "training mode" in message and "model.eval()" in message


def test_a_model_in_training_mode_without_dropout_or_batch_norm_is_not_warned_about(runtime_warnings):
    accelerated = InferenceOptimizer.trace(torch.nn.Linear(8, 4), accelerator="jit")
    call_many(accelerated, [torch.rand(2, 8)] * 3)
    assert coder_warnings(runtime_warnings) == []


class Signed(torch.nn.Module):
    """forward reads a plain attribute: a trace or an export bakes its value in."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(16, 4)
        self.sign = 1.0

    def forward(self, x):
        return self.sign * self.linear(x)


@pytest.mark.parametrize("accelerator", ["jit", "openvino"])
def test_an_attribute_the_script_sets_reaches_the_original_and_is_never_served_stale(
    accelerator, tmp_path, monkeypatch
):
    monkeypatch.setenv("CODER_CACHE", str(tmp_path))
    torch.manual_seed(0)
    original, x = Signed().eval(), torch.ones(2, 16)
    model = InferenceOptimizer.trace(original, accelerator=accelerator)
    with torch.no_grad():
        for sign in (1.0, -1.0, 1.0):
            model.sign = sign
            for _ in range(VERIFY_CALLS + 1):  # past the runtime's checks
                assert torch.allclose(model(x), original(x)) and original.sign == sign
    assert model.accelerated


def test_a_script_that_keeps_changing_attributes_gets_the_original(runtime_warnings):
    torch.manual_seed(0)
    original, x = Signed().eval(), torch.ones(2, 16)
    model = InferenceOptimizer.trace(original, accelerator="jit")
    with torch.no_grad():
        for step in range(8):
            model.sign = float(step)
            assert torch.equal(model(x), original(x))
    assert not model.accelerated and "keeps changing the model's attributes" in model.fallback_reason
    assert len(coder_warnings(runtime_warnings)) == 1


def test_the_same_value_set_again_rebuilds_nothing():
    torch.manual_seed(0)
    original, x = Signed().eval(), torch.ones(2, 16)
    model = InferenceOptimizer.trace(original, accelerator="jit")
    with torch.no_grad():
        for _ in range(8):
            model.sign = 1.0  # as a loop reading its arguments does
            assert torch.equal(model(x), original(x))
    assert model.accelerated and model.story.converted
