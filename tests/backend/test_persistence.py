"""``save``/``load`` and what ``load`` trusts: ``load(folder, model=m)`` unpickles nothing (the
weights and calibration are read with ``weights_only=True``), ``load(folder)`` unpickles the
saved model, as documented; folders of an older coder still load without a model and say in
one line what to do with one."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

from coder.backend import InferenceOptimizer
from coder.backend.persistence import CALIBRATION, META, MODEL, OldFolder


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(x)


class Planted:
    """What someone else put in model.pt: unpickling it makes a folder (it could run anything)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def saved(tmp_path):
    torch.manual_seed(0)
    model = InferenceOptimizer.quantize(
        Net().eval(), precision="int8", accelerator="onnxruntime", calib_data=[torch.rand(32, 8) for _ in range(4)]
    )
    InferenceOptimizer.save(model, tmp_path / "saved")
    return tmp_path / "saved", model


def test_load_with_a_model_unpickles_nothing(tmp_path):
    folder, model = saved(tmp_path)
    marker = tmp_path / "code-ran"
    (folder / MODEL).write_bytes(pickle.dumps(Planted(str(marker))))
    loaded = InferenceOptimizer.load(folder, model=Net().eval())
    x = torch.rand(4, 8)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-2)
    assert loaded.recipe == model.recipe and len(loaded.calibration) == 4
    assert not marker.exists()
    with pytest.raises(RuntimeError):  # the documented trust: without a model, model.pt is unpickled
        InferenceOptimizer.load(folder)
    assert marker.exists()


def test_calibration_is_read_as_tensors_only(tmp_path):
    folder, _ = saved(tmp_path)
    marker = tmp_path / "code-ran"
    (folder / CALIBRATION).write_bytes(pickle.dumps(Planted(str(marker)), protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        InferenceOptimizer.load(folder, model=Net().eval())
    assert not marker.exists()


def test_a_folder_of_an_older_coder(tmp_path):
    folder, model = saved(tmp_path)
    meta = json.loads((folder / META).read_text())
    del meta["format"]  # what coder wrote before weights.pt
    (folder / META).write_text(json.dumps(meta))
    (folder / "weights.pt").unlink()
    x = torch.rand(4, 8)
    with torch.no_grad():
        assert torch.allclose(InferenceOptimizer.load(folder)(x), model(x), atol=1e-2)
    with pytest.raises(OldFolder) as raised:
        InferenceOptimizer.load(folder, model=Net().eval())
    assert str(raised.value) == (
        f"{folder} was saved by an older coder, without weights.pt: load it without a "
        f"model (load(folder) unpickles model.pt: only for folders you made) and save it again"
    )
