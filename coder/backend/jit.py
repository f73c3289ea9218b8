"""TorchScript: ``torch.jit.trace`` + ``torch.jit.freeze`` of the flat model.

Cached (cache.py), a runner is its frozen module, ``torch.jit.save``d as ``model.pt``.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch

from coder.backend.cpu import this_cpu
from coder.backend.dependence import TracedFlat
from coder.backend.ipex import fusion_turned_off
from coder.backend.precision import maybe_bf16, prepared_module
from coder.backend.private import write_file
from coder.backend.recipe import BuildRequest

MODEL = "model.pt"


class JitRunner:
    # TorchScript's profiling executor optimizes a graph on its second run (and IPEX warns then
    # that its fusion pass is deprecated): these runs happen while the runtime is built or loaded
    warm_runs = 3

    def __init__(self, module: torch.jit.ScriptModule, request: BuildRequest) -> None:
        self.module = module
        self.bf16 = request.options.precision == "bf16"
        self.plain = self.bf16 and not request.options.use_ipex and not this_cpu().avx512

    @classmethod
    def traced(cls, module: torch.nn.Module, request: BuildRequest) -> JitRunner:
        runner = cls(None, request)
        flat = TracedFlat(module, request.call).eval()
        with torch.no_grad(), maybe_bf16(runner.bf16), runner._fusion():
            traced = torch.jit.trace(flat, tuple(request.sample), strict=False, check_trace=False)
            runner.module = torch.jit.freeze(traced)
        return runner

    def _fusion(self):
        """Plain TorchScript for BF16 without AVX-512, even when IPEX is loaded."""
        return fusion_turned_off() if self.plain else contextlib.nullcontext()

    def __call__(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        with maybe_bf16(self.bf16), self._fusion():
            return list(self.module(*tensors))

    def save(self, folder: Path) -> None:
        # in memory first: torch.jit.save to a file aborts the process when the disk is full
        buffer = io.BytesIO()
        torch.jit.save(self.module, buffer)
        write_file(folder / MODEL, buffer.getvalue())


def build(request: BuildRequest) -> JitRunner:
    return JitRunner.traced(prepared_module(request), request)


def load(folder: Path, request: BuildRequest) -> JitRunner:
    if request.options.use_ipex:
        from coder.backend.libraries import load as load_library

        load_library("intel_extension_for_pytorch")  # its ops must be registered before the graph loads
    return JitRunner(torch.jit.load(str(folder / MODEL)), request)
