"""Calls as flat lists of tensors: what every exporter and runtime can take and give back.

A model call ``model(*args, **kwargs)`` becomes a :class:`CallSpec` (the pytree structure plus
every non-tensor argument) and a list of tensors; the output likewise becomes an
:class:`OutputSpec` and a list of tensors. Hugging Face ``ModelOutput`` is a registered pytree
node, so dicts, tuples and ModelOutputs all round-trip.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.utils._pytree as pytree


class NotConvertible(RuntimeError):
    """The model's call or output cannot be expressed as tensors in, tensors out."""


@dataclass(frozen=True)
class CallSpec:
    treespec: pytree.TreeSpec
    constants: tuple  # non-tensor leaves, in order, with None where a tensor goes

    def rebuild(self, tensors) -> tuple[tuple, dict]:
        feed = iter(tensors)
        leaves = [next(feed) if c is _TENSOR else c for c in self.constants]
        args, kwargs = pytree.tree_unflatten(leaves, self.treespec)
        return args, kwargs


class _TensorSlot:
    def __repr__(self) -> str:
        return "<tensor>"


_TENSOR = _TensorSlot()


def flatten_call(args: tuple, kwargs: dict) -> tuple[CallSpec, list[torch.Tensor]]:
    leaves, treespec = pytree.tree_flatten((tuple(args), dict(kwargs)))
    tensors = [leaf for leaf in leaves if isinstance(leaf, torch.Tensor)]
    constants = tuple(_TENSOR if isinstance(leaf, torch.Tensor) else leaf for leaf in leaves)
    return CallSpec(treespec, constants), tensors


@dataclass(frozen=True)
class OutputSpec:
    treespec: pytree.TreeSpec
    dtypes: tuple[torch.dtype, ...]

    def rebuild(self, tensors) -> object:
        restored = [_as_tensor(t).to(dtype) for t, dtype in zip(tensors, self.dtypes)]
        return pytree.tree_unflatten(restored, self.treespec)


def flatten_output(output) -> tuple[OutputSpec, list[torch.Tensor]]:
    """Split an output into structure and tensors; any other leaf makes it not convertible."""
    leaves, treespec = pytree.tree_flatten(output)
    for leaf in leaves:
        if not isinstance(leaf, torch.Tensor):
            raise NotConvertible(f"the model returns a non-tensor value ({type(leaf).__name__})")
    return OutputSpec(treespec, tuple(leaf.dtype for leaf in leaves)), leaves


def _as_tensor(value) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.from_numpy(value)


class FlatModule(torch.nn.Module):
    """``model`` as a function of positional tensors returning a tuple of tensors."""

    def __init__(self, model: torch.nn.Module, call: CallSpec) -> None:
        super().__init__()
        self.model = model
        self.call = call

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        args, kwargs = self.call.rebuild(tensors)
        return tuple(pytree.tree_leaves(self.model(*args, **kwargs)))
