"""``save``/``load``: the original model, the call that accelerated it, and its calibration.

A runtime graph (TorchScript, ONNX, OpenVINO IR, compiled INT8) is tied to the library
versions that built it, so it is not stored: ``load`` replays the optimizer call and the
runtime is rebuilt (and checked again) on the first call, from the stored calibration inputs.

A path ending in ``.pt2`` is the exception: a compile model (``accelerator="compile"``) is
written as an AOTInductor package, which ``load`` runs without the model's Python class
(compile.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from coder.backend.accelerate import accelerate
from coder.backend.wrapper import AcceleratedModel

META = "coder_backend.json"
MODEL = "model.pt"
CALIBRATION = "calibration.pt"


PACKAGE_SUFFIX = ".pt2"


def save(model, path) -> Path:
    if str(path).endswith(PACKAGE_SUFFIX):
        from coder.backend.compile import save_package

        return Path(save_package(model, path))
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    original = model.original if isinstance(model, AcceleratedModel) else model
    torch.save(original, folder / MODEL)
    meta = {"method": None}
    if isinstance(model, AcceleratedModel):
        method, options = model.how
        meta = {"method": method, "options": options, "thread_num": model.thread_num,
                "calib_calls": model.calib_calls}
        torch.save(model.calibration, folder / CALIBRATION)
    (folder / META).write_text(json.dumps(meta, indent=2))
    return folder


def load(path, model=None):
    """The saved model, accelerated again; ``model`` (same architecture) receives the weights."""
    folder = Path(path)
    if folder.suffix == PACKAGE_SUFFIX and folder.is_file():
        from coder.backend.compile import load_package

        return load_package(folder)
    meta = json.loads((folder / META).read_text())
    stored = torch.load(folder / MODEL, weights_only=False)
    if model is not None:
        model.load_state_dict(stored.state_dict())
        stored = model
    if meta["method"] is None:
        return stored
    extra = {"calib_calls": meta["calib_calls"]} if meta["method"] == "quantize" else {}
    accelerated = accelerate(meta["method"], stored, **meta["options"], thread_num=meta["thread_num"], **extra)
    if (folder / CALIBRATION).exists():
        accelerated.calibration = torch.load(folder / CALIBRATION)
    return accelerated
