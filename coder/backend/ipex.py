"""Intel Extension for PyTorch: ``ipex.optimize`` (needs the IPEX stack, torch 2.8)."""

from __future__ import annotations

import contextlib
import sys

import torch

from coder.backend.cpu import this_cpu
from coder.backend.libraries import load

IPEX = "intel_extension_for_pytorch"


def ipex_optimize(model: torch.nn.Module, bf16: bool) -> torch.nn.Module:
    """An optimized copy of ``model`` (the original stays untouched for the fallback).

    IPEX prepacks BF16 weights only with AVX-512 (BW/VL/DQ) and raises otherwise; its own
    message offers ``weights_prepack=False``, which runs (slowly) on AVX2.
    """
    ipex = load(IPEX)
    dtype = torch.bfloat16 if bf16 else torch.float32
    prepack = this_cpu().avx512 or not bf16
    return ipex.optimize(model.eval(), dtype=dtype, inplace=False, weights_prepack=prepack)


@contextlib.contextmanager
def fusion_turned_off():
    """IPEX's TorchScript fusion passes off for the block, if IPEX is loaded at all.

    Once IPEX is imported (by the script, or by Neural Compressor) it rewrites every frozen
    TorchScript graph into its own oneDNN kernels; on a BF16 graph those need AVX-512, and
    without it the graph fails in the TorchScript interpreter.
    """
    ipex = sys.modules.get(IPEX)
    core = getattr(ipex, "_C", None)
    if core is None or not core.get_jit_opt():
        yield
        return
    core.disable_jit_opt()
    try:
        yield
    finally:
        core.enable_jit_opt()
