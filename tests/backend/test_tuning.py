"""Accuracy-controlled INT8 (coder/backend/tuning.py): the search finds a config that meets a
tight criterion where the default misses, a model that cannot meet it raises AccuracyNotMet
listing its trials, max_trials and timeout bound the search, a bad criterion is one clear error.

The model: a small CNN trained here on synthetic data whose class is a faint level (0.02 or
0.06) of channel 0; channel 2, which the model ignores (its first-layer weights are zero), has
one pixel at 50. Per-tensor INT8 ranges of the first layer's input are then set by that pixel
(a step of 0.2) and the signal rounds to zero: all-INT8 scores chance. With the first and last
layers in fp32 (the search's second rung) it scores like the original.
"""

from __future__ import annotations

import os
import re

import pytest
import torch

from coder.backend import InferenceOptimizer, tuning
from coder.backend.cpu import this_cpu
from coder.backend.tuning import AccuracyNotMet, Criterion

TIGHT = {"absolute": 0.02, "higher_is_better": True}
SEARCHES = ["nano_int8", "nano_openvino_int8", "nano_onnxruntime_int8_qlinear"]
ACCELERATOR = {"nano_int8": None, "nano_openvino_int8": "openvino", "nano_onnxruntime_int8_qlinear": "onnxruntime"}


class FaintSignalNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.conv3 = torch.nn.Conv2d(16, 16, 3, padding=1)
        self.fc = torch.nn.Linear(16, 2)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.fc(torch.relu(self.conv3(x)).mean((2, 3)))


def faint(count: int, seed: int, outlier: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (count,), generator=generator)
    x = torch.rand(count, 3, 16, 16, generator=generator) * 0.005
    x[:, 0] += 0.02 + 0.04 * labels.float()[:, None, None]
    if outlier:
        x[:, 2, 0, 0] = 50.0
    return x, labels


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    model = FaintSignalNet()
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    for step in range(60):
        x, y = faint(64, step, outlier=False)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        model.conv1.weight[:, 2] = 0  # the model ignores channel 2
    return model.eval()


@pytest.fixture(scope="module")
def labelled():
    return [faint(16, 1000 + i) for i in range(4)]


def top1(output, target):
    return (output.argmax(-1) == target).float().mean()


class Accuracy:
    """A torchmetrics-style metric (update/compute/reset): accumulated over the batches."""

    def __init__(self) -> None:
        self.right = self.seen = 0

    def update(self, output, target) -> None:
        self.right += int((output.argmax(-1) == target).sum())
        self.seen += len(target)

    def compute(self) -> float:
        return self.right / self.seen

    def reset(self) -> None:
        self.right = self.seen = 0


def rows(stderr: str) -> list[list[str]]:
    return [line.split() for line in stderr.splitlines() if re.match(r"^\d+ ", line)]


@pytest.mark.parametrize("name", SEARCHES)
def test_the_search_finds_a_config_that_meets_a_tight_criterion(name, net, labelled, capfd):
    model = InferenceOptimizer.quantize(
        net,
        precision="int8",
        accelerator=ACCELERATOR[name],
        calib_data=labelled,
        metric=Accuracy() if name == SEARCHES[-1] else top1,
        accuracy_criterion=TIGHT,
    )
    table = capfd.readouterr().err
    assert f"coder: {name}: tuning for absolute drop <= 0.02, higher is better (original 1)" in table
    first, second = rows(table)
    assert first[-1] == "misses" and float(first[-3]) < 0.8  # all layers INT8: about chance
    assert second[-1] == "meets" and float(second[-3]) == 1.0
    assert model.accelerated and model.fallback_reason is None
    with torch.no_grad():
        assert all(top1(model(x), y) == 1.0 for x, y in labelled)


@pytest.mark.parametrize("name", ["nano_int8", "nano_openvino_int8"])
def test_max_trials_bounds_the_search_and_a_miss_lists_the_trials(name, net, labelled, capfd):
    with pytest.raises(AccuracyNotMet) as raised:
        InferenceOptimizer.quantize(
            net,
            precision="int8",
            accelerator=ACCELERATOR[name],
            calib_data=labelled,
            metric=top1,
            accuracy_criterion=TIGHT,
            max_trials=1,
        )
    message = str(raised.value)
    assert "\n" not in message and "after 1 trial (max_trials=1)" in message
    assert re.search(r"original 1; trial 1 \([^)]+\): 0\.\d+, drop 0\.\d+$", message), message
    assert len(rows(capfd.readouterr().err)) == 1


