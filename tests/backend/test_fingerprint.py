"""The model's fingerprint (the cache key's model part) covers what a conversion bakes in: an
attribute, a module-level value, a helper function, a buffer, one weight, a hook each change it;
equal models give equal fingerprints in processes with different PYTHONHASHSEED; a value it
cannot hash makes it differ in every process (a miss, never a wrong hit)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from coder.backend.fingerprint import model_fingerprint
from tests.backend import inputs

SCRIPT = textwrap.dedent("""
    import threading
    import torch

    SCALE = 1.0
    SETTINGS = {"shift": 0.5, "names": {"a", "b", "c"}}


    def helper(x):
        return x + HELPER_OFFSET


    HELPER_OFFSET = 1.0


    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(512, 512)  # 1 MB of weights: more than the old sampled hash read
            self.register_buffer("offset", torch.zeros(512))
            self.limit = 10.0
            self.options = {"mode": "clamp", "sizes": [1, 2, (3, 4)], "tags": {"x", "y", "z"}}

        def forward(self, x):
            y = torch.clamp(self.linear(x) * SCALE, max=self.limit) + self.offset
            return helper(y) + SETTINGS["shift"]
""")


def load_script(tmp_path: Path, source: str = SCRIPT):
    return inputs.load_script(tmp_path, source, "user_script")


def fresh_model(script):
    torch.manual_seed(0)
    return script.Net().eval()


@pytest.fixture
def script(tmp_path):
    yield load_script(tmp_path)
    sys.modules.pop("user_script", None)


def test_equal_models_have_equal_fingerprints(script):
    assert model_fingerprint(fresh_model(script)) == model_fingerprint(fresh_model(script))


def test_an_attribute_changes_it(script):
    model = fresh_model(script)
    before = model_fingerprint(model)
    model.limit = 1.0
    assert model_fingerprint(model) != before
    model.limit = 10.0
    model.options["sizes"][2] = (3, 5)  # nested in a container
    assert model_fingerprint(model) != before


def test_a_module_level_value_changes_it(script):
    model = fresh_model(script)
    before = model_fingerprint(model)
    script.SCALE = 2.0
    assert model_fingerprint(model) != before
    script.SCALE = 1.0
    assert model_fingerprint(model) == before
    script.SETTINGS["shift"] = 0.25
    assert model_fingerprint(model) != before


def test_a_helper_function_and_what_it_reads_change_it(script, tmp_path):
    model = fresh_model(script)
    before = model_fingerprint(model)
    script.HELPER_OFFSET = 2.0  # read by the helper, not by forward
    assert model_fingerprint(model) != before
    script.HELPER_OFFSET = 1.0
    edited = load_script(tmp_path, SCRIPT.replace("return x + HELPER_OFFSET", "return x - HELPER_OFFSET"))
    assert model_fingerprint(fresh_model(edited)) != before


def test_a_buffer_or_one_weight_changes_it(script):
    model = fresh_model(script)
    before = model_fingerprint(model)
    with torch.no_grad():
        model.offset[3] = 1.0
        assert model_fingerprint(model) != before
        model.offset[3] = 0.0
        assert model_fingerprint(model) == before
        model.linear.weight[0, 1] += 1e-3  # one element off the old hash's sampling stride
    assert model_fingerprint(model) != before


def test_a_hook_or_a_patched_forward_changes_it(script):
    model = fresh_model(script)
    before = model_fingerprint(model)
    handle = model.linear.register_forward_hook(lambda module, args, output: output * 2)
    assert model_fingerprint(model) != before
    handle.remove()
    assert model_fingerprint(model) == before
    model.forward = lambda x: x
    assert model_fingerprint(model) != before


def test_the_model_class_edited_changes_it(script, tmp_path):
    before = model_fingerprint(fresh_model(script))
    edited = load_script(tmp_path, SCRIPT.replace("max=self.limit) + self.offset", "max=self.limit) - self.offset"))
    assert model_fingerprint(fresh_model(edited)) != before


FINGERPRINT = textwrap.dedent("""
    import importlib.util, sys, torch
    spec = importlib.util.spec_from_file_location("user_script", sys.argv[1])
    script = importlib.util.module_from_spec(spec)
    sys.modules["user_script"] = script
    spec.loader.exec_module(script)
    from coder.backend.fingerprint import model_fingerprint
    torch.manual_seed(0)
    model = script.Net().eval()
    if sys.argv[2] == "lock":
        model.guard = script.threading.Lock()
    if sys.argv[2] == "gpt2":
        import transformers
        config = transformers.GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50)
        model = transformers.GPT2LMHeadModel(config).eval()  # its generation config keeps a hash() value
    print(model_fingerprint(model))
""")


def fingerprint_in_process(tmp_path: Path, seed: str, variant: str = "plain") -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run(
        [sys.executable, "-c", FINGERPRINT, str(tmp_path / "user_script.py"), variant],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("variant", ["plain", "gpt2"])
def test_equal_across_processes_and_hash_seeds(script, tmp_path, variant):
    assert fingerprint_in_process(tmp_path, "1", variant) == fingerprint_in_process(tmp_path, "2", variant)


def test_an_unhashable_value_differs_in_every_process(script, tmp_path):
    assert fingerprint_in_process(tmp_path, "1", "lock") != fingerprint_in_process(tmp_path, "1", "lock")


class Clamp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.limit = 3.0

    def forward(self, x):
        return torch.clamp(x, max=self.limit)


def test_a_scripted_submodule_counts_by_its_code_and_attributes():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.jit.script(Clamp())).eval()
    before = model_fingerprint(model)
    model[1].limit = 1.0  # TorchScript keeps it in C++, not in the module's __dict__
    assert model_fingerprint(model) != before


def test_common_models_are_hashed_whole(resnet18, bert):
    """Nothing in these falls back to the per-process marker, so their entries are found again."""
    from torch.nn.utils import parametrize

    from coder.backend.baked import Baked

    parametrized = torch.nn.Linear(4, 4)
    parametrize.register_parametrization(parametrized, "weight", Clamp())
    for model in (
        resnet18,
        bert,
        torch.nn.LSTM(4, 8, 2),
        torch.nn.TransformerEncoderLayer(16, 2),
        parametrized,
        torch.jit.script(Clamp()),
    ):
        assert Baked().model(model).opaque == [], type(model).__name__
