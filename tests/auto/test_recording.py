"""The recorder on real small models: latency, drift, early stop, attribute forwarding."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from coder.backend import recording

SCRIPT = textwrap.dedent("""
    import torch
    from coder.backend import recording

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).eval()
    accelerated = torch.jit.freeze(torch.jit.trace(model, torch.rand(4, 16)))
    proxy = recording.wrap(accelerated, model)
    with torch.no_grad():
        for step in range(1000):
            proxy(torch.rand(4, 16))
    print("the loop ended")
""")


def small_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).eval()


def record_of(path):
    return json.loads(path.read_text())["models"][0]


def test_stops_early_after_the_timed_calls_with_latency_and_drift(tmp_path):
    env = {"CODER_RECORD": str(tmp_path / "r.json"), "CODER_RECORD_CALLS": "7", "CODER_RECORD_WARMUP": "2",
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "the loop ended" not in done.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    model = data["models"][0]
    assert data["stopped_early"] and model["calls"] == 9 and model["timed_calls"] == 7
    assert model["latency_ms"] > 0 and len(model["untimed_ms"]) == 2
    assert model["checked_calls"] == 3 and model["max_rel_err"] < 1e-5 and model["top1_agreement"] == 1.0


def test_drift_of_a_different_model_is_large(tmp_path, monkeypatch):
    monkeypatch.setenv("CODER_RECORD", str(tmp_path / "r.json"))
    monkeypatch.setenv("CODER_RECORD_WARMUP", "0")
    original, other = small_model(), small_model()
    torch.nn.init.normal_(other[2].weight)
    proxy = recording.wrap(other, original)
    for _ in range(3):
        proxy(torch.rand(8, 16))
    model = record_of(tmp_path / "r.json")
    assert model["max_rel_err"] > 0.5 and model["top1_agreement"] < 1.0


def test_proxy_forwards_attributes_and_keeps_itself_through_eval(tmp_path, monkeypatch):
    monkeypatch.setenv("CODER_RECORD", str(tmp_path / "r.json"))
    model = small_model()
    model.config = {"labels": 10}
    proxy = recording.wrap(model, model)
    assert proxy.config == {"labels": 10} and isinstance(proxy, torch.nn.Sequential)
    assert proxy.eval() is proxy and len(list(proxy.parameters())) == 4
    assert proxy[2] is model[2] and proxy[2].weight.shape == (10, 32) and len(proxy) == 3
    proxy.threshold = 0.5
    assert model.threshold == 0.5 and recording.unwrap(proxy) is model


def test_forward_and_keyword_calls_are_recorded_with_dict_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("CODER_RECORD", str(tmp_path / "r.json"))
    monkeypatch.setenv("CODER_RECORD_WARMUP", "1")

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = small_model()

        def forward(self, features=None):
            return {"logits": self.body(features), "ids": torch.arange(3)}

    original = Classifier().eval()
    proxy = recording.wrap(torch.jit.freeze(torch.jit.script(original)), original)
    outputs = [proxy(features=torch.rand(2, 16)), proxy.forward(features=torch.rand(2, 16))]
    model = record_of(tmp_path / "r.json")
    assert set(outputs[1]) == {"logits", "ids"}
    assert model["calls"] == 2 and model["timed_calls"] == 1 and model["max_rel_err"] < 1e-5


def test_without_the_environment_variable_the_model_is_returned_as_is(monkeypatch):
    monkeypatch.delenv("CODER_RECORD", raising=False)
    model = small_model()
    assert recording.wrap(model, model) is model
