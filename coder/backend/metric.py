"""Accept a quantized model only if a user metric on (x, y) calibration data stays close."""

from __future__ import annotations

import torch

from coder.backend.calibration import calls_from, targets_from

DEFAULT_CRITERION = {"relative": 0.01, "higher_is_better": True}


def score(model, calls, targets, metric) -> float:
    """Mean of ``metric(output, target)`` over the batches."""
    values = []
    with torch.no_grad():
        for (args, kwargs), target in zip(calls, targets):
            values.append(float(metric(model(*args, **kwargs), target)))
    return sum(values) / len(values)


def allowed_drop(baseline: float, criterion: dict) -> float:
    if "absolute" in criterion:
        return float(criterion["absolute"])
    return float(criterion.get("relative", DEFAULT_CRITERION["relative"])) * abs(baseline)


def check_metric(accelerated, original, calib_data, metric, accuracy_criterion=None) -> None:
    """Fall back (one warning) when the metric drops more than ``accuracy_criterion`` allows."""
    criterion = {**DEFAULT_CRITERION, **(accuracy_criterion or {})}
    calls, targets = calls_from(calib_data), targets_from(calib_data)
    if not targets:
        raise ValueError("metric needs calib_data yielding (x, y) pairs")
    baseline = score(original, calls, targets, metric)
    value = score(accelerated, calls, targets, metric)
    drop = baseline - value if criterion["higher_is_better"] else value - baseline
    if drop > allowed_drop(baseline, criterion):
        accelerated.fall_back(f"metric {value:.4g} vs original {baseline:.4g}, beyond {criterion}", kind="metric")
