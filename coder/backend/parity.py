"""Is the accelerated output close enough to the original's? One number per precision.

The error of one output tensor is ``||accelerated - original|| / ||original||`` (relative L2,
so it does not depend on the scale of the logits); a call passes when every output tensor is
within the tolerance of its precision. Integer and boolean outputs must match exactly.
"""

from __future__ import annotations

import math

import torch

# Relative L2 error allowed on the first calls, per precision. fp32 runtimes reorder sums
# (~1e-6); bf16 keeps 8 mantissa bits (~1e-2 after a deep net); static INT8 on a random-weight
# model measured 0.02-0.08 here. A model whose INT8 output is unrelated to fp32 scores ~1.0.
TOLERANCE = {"fp32": 1e-3, "bf16": 5e-2, "int8": 0.25}


def relative_error(accelerated: torch.Tensor, original: torch.Tensor) -> float:
    if not (original.is_floating_point() or original.is_complex()):
        return 0.0 if torch.equal(accelerated.to(original.dtype), original) else math.inf
    got, want = accelerated.detach().double(), original.detach().double()
    if got.shape != want.shape or not torch.isfinite(got).all():
        return math.inf
    scale = want.norm().item()
    diff = (got - want).norm().item()
    return diff / scale if scale > 0 else diff


def worst_error(accelerated: list[torch.Tensor], original: list[torch.Tensor]) -> float:
    if len(accelerated) != len(original):
        return math.inf
    return max((relative_error(a, o) for a, o in zip(accelerated, original)), default=0.0)
