"""``save``/``load``: the original model, the call that accelerated it, and its calibration.

A runtime graph (TorchScript, ONNX, OpenVINO IR, compiled INT8) is tied to the library
versions that built it, so it is not stored: ``load`` replays the optimizer call and the
runtime is rebuilt (and checked again) on the first call, from the stored calibration inputs.

A folder holds ``coder_backend.json`` (the call, as JSON), ``weights.pt`` (the state_dict),
``calibration.pt`` (tensors) and ``model.pt`` (the whole model, pickled). ``load(folder,
model=m)`` reads only the first three, with ``torch.load(weights_only=True)``: no pickled
object is run. ``load(folder)`` without a model unpickles ``model.pt`` (its class must be
importable), which runs whatever code the file names: only for folders you made.

A path ending in ``.pt2`` is the exception: a compile model (``accelerator="compile"``) is
written as an AOTInductor package, which ``load`` runs without the model's Python class
(compile.py); loading one runs its compiled code and unpickles its metadata, so it is to be
trusted as much as ``model.pt``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from coder.backend.accelerate import accelerate
from coder.backend.wrapper import AcceleratedModel

META = "coder_backend.json"
MODEL = "model.pt"
WEIGHTS = "weights.pt"
CALIBRATION = "calibration.pt"
FORMAT = 2  # 2: weights.pt, so that load(folder, model=m) unpickles nothing

PACKAGE_SUFFIX = ".pt2"


class OldFolder(ValueError):
    """A folder saved by a coder before FORMAT 2, loaded with a model (it has no weights.pt)."""


def save(model, path) -> Path:
    if str(path).endswith(PACKAGE_SUFFIX):
        from coder.backend.compile import save_package

        return Path(save_package(model, path))
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    original = model.original if isinstance(model, AcceleratedModel) else model
    _save_tensors(original, folder / MODEL)
    _save_tensors(original.state_dict(), folder / WEIGHTS)
    meta = {"format": FORMAT, "method": None}
    if isinstance(model, AcceleratedModel):
        method, options = model.how
        meta.update(method=method, options=options, thread_num=model.thread_num, calib_calls=model.calib_calls)
        _save_tensors(model.calibration, folder / CALIBRATION)
    (folder / META).write_text(json.dumps(meta, indent=2))
    return folder


def _save_tensors(value, path: Path) -> None:
    """Serialized in memory first: ``torch.save`` to a file aborts the process on a full disk."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    path.write_bytes(buffer.getvalue())


def load(path, model=None):
    """The saved model, accelerated again.

    With ``model`` (the same architecture) the saved weights are loaded into it and nothing is
    unpickled (``weights_only=True``). Without it the saved model is unpickled
    (``torch.load(weights_only=False)``), which can run any code: load only folders you made.
    A ``.pt2`` package runs its compiled code: the same trust.
    """
    folder = Path(path)
    if folder.suffix == PACKAGE_SUFFIX and folder.is_file():
        from coder.backend.compile import load_package

        return load_package(folder)
    meta = json.loads((folder / META).read_text())
    stored = _model(folder, meta, model)
    if meta["method"] is None:
        return stored
    extra = {"calib_calls": meta["calib_calls"]} if meta["method"] == "quantize" else {}
    accelerated = accelerate(meta["method"], stored, **meta["options"], thread_num=meta["thread_num"], **extra)
    if (folder / CALIBRATION).exists():
        accelerated.calibration = torch.load(folder / CALIBRATION, weights_only=True)
    return accelerated


def _model(folder: Path, meta: dict, model):
    if model is None:
        return torch.load(folder / MODEL, weights_only=False)  # the documented trust of load(folder)
    if meta.get("format", 1) < FORMAT:
        raise OldFolder(
            f"{folder} was saved by an older coder, without {WEIGHTS}: load it without a model "
            f"(load(folder) unpickles {MODEL}: only for folders you made) and save it again"
        )
    model.load_state_dict(torch.load(folder / WEIGHTS, weights_only=True))
    return model
