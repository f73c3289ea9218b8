"""BF16 autocast and channels-last memory format, and the eager runtime that uses them."""

from __future__ import annotations

import contextlib

import torch

from coder.backend.flat import FlatModule
from coder.backend.recipe import BuildRequest


def bf16_autocast():
    # cache_enabled=False: with the cache on, torch.jit.trace fails with "Cannot insert a
    # Tensor that requires grad as a constant" (the cached bf16 weight copies require grad).
    return torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False)


def maybe_bf16(enabled: bool):
    return bf16_autocast() if enabled else contextlib.nullcontext()


def prepare_inputs(tensors: list[torch.Tensor], channels_last: bool) -> list[torch.Tensor]:
    """Convert 4-D floating inputs to channels-last when the recipe asks for it."""
    if not channels_last:
        return tensors
    return [to_channels_last(t) for t in tensors]


def to_channels_last(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.dim() == 4 and tensor.is_floating_point():
        return tensor.contiguous(memory_format=torch.channels_last)
    return tensor


def channels_last_model(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with 4-D weights in channels-last; values unchanged, so done in place."""
    return model.to(memory_format=torch.channels_last)


def prepared_module(request: BuildRequest) -> torch.nn.Module:
    """The model as the torch runtimes run it: channels-last and/or ``ipex.optimize`` applied."""
    module = request.model
    if request.options.channels_last:
        module = channels_last_model(module)
    if request.options.use_ipex:
        from coder.backend.ipex import ipex_optimize

        module = ipex_optimize(module, request.options.precision == "bf16")
    return module


class EagerRunner:
    """Runs a (possibly IPEX-optimized) module in eager mode, under BF16 autocast if asked."""

    def __init__(self, module: torch.nn.Module, request: BuildRequest) -> None:
        self.flat = FlatModule(module, request.call)
        self.bf16 = request.options.precision == "bf16"

    def __call__(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        with maybe_bf16(self.bf16):
            return list(self.flat(*tensors))


def build_eager(request: BuildRequest) -> EagerRunner:
    return EagerRunner(prepared_module(request), request)
