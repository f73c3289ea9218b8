"""TorchScript: ``torch.jit.trace`` + ``torch.jit.freeze`` of the flat model."""

from __future__ import annotations

import contextlib

import torch

from coder.backend.cpu import this_cpu
from coder.backend.flat import FlatModule
from coder.backend.ipex import fusion_turned_off
from coder.backend.precision import maybe_bf16, prepared_module
from coder.backend.recipe import BuildRequest


class JitRunner:
    def __init__(self, module: torch.nn.Module, request: BuildRequest) -> None:
        self.bf16 = bf16 = request.options.precision == "bf16"
        self.plain = bf16 and not request.options.use_ipex and not this_cpu().avx512
        flat = FlatModule(module, request.call).eval()
        with torch.no_grad(), maybe_bf16(bf16), self._fusion():
            traced = torch.jit.trace(flat, tuple(request.sample), strict=False, check_trace=False)
            self.module = torch.jit.freeze(traced)

    def _fusion(self):
        """Plain TorchScript for BF16 without AVX-512, even when IPEX is loaded."""
        return fusion_turned_off() if self.plain else contextlib.nullcontext()

    def __call__(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        with maybe_bf16(self.bf16), self._fusion():
            return list(self.module(*tensors))


def build(request: BuildRequest) -> JitRunner:
    return JitRunner(prepared_module(request), request)
