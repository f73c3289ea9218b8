"""What one accelerated model is made of: a frozen recipe, and what a build receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch

from coder.backend.flat import CallSpec

SHAPE_POLICIES = ("any", "batch", "exact")  # which input change needs a new build
PRECISIONS = ("fp32", "bf16", "int8")


class Runner(Protocol):
    """A built runtime: flat tensors in, flat tensors (or numpy arrays) out."""

    def __call__(self, tensors: list[torch.Tensor]) -> list: ...


@dataclass(frozen=True)
class BuildRequest:
    model: torch.nn.Module
    call: CallSpec
    sample: list[torch.Tensor]
    calibration: list[list[torch.Tensor]] = field(default_factory=list)
    thread_num: int | None = None


@dataclass(frozen=True)
class Recipe:
    """How to build one runtime for a model; ``label`` names it in warnings and tables."""

    label: str
    precision: str
    build: Callable[[BuildRequest], Runner]
    shapes: str
    requires: tuple[str, ...] = ()
    channels_last: bool = False
    torch_threads: bool = True  # False when the runtime owns its thread pool (ORT, OpenVINO)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS or self.shapes not in SHAPE_POLICIES:
            raise ValueError(f"bad recipe {self.label}: {self.precision}, {self.shapes}")

    def key(self, call: CallSpec, tensors: list[torch.Tensor]) -> tuple:
        return (str(call.treespec), repr(call.constants)) + tuple(self._shape_key(t) for t in tensors)

    def _shape_key(self, tensor: torch.Tensor) -> tuple:
        if self.shapes == "exact":
            return (tensor.dtype, tuple(tensor.shape))
        if self.shapes == "batch":
            return (tensor.dtype, tuple(tensor.shape[1:]))
        return (tensor.dtype, tensor.dim())
