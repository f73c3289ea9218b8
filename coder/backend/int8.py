"""INT8 static post-training quantization without an accelerator: Intel Neural Compressor.

INC 3.x quantizes through IPEX when IPEX is importable (the IPEX stack) and through PyTorch
PT2E with the X86 inductor quantizer otherwise, then ``torch.compile`` with freezing lowers
the quantized graph to oneDNN INT8 kernels. docs/BACKEND.md has the measurements behind
choosing INC over calling PT2E directly.
"""

from __future__ import annotations

import contextlib
import copy
import logging

import torch

from coder.backend.availability import has, load
from coder.backend.flat import FlatModule, NotConvertible
from coder.backend.recipe import BuildRequest


@contextlib.contextmanager
def _quiet_inc():
    # INC's logger singleton sets its level when first used, so create it before lowering it
    load("neural_compressor.common.utils.logger").Logger()
    logger = logging.getLogger("neural_compressor")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class QuantizedRunner:
    """Runs INC's result; a PT2E result goes through ``torch.compile`` with freezing."""

    def __init__(self, module, compiled: bool) -> None:
        self.module = torch.compile(module) if compiled else module
        self.compiled = compiled

    def __call__(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        # freezing must be on while inductor compiles (first call, and each recompile);
        # torch.compile(options={"freezing": True}) fails on onednn.qconv_prepack here
        with _inductor_freezing(self.compiled):
            return list(self.module(*tensors))


def _inductor_freezing(enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    import torch._inductor.config as inductor_config

    return inductor_config.patch(freezing=True)


def build_inc(request: BuildRequest) -> QuantizedRunner:
    with _quiet_inc():
        quantization = load("neural_compressor.torch.quantization")
        flat = FlatModule(copy.deepcopy(request.model), request.call).eval()
        use_ipex = has("intel_extension_for_pytorch")
        prepare = _prepare_ipex if use_ipex else _prepare_pt2e
        prepared = prepare(flat, request, quantization)
        batches = request.calibration or [request.sample]
        with torch.no_grad():
            for batch in (batches if use_ipex else rebatch(batches, request.sample)):
                prepared(*batch)
        quantized = quantization.convert(prepared)
    return QuantizedRunner(quantized, compiled=not use_ipex)


def _prepare_ipex(flat, request: BuildRequest, quantization):
    load("intel_extension_for_pytorch")  # INC picks its IPEX backend only once IPEX is imported
    return quantization.prepare(flat, quantization.StaticQuantConfig(), example_inputs=tuple(request.sample))


def _prepare_pt2e(flat, request: BuildRequest, quantization):
    exported = load("neural_compressor.torch.export").export(flat, example_inputs=tuple(request.sample))
    if exported is None:
        raise NotConvertible("torch.export could not capture the model")
    return quantization.prepare(exported, quantization.StaticQuantConfig())


def rebatch(batches: list[list[torch.Tensor]], sample: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    """Calibration batches re-cut to the sample's batch size: an exported graph has fixed shapes."""
    if not sample or sample[0].dim() == 0:
        return [sample]
    size = sample[0].shape[0]
    matching = [b for b in batches if [t.shape[1:] for t in b] == [t.shape[1:] for t in sample]]
    if not matching:
        return [sample]
    columns = [torch.cat(column) for column in zip(*matching)]
    count = columns[0].shape[0] // size
    return [[c[i * size:(i + 1) * size] for c in columns] for i in range(count)] or [sample]
