"""TorchScript: ``torch.jit.trace`` + ``torch.jit.freeze`` of the flat model."""

from __future__ import annotations

import torch

from coder.backend.flat import FlatModule
from coder.backend.precision import maybe_bf16
from coder.backend.recipe import BuildRequest


class JitRunner:
    def __init__(self, module: torch.nn.Module, request: BuildRequest, bf16: bool) -> None:
        self.bf16 = bf16
        flat = FlatModule(module, request.call).eval()
        with torch.no_grad(), maybe_bf16(bf16):
            traced = torch.jit.trace(flat, tuple(request.sample), strict=False, check_trace=False)
            self.module = torch.jit.freeze(traced)

    def __call__(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        with maybe_bf16(self.bf16):
            return list(self.module(*tensors))
