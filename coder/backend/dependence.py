"""Does a traced graph hold for other inputs? Not when ``forward`` branched on the input's values.

TorchScript's tracer (``torch.jit.trace``; the ONNX exporter and OpenVINO's ``convert_model``
trace too) records the operations of one call. Where ``forward`` turns a tensor into a Python
value (``if x.sum() > 0:``, ``int(t)``, ``t.item()``), that call's value is baked into the graph,
with a ``TracerWarning``. Harmless when the value comes from shapes or constants (under a trace
``x.shape[0]`` is a tensor too, and a new shape is rebuilt or checked); wrong when it comes from
the input's values: the graph then takes this call's branch for every input, and gave wrong
outputs on the calls no check sampled.

So while a build runs (``watched``), the traced module (``TracedFlat``) follows the input's
values: a TorchFunctionMode marks every tensor computed from a marked one (the inputs at
first; shape queries and ``*_like`` constructors give unmarked results) and notes each marked
tensor turned into a Python value (``ValueRead``). Weights and buffers are never marked: a
branch on them is the same for every input. A build that noted one is refused
(``ReadsInputValues``): the model serves the original, and a transform that follows control
flow is named (``torch.compile`` traces Python as it runs, and guards or breaks the graph at a
value-dependent branch).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakIdKeyDictionary

from coder.backend.flat import FlatModule

# a tensor turned into a Python value: the trace keeps this call's value as a constant
CONVERSIONS = frozenset(
    {
        "__bool__",
        "__int__",
        "__float__",
        "__index__",
        "__complex__",
        "item",
        "tolist",
        "numpy",
        "__array__",
        "equal",
        "is_nonzero",
        "allclose",
        "__contains__",
    }
)
# results that depend on the first argument's shape, dtype or device only
SHAPE_ONLY = frozenset(
    {
        "shape",
        "size",
        "dim",
        "ndim",
        "numel",
        "nelement",
        "__len__",
        "stride",
        "zeros_like",
        "ones_like",
        "empty_like",
        "rand_like",
        "randn_like",
        "randint_like",
        "new_zeros",
        "new_ones",
        "new_empty",
    }
)
# the transform of the same precision that follows control flow, named in the message
FOLLOWS_CONTROL_FLOW = {"fp32": "nano_compile_fp32", "bf16": "nano_compile_bf16", "int8": "nano_int8_dynamic"}
_TORCH = os.path.dirname(os.path.abspath(torch.__file__))


@dataclass(frozen=True)
class ValueRead:
    conversion: str  # "__bool__", "item", ...
    where: str  # file:line in the model's code

    def describe(self) -> str:
        if self.conversion == "__bool__":
            return f"forward branches on input values ({self.where})"
        return f"forward turns input values into Python values ({self.where}: {self.conversion})"


class ReadsInputValues(Exception):
    """A trace read the input's values: its graph would be wrong on other inputs."""

    def __init__(self, read: ValueRead, precision: str) -> None:
        alternative = FOLLOWS_CONTROL_FLOW.get(precision, FOLLOWS_CONTROL_FLOW["fp32"])
        super().__init__(
            f"{read.describe()}: a traced graph would be wrong on other inputs; {alternative} follows control flow"
        )


_watching: list[ValueRead] | None = None  # what traces noted in the build being watched


@contextlib.contextmanager
def watched() -> Iterator[list[ValueRead]]:
    """Collect what the traces made in the block read of their inputs' values."""
    global _watching
    outer, _watching = _watching, []
    try:
        yield _watching
    finally:
        _watching = outer


def refuse_if_read(reads: list[ValueRead], precision: str) -> None:
    if reads:
        raise ReadsInputValues(reads[0], precision)


class TracedFlat(FlatModule):
    """The flat module that exporters trace: while a watched trace runs, it follows its inputs."""

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if _watching is None or not torch.jit.is_tracing():
            return super().forward(*tensors)
        with _InputValues(tensors, _watching):
            return super().forward(*tensors)


class _InputValues(TorchFunctionMode):
    """Marks what is computed from ``inputs``; notes each marked tensor turned into a Python value."""

    def __init__(self, inputs, reads: list[ValueRead]) -> None:
        super().__init__()
        self.marked = WeakIdKeyDictionary()
        self.reads = reads
        for tensor in inputs:
            self.marked[tensor] = True

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        name = _name_of(func)
        if name in SHAPE_ONLY:
            return result
        if not self._reads_marked(args, kwargs):
            return result
        if name in CONVERSIONS:
            self.reads.append(ValueRead(name, _model_line()))
        elif name == "__setitem__":  # x[i] = marked: x now holds input values
            self._mark(args[0])
        else:
            self._mark(result)
        return result

    def _reads_marked(self, args, kwargs) -> bool:
        return any(
            isinstance(leaf, torch.Tensor) and leaf in self.marked
            for leaf in torch.utils._pytree.tree_leaves((args, kwargs))
        )

    def _mark(self, result) -> None:
        for leaf in torch.utils._pytree.tree_leaves(result):
            if isinstance(leaf, torch.Tensor):
                self.marked[leaf] = True


def _name_of(func) -> str:
    name = getattr(func, "__name__", "")
    if name == "__get__":  # a property such as Tensor.shape: its descriptor's name
        return getattr(getattr(func, "__self__", None), "__name__", name)
    return name


def _model_line() -> str:
    """``file:line`` of the model code that made the conversion (torch's and coder's frames skipped)."""
    frame = sys._getframe(2)
    while frame is not None and (frame.f_code.co_filename.startswith(_TORCH) or frame.f_code.co_filename == __file__):
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
