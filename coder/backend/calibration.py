"""INT8 calibration data: what the user gives as ``calib_data``, or the script's own calls.

Accepted as calib_data: a DataLoader or any iterable whose items are a tensor, an ``(x, y)``
pair (x is the input; a tuple x is several positional inputs), or a dict of keyword inputs
(Hugging Face style; label keys are dropped so the output keeps its inference structure).

Without calib_data (``ScriptCalibration``), the model is quantized on its first call, from that
call's inputs, so a script that calls it once gets INT8 for that call. The inputs of the next
calls, up to the k-th (``calib_calls``, ``CODER_CALIB_CALLS``, default 4), are kept as well when
they are new and come soon (within ``SOON_SECONDS`` of the call before); at the k-th call the
model is quantized again on all of them. A benchmark loop that repeats one input is never
quantized twice. A set of fewer than ``RELIABLE_SAMPLES`` samples is said once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from itertools import islice

import torch

from coder import settings
from coder.backend.flat import flatten_call

MAX_CALIB_BATCHES = 32  # taken from calib_data; more rarely moves static INT8 ranges
LABEL_KEYS = frozenset({"labels", "label", "targets", "target"})
SOON_SECONDS = 10.0
RELIABLE_SAMPLES = 8


def calib_calls_default() -> int:
    """``CODER_CALIB_CALLS`` (coder/settings.py; default 4)."""
    return settings.current().calib_calls


class ScriptCalibration:
    """The inputs of the script's first calls, kept for INT8 calibration (see above)."""

    def __init__(self, wanted_calls: int) -> None:
        self.wanted_calls = wanted_calls
        self.batches: list[list[torch.Tensor]] = []
        self.calls = 0
        self.last_call: float | None = None

    def offer(self, tensors: list[torch.Tensor]) -> bool:
        """Keep a copy of this call's inputs when it is among the first k, new, and soon."""
        now = time.monotonic()
        soon = self.last_call is None or now - self.last_call <= SOON_SECONDS
        self.last_call, self.calls = now, self.calls + 1
        if self.calls > self.wanted_calls or not soon or self._held(tensors):
            return False
        self.batches.append([t.detach().clone() for t in tensors])
        return True

    def done_with_call(self) -> None:
        """The time coder spent on a call (a conversion) does not count against "soon"."""
        self.last_call = time.monotonic()

    @property
    def at_last_call(self) -> bool:
        return self.calls == self.wanted_calls

    def _held(self, tensors: list[torch.Tensor]) -> bool:
        return any(
            len(batch) == len(tensors) and all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(batch, tensors))
            for batch in self.batches
        )

    def matching(self, sample: list[torch.Tensor], shapes: str) -> list[list[torch.Tensor]]:
        """The batches a runtime built on ``sample`` can take, by its shape policy (recipe.py):
        any shape ("any"), or the sample's shapes but for the batch axis."""
        return [batch for batch in self.batches if _fits(batch, sample, shapes)]


def sample_count(batches: list[list[torch.Tensor]]) -> int:
    """Samples in calibration batches: the first input's batch axis, by convention."""
    return sum(batch[0].shape[0] if batch and batch[0].dim() else 1 for batch in batches)


def too_few_note(samples: int) -> str | None:
    """The one line saying a calibration set is too small, or None when it is not."""
    if samples >= RELIABLE_SAMPLES:
        return None
    return (
        f"calibrated on {samples} sample{'s' if samples != 1 else ''} from the script's own calls, too few "
        f"for reliable INT8 ranges: pass calib_data (a few dozen typical inputs) for a reliable result"
    )


def _fits(batch: list[torch.Tensor], sample: list[torch.Tensor], shapes: str) -> bool:
    if len(batch) != len(sample):
        return False
    if shapes == "any":
        return all(a.dtype == b.dtype and a.dim() == b.dim() for a, b in zip(batch, sample))
    return all(a.dtype == b.dtype and a.shape[1:] == b.shape[1:] for a, b in zip(batch, sample))


def as_call(item) -> tuple[tuple, dict]:
    """``(args, kwargs)`` for one sample or batch."""
    if isinstance(item, torch.Tensor):
        return (item,), {}
    if isinstance(item, Mapping):
        return (), {key: value for key, value in item.items() if key not in LABEL_KEYS}
    if isinstance(item, (tuple, list)) and item:
        inputs = item[0]
        if isinstance(inputs, (tuple, list)):
            return tuple(inputs), {}
        return as_call(inputs) if isinstance(inputs, Mapping) else ((inputs,), {})
    raise TypeError(f"cannot use a {type(item).__name__} as model input")


def calls_from(calib_data, limit: int = MAX_CALIB_BATCHES) -> list[tuple[tuple, dict]]:
    return [as_call(item) for item in islice(iter(calib_data), limit)]


def flat_batches(calls: list[tuple[tuple, dict]]) -> list[list[torch.Tensor]]:
    return [flatten_call(args, kwargs)[1] for args, kwargs in calls]


def targets_from(calib_data, limit: int = MAX_CALIB_BATCHES) -> list:
    """The ``y`` of each ``(x, y)`` item, for metric-based acceptance."""
    return [item[1] for item in islice(iter(calib_data), limit) if isinstance(item, (tuple, list)) and len(item) > 1]


def as_items(calls: list[tuple[tuple, dict]]) -> list:
    """Calls back into items ``as_call`` reads the same way (a re-iterable calib_data)."""
    return [call[1] if call[1] and not call[0] else (tuple(call[0]),) for call in calls]
