"""What one accelerated model is made of: a frozen recipe (the runtimes of the table, chosen by
the call's options), and what a build receives."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

import torch

from coder.backend.cpu import Cpu
from coder.backend.flat import CallSpec
from coder.backend.runtimes import Options, Runtime, Verdict, runtimes_for, worst

SHAPE_POLICIES = ("any", "batch", "exact")  # which input change needs a new build


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
    options: Options = Options()
    tuning: object | None = None  # tuning.Tuning: search configs against a metric (accuracy control)


@dataclass(frozen=True)
class Recipe:
    """How to build one runtime for a model; ``label`` names it in messages and tables."""

    label: str
    options: Options
    runtimes: tuple[Runtime, ...]

    def __post_init__(self) -> None:
        if not self.runtimes or self.runtimes[0].shapes not in SHAPE_POLICIES:
            raise ValueError(f"bad recipe {self.label}: {self.runtimes}")

    @classmethod
    def of(cls, label: str, options: Options) -> Recipe:
        return cls(label, options, runtimes_for(options))

    @property
    def precision(self) -> str:
        return self.options.precision

    @property
    def channels_last(self) -> bool:
        return self.options.channels_last

    @property
    def shapes(self) -> str:
        return self.runtimes[0].shapes

    @property
    def torch_threads(self) -> bool:
        return self.runtimes[0].torch_threads

    @property
    def requires(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(lib for runtime in self.runtimes for lib in runtime.libraries))

    def verdict(self, cpu: Cpu) -> Verdict:
        return worst(runtime.needs(cpu, self.options) for runtime in self.runtimes)

    def build(self, request: BuildRequest) -> Runner:
        return self.runtimes[0].build_function(self.precision)(request)

    @property
    def cacheable(self) -> bool:
        """Its runners can be saved to files and loaded back (the conversion cache)."""
        return self.precision in self.runtimes[0].loads

    def safer(self) -> Recipe | None:
        """The same runtime in its safer config (``--max-drop`` re-tunes with it), if it has one."""
        first = self.runtimes[0]
        if self.precision not in first.safer:
            return None
        runtime = dataclasses.replace(first, builds=first.safer, loads={}, safer={})
        return Recipe(f"{self.label} ({first.safer_config})", self.options, (runtime, *self.runtimes[1:]))

    def load(self, folder, request: BuildRequest) -> Runner:
        return self.runtimes[0].load_function(self.precision)(folder, request)

    def key(self, call: CallSpec, tensors: list[torch.Tensor]) -> tuple:
        return (str(call.treespec), repr(call.constants)) + tuple(self._shape_key(t) for t in tensors)

    def _shape_key(self, tensor: torch.Tensor) -> tuple:
        if self.shapes == "exact":
            return (tensor.dtype, tuple(tensor.shape))
        if self.shapes == "batch":
            return (tensor.dtype, tuple(tensor.shape[1:]))
        return (tensor.dtype, tensor.dim())
