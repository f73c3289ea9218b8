"""The recorder on real small models: replayed timing, drift, early stop, the runtime's fallback,
attribute forwarding."""

import atexit
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from coder.backend import recording

LOOP = textwrap.dedent("""
    import sys
    import torch
    from coder.backend import recording

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).eval()
    accelerated = torch.jit.freeze(torch.jit.trace(model, torch.rand(4, 16)))
    proxy = recording.wrap(accelerated, model)
    with torch.no_grad():
        for step in range(int(sys.argv[1])):
            proxy(torch.rand(4, 16))
    print("the loop ended")
    sys.exit(3)
""")
# lazy INT8: the runtime calibrates on its first 4 calls, then converts and checks itself
INT8_ONCE = textwrap.dedent("""
    import torch
    from coder.backend import InferenceOptimizer

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).eval()
    model = InferenceOptimizer.quantize(model, precision="int8", accelerator="onnxruntime")
    with torch.no_grad():
        model(torch.rand(4, 16))
""")
SCRIPTS = Path(__file__).parent / "scripts"


def small_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).eval()


def record_of(path):
    return json.loads(path.read_text())["models"][0]


def recorded_run(tmp_path, source, *args, calls=7, command=None):
    env = {**os.environ, "CODER_RECORD": str(tmp_path / "r.json"), "CODER_RECORD_CALLS": str(calls)}
    command = command or [sys.executable, "-c", source, *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    return done, json.loads((tmp_path / "r.json").read_text())


def test_a_long_loop_stops_once_the_replays_are_timed(tmp_path):
    done, data = recorded_run(tmp_path, LOOP, "1000")
    model = data["models"][0]
    assert done.returncode == 0 and "the loop ended" not in done.stdout
    assert data["stopped_early"] and data["peak_mib"] > 0
    assert model["calls"] == 4 and model["warmup_calls"] == 1 and model["phase"] == "done"
    assert model["timed_calls"] == 7 and len(model["timed_ms"]) == 7 and len(model["untimed_ms"]) == 4
    assert model["latency_ms"] > 0 and model["spread_ms"] >= 0 and model["first_call_s"] > 0
    assert model["checked_calls"] == 3 and model["max_rel_err"] < 1e-5 and model["top1_agreement"] == 1.0
    assert model["tolerance"] == 1e-3 and model["fallback"] is None


def test_a_script_calling_its_model_once_is_timed_at_its_end_and_keeps_its_exit_code(tmp_path):
    done, data = recorded_run(tmp_path, LOOP, "1")
    model = data["models"][0]
    assert done.returncode == 3 and "the loop ended" in done.stdout and not data["stopped_early"]
    assert model["calls"] == 1 and model["replayed_inputs"] == 1 and model["timed_calls"] == 7
    assert model["checked_calls"] == 1 and model["phase"] == "done"


def test_lazy_int8_called_once_finishes_its_calibration_on_replays(tmp_path):
    done, data = recorded_run(tmp_path, INT8_ONCE)
    model = data["models"][0]
    assert done.returncode == 0, done.stderr
    assert model["calls"] == 1 and model["warmup_calls"] == 5 and model["fallback"] is None
    assert model["timed_calls"] == 7 and model["tolerance"] == 0.25 and model["max_rel_err"] < 0.25


def test_the_runtimes_fallback_reaches_the_record_with_its_kind(tmp_path):
    command = [sys.executable, "-m", "coder", "-o", "nano_jit_fp32", str(SCRIPTS / "unconvertible.py")]
    done, data = recorded_run(tmp_path, None, command=command)
    model = data["models"][0]
    assert done.returncode == 0 and model["fallback_kind"] == "error"
    assert "non-tensor value (str)" in model["fallback"] and model["timed_calls"] == 7


def test_drift_of_a_different_model_is_large(tmp_path, monkeypatch):
    monkeypatch.setenv("CODER_RECORD", str(tmp_path / "r.json"))
    original, other = small_model(), small_model()
    torch.nn.init.normal_(other[2].weight)
    proxy = recording.wrap(other, original)
    for _ in range(3):
        proxy(torch.rand(8, 16))
    recording.Session.shared(str(tmp_path / "r.json")).measure_the_rest()
    model = record_of(tmp_path / "r.json")
    assert model["max_rel_err"] > 0.5 and model["top1_agreement"] < 1.0 and model["checked_calls"] == 3


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


def test_forward_and_keyword_calls_are_replayed_with_dict_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("CODER_RECORD", str(tmp_path / "r.json"))
    monkeypatch.setenv("CODER_RECORD_CALLS", "5")

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = small_model()

        def forward(self, features=None):
            return {"logits": self.body(features), "ids": torch.arange(3)}

    original = Classifier().eval()
    proxy = recording.wrap(torch.jit.freeze(torch.jit.script(original)), original)
    outputs = [proxy(features=torch.rand(2, 16)), proxy.forward(features=torch.rand(2, 16))]
    recording.Session.shared(str(tmp_path / "r.json")).measure_the_rest()
    model = record_of(tmp_path / "r.json")
    assert set(outputs[1]) == {"logits", "ids"}
    assert model["calls"] == 2 and model["timed_calls"] == 5 and model["max_rel_err"] < 1e-5


def test_without_the_environment_variable_the_model_is_returned_as_is(monkeypatch):
    monkeypatch.delenv("CODER_RECORD", raising=False)
    model = small_model()
    assert recording.wrap(model, model) is model


@pytest.fixture(autouse=True)
def fresh_session():
    """Each test records into its own file: forget the previous test's session, and its end-of-script
    measurement (in-process tests stay below the calls that would measure and end the process)."""
    yield
    if recording.Session._shared is not None:
        atexit.unregister(recording.Session._shared.measure_the_rest)
    recording.Session._shared = None
