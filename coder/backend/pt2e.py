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
import inspect
from types import SimpleNamespace

import torch

from coder.backend.flat import FlatModule, NotConvertible
from coder.backend.libraries import MissingLibrary, has
from coder.backend.messages import error_text
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
            return SimpleNamespace(
                prepare=module.prepare_pt2e, convert=module.convert_pt2e, xiq=importlib.import_module(quantizer)
            )
    raise MissingLibrary("torchao")


MAX_BATCH = 1 << 16


def exported(request: BuildRequest, dynamic_batch: bool = False) -> torch.nn.Module:
    """The flat model as a PT2E graph; strict export, which resnet-style models need."""
    flat = FlatModule(copy.deepcopy(request.model), request.call).eval()
    if dynamic_batch:
        return export_dynamic(flat, request.sample, strict=True).module()
    try:
        return torch.export.export(flat, tuple(request.sample), strict=True).module()
    except Exception as error:  # torch.export's many failure types: the model is not exportable
        raise NotConvertible(f"torch.export could not capture the model: {error}") from error


def export_dynamic(module: torch.nn.Module, sample: list[torch.Tensor], strict: bool = False):
    """torch.export with a dynamic batch dimension: dim 0 of the inputs whose dim 0 is the first
    input's. A batch-1 sample is doubled first: exported from size 1, the graph would be
    specialized to batch 1."""
    size = batch_size(sample)
    batched = [t.dim() > 0 and t.shape[0] == size for t in sample]
    inputs = tuple(torch.cat([t, t]) if b and size == 1 else t for t, b in zip(sample, batched))
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    shapes = tuple({0: batch} if b else None for b in batched)
    if _takes_varargs(module):  # forward(*tensors): the spec of its one (variadic) argument
        shapes = (shapes,)
    try:
        with torch.no_grad():
            return torch.export.export(module, inputs, dynamic_shapes=shapes, strict=strict)
    except Exception as error:  # torch.export's many failure types: not exportable this way
        raise NotConvertible(
            f"torch.export could not capture the model with a dynamic batch dimension: {error_text(error)}"
        ) from error


def batch_size(sample: list[torch.Tensor]) -> int | None:
    """The batch size of a call: dim 0 of its first tensor."""
    return sample[0].shape[0] if sample and sample[0].dim() else None


def _takes_varargs(module: torch.nn.Module) -> bool:
    parameters = inspect.signature(module.forward).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)


def w8a8_config(xiq, reduce_range: bool):
    """Neural Compressor's W8A8 recipe: u8 activations from moving-average min/max (7-bit with
    ``reduce_range``), s8 weights per channel, symmetric. The default X86 config (histogram
    observers) gave relative error 0.55 on mobilenet_v3_small in both stacks; this one 0.02."""
    activation = xiq.QuantizationSpec(
        dtype=torch.uint8,
        quant_min=0,
        quant_max=127 if reduce_range else 255,
        observer_or_fake_quant_ctr=xiq.MovingAverageMinMaxObserver,
        qscheme=torch.per_tensor_affine,
    )
    weight = xiq.QuantizationSpec(
        dtype=torch.int8,
        quant_min=-128,
        quant_max=127,
        observer_or_fake_quant_ctr=xiq.PerChannelMinMaxObserver,
        ch_axis=0,
        qscheme=torch.per_channel_symmetric,
    )
    bias = xiq.get_default_x86_inductor_quantization_config().bias
    return xiq.QuantizationConfig(activation, activation, weight, bias, is_qat=False)


def quantized(
    request: BuildRequest,
    batches: list[list[torch.Tensor]],
    reduce_range: bool,
    excluded: tuple[str, ...] = (),
    dynamic_batch: bool = False,
) -> torch.nn.Module:
    """The model calibrated on ``batches`` and converted to quantized PT2E ops; the ``excluded``
    modules (names in the FlatModule: ``model.conv1``) stay in fp32."""
    pt2e = api()
    quantizer = pt2e.xiq.X86InductorQuantizer().set_global(w8a8_config(pt2e.xiq, reduce_range))
    for name in excluded:
        quantizer.set_module_name_qconfig(name, None)
    prepared = pt2e.prepare(exported(request, dynamic_batch), quantizer)
    with torch.no_grad():
        for batch in batches:
            prepared(*batch)
    return pt2e.convert(prepared)
