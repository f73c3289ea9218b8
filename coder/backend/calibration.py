"""Turn whatever the user calls calibration data into model calls.

Accepted: a DataLoader or any iterable whose items are a tensor, an ``(x, y)`` pair (x is
the input; a tuple x is several positional inputs), or a dict of keyword inputs (Hugging
Face style; label keys are dropped so the output keeps its inference structure).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import islice

import torch

from coder.backend.flat import flatten_call

MAX_CALIB_BATCHES = 32  # taken from calib_data; more rarely moves static INT8 ranges
LABEL_KEYS = frozenset({"labels", "label", "targets", "target"})


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
    return [item[1] for item in islice(iter(calib_data), limit)
            if isinstance(item, (tuple, list)) and len(item) > 1]


def as_items(calls: list[tuple[tuple, dict]]) -> list:
    """Calls back into items ``as_call`` reads the same way (a re-iterable calib_data)."""
    return [call[1] if call[1] and not call[0] else (tuple(call[0]),) for call in calls]