def test_a_model_whose_int8_cannot_meet_the_criterion_raises(labelled):
    torch.manual_seed(1)
    layers = torch.nn.Flatten(), torch.nn.Linear(768, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    tiny = torch.nn.Sequential(*layers).eval()
    with torch.no_grad():
        pairs = [(x, tiny(x)) for x, _ in labelled]  # the metric: error against the fp32 outputs

    def error(output, target):
        return (output - target).abs().max()

    exact = {"absolute": 0.0, "higher_is_better": False}
    missed = r"lower is better\) after 1 trial: original 0; trial 1 \(all layers INT8\)"
    with pytest.raises(AccuracyNotMet, match=missed):
        InferenceOptimizer.quantize(
            tiny, precision="int8", accelerator="onnxruntime", calib_data=pairs, metric=error, accuracy_criterion=exact
        )


def test_timeout_stops_the_search(net, labelled):
    with pytest.raises(AccuracyNotMet, match=r"stopped by timeout=1e-06 s after 1 trial:"):
        InferenceOptimizer.quantize(
            net,
            precision="int8",
            accelerator="onnxruntime",
            calib_data=labelled,
            metric=top1,
            accuracy_criterion=TIGHT,
            timeout=1e-6,
        )


def test_in_a_patched_run_a_miss_warns_and_serves_the_original(net, labelled, runtime_warnings, monkeypatch):
    monkeypatch.setattr(tuning, "RAISE_ON_MISS", False)
    model = InferenceOptimizer.quantize(
        net,
        precision="int8",
        accelerator="onnxruntime",
        calib_data=labelled,
        metric=top1,
        accuracy_criterion=TIGHT,
        max_trials=1,
    )
    assert model.fallback.kind == "metric" and "no INT8 configuration met" in model.fallback_reason
    [warning] = [w for w in runtime_warnings if str(w.message).startswith("coder:")]
    assert str(warning.message).endswith("running the original model")
    x, _ = labelled[0]
    with torch.no_grad():
        assert torch.equal(model(x), net(x))


def test_without_vnni_the_reduced_range_pt2e_path_searches_too(net, labelled, monkeypatch, capfd):
    if this_cpu().vnni:  # decide as on a Zen 3 (no VNNI): nano_int8 is PT2E with 7-bit activations
        monkeypatch.setenv("CODER_CPUINFO", os.path.join(os.path.dirname(__file__), "..", "cpuinfo", "zen3.txt"))
    this_cpu.cache_clear()
    try:
        assert not this_cpu().vnni
        with pytest.raises(AccuracyNotMet, match="max_trials=1"):
            InferenceOptimizer.quantize(
                net, precision="int8", calib_data=labelled, metric=top1, accuracy_criterion=TIGHT, max_trials=1
            )
    finally:
        monkeypatch.undo()
        this_cpu.cache_clear()
    assert len(rows(capfd.readouterr().err)) == 1


@pytest.mark.parametrize(
    "criterion",
    [
        {"relative": 0.01, "absolute": 0.01},
        {"higher_is_better": True},
        {"relative": -0.1},
        {"relative": "1%"},
        {"absolute": 0.1, "higher_is_better": "yes"},
        {"relativ": 0.01},
        [("relative", 0.01)],
    ],
)
def test_a_bad_accuracy_criterion_is_one_clear_error(criterion, net, labelled):
    with pytest.raises(ValueError, match="^accuracy_criterion") as raised:
        InferenceOptimizer.quantize(
            net, precision="int8", calib_data=labelled, metric=top1, accuracy_criterion=criterion
        )
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "bounds, message",
    [({"max_trials": 0}, "max_trials"), ({"max_trials": 1.5}, "max_trials"), ({"timeout": -1}, "timeout")],
)
def test_bad_bounds_are_one_clear_error(bounds, message, net, labelled):
    with pytest.raises(ValueError, match=f"^{message} must be"):
        InferenceOptimizer.quantize(net, precision="int8", calib_data=labelled, metric=top1, **bounds)


def test_a_metric_needs_labelled_calib_data(net, labelled):
    with pytest.raises(ValueError, match=r"metric needs calib_data yielding \(x, y\) pairs"):
        InferenceOptimizer.quantize(net, precision="int8", calib_data=[x for x, _ in labelled], metric=top1)


def test_criterion_drops():
    assert Criterion.of(None) == Criterion("relative", 0.01, True)
    relative = Criterion.of({"relative": 0.1})
    assert relative.drop(0.8, 0.76) == pytest.approx(0.05) and relative.met(0.8, 0.76)
    lower = Criterion.of({"absolute": 0.5, "higher_is_better": False})
    assert lower.drop(2.0, 2.4) == pytest.approx(0.4) and not lower.met(2.0, 2.6) and lower.met(2.0, 1.0)


def test_save_and_load_replay_the_config_the_search_chose(net, labelled, tmp_path, capfd):
    model = InferenceOptimizer.quantize(
        net, precision="int8", accelerator="onnxruntime", calib_data=labelled, metric=top1, accuracy_criterion=TIGHT
    )
    assert model.how[1]["fp32_layers"] == ["/model/conv1/Conv", "/model/fc/Gemm"]
    InferenceOptimizer.save(model, tmp_path / "tuned")
    loaded = InferenceOptimizer.load(tmp_path / "tuned")
    with torch.no_grad():
        assert all(top1(loaded(x), y) == 1.0 for x, y in labelled)  # all-INT8 scores about 0.5
    assert loaded.accelerated and len(rows(capfd.readouterr().err)) == 2  # the search's rows, none on load
