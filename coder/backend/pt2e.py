"""PyTorch 2 export quantization: ``torch.export`` → ``prepare_pt2e`` with X86InductorQuantizer →
calibration → ``convert_pt2e`` → ``torch.compile`` with inductor freezing (oneDNN INT8 kernels).

PT2E lives in ``torch.ao.quantization`` up to torch 2.12 and in ``torchao.quantization.pt2e``
from torch 2.13 on; ``api()`` finds whichever this stack has. ``reduce_range`` quantizes
activations to 7 bits, which CPUs without VNNI need: their ``vpmaddubsw`` adds u8·s8 products
in 16 bits and saturates on full-range activations.
"""

from __future__ import annotations

import copy
import importlib
from types import SimpleNamespace

import torch

from coder.backend.flat import FlatModule, NotConvertible
from coder.backend.libraries import MissingLibrary, has
from coder.backend.recipe import BuildRequest

LOCATIONS = (  # (prepare/convert module, X86 inductor quantizer module)
    ("torch.ao.quantization.quantize_pt2e", "torch.ao.quantization.quantizer.x86_inductor_quantizer"),
    ("torchao.quantization.pt2e.quantize_pt2e", "torchao.quantization.pt2e.quantizer.x86_inductor_quantizer"),
)


def api() -> SimpleNamespace:
    """prepare_pt2e, convert_pt2e and the X86 inductor quantizer module of this stack."""
    for flow, quantizer in LOCATIONS:
        if has(flow):
            module = importlib.import_module(flow)
            return SimpleNamespace(prepare=module.prepare_pt2e, convert=module.convert_pt2e,
                                   xiq=importlib.import_module(quantizer))
    raise MissingLibrary("torchao")


def exported(request: BuildRequest) -> torch.nn.Module:
    """The flat model as a PT2E graph; strict export, which resnet-style models need."""
    flat = FlatModule(copy.deepcopy(request.model), request.call).eval()
    try:
        return torch.export.export(flat, tuple(request.sample), strict=True).module()
    except Exception as error:  # torch.export's many failure types: the model is not exportable
        raise NotConvertible(f"torch.export could not capture the model: {error}") from error


def quantized(request: BuildRequest, batches: list[list[torch.Tensor]], reduce_range: bool) -> torch.nn.Module:
    """The model calibrated on ``batches`` and converted to quantized PT2E ops."""
    pt2e = api()
    quantizer = pt2e.xiq.X86InductorQuantizer()
    quantizer.set_global(pt2e.xiq.get_default_x86_inductor_quantization_config(reduce_range=reduce_range))
    prepared = pt2e.prepare(exported(request), quantizer)
    with torch.no_grad():
        for batch in batches:
            prepared(*batch)
    return pt2e.convert(prepared)
