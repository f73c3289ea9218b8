"""Intel Extension for PyTorch: ``ipex.optimize`` (needs the IPEX stack, torch 2.8)."""

from __future__ import annotations

import torch

from coder.backend.availability import load


def ipex_optimize(model: torch.nn.Module, bf16: bool) -> torch.nn.Module:
    """An optimized copy of ``model`` (the original stays untouched for the fallback)."""
    ipex = load("intel_extension_for_pytorch")
    dtype = torch.bfloat16 if bf16 else torch.float32
    return ipex.optimize(model.eval(), dtype=dtype, inplace=False)
