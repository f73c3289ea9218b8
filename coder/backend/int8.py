"""INT8 static post-training quantization without an accelerator: Intel Neural Compressor.

INC 3.x quantizes through IPEX when IPEX is importable (the IPEX stack) and through PyTorch
PT2E with the X86 inductor quantizer otherwise, then ``torch.compile`` with freezing lowers
the quantized graph to oneDNN INT8 kernels. docs/BACKEND.md has the measurements behind
choosing INC over calling PT2E directly.

Without VNNI, INC is not used: both of its backends quantize activations to the full u8 range
(its own reduce_range flag is overridden by the explicit quant_min/quant_max it also sets), and
AVX2's ``vpmaddubsw`` then saturates: relative error 0.35 on resnet18 on a Zen 3, and the same
under qemu's AVX2 emulation. There PT2E is called directly with 7-bit activations.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import tempfile

import torch
import torch.utils._pytree as pytree

from coder.backend import pt2e
from coder.backend.cpu import this_cpu
from coder.backend.libraries import has, load
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


def build_inc(request: BuildRequest):
    if not this_cpu().vnni:
        return build_reduced_range(request)
    # INC's default workspace is ./nc_workspace, in the user's folder: use a private one
    with _quiet_inc(), tempfile.TemporaryDirectory(prefix="coder-inc-") as workspace:
        load("neural_compressor.common").set_workspace(workspace)
        quantization = load("neural_compressor.torch.quantization")
        if has("intel_extension_for_pytorch"):
            with _ipex_config_in(workspace):
                return _build_with_ipex(request, quantization)
        return _build_with_pt2e(request, quantization)


@contextlib.contextmanager
def _ipex_config_in(workspace: str):
    """Point INC's IPEX config file, a module global fixed at import, into ``workspace``.

    INC reuses an existing ipex_config_tmp.json, so with its default path a second model
    quantized in one process would get the first model's quantization config.
    """
    package = "neural_compressor.torch.algorithms.static_quant"
    modules = [load(f"{package}.utility"), load(f"{package}.static_quant")]
    saved = [module.ipex_config_path for module in modules]
    for module in modules:
        module.ipex_config_path = f"{workspace}/ipex_config_tmp.json"
    try:
        yield
    finally:
        for module, path in zip(modules, saved):
            module.ipex_config_path = path


class StructuredRunner:
    """Calls a module with the original call structure and flattens what it returns."""

    def __init__(self, module, call) -> None:
        self.module, self.call = module, call

    def __call__(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        args, kwargs = self.call.rebuild(tensors)
        return pytree.tree_leaves(self.module(*args, **kwargs))


def _build_with_ipex(request: BuildRequest, quantization) -> StructuredRunner:
    # The model is given in its own call form, not as a FlatModule: behind a *tensors forward
    # the quantized resnet18 ran 43% slower (54.8 vs 38.4 ms, 1 thread).
    load("intel_extension_for_pytorch")  # INC picks its IPEX backend only once IPEX is imported
    args, kwargs = request.call.rebuild(request.sample)
    model, call, example = copy.deepcopy(request.model).eval(), request.call, kwargs or args
    if args and kwargs:
        model, call, example = FlatModule(model, request.call), None, tuple(request.sample)
    prepared = quantization.prepare(model, quantization.StaticQuantConfig(), example_inputs=example)
    with torch.no_grad():
        for batch in request.calibration or [request.sample]:
            _call_with(prepared, call, batch)
    quantized = quantization.convert(prepared)
    return StructuredRunner(quantized, call) if call else QuantizedRunner(quantized, compiled=False)


def _call_with(module, call, tensors):
    if call is None:
        return module(*tensors)
    args, kwargs = call.rebuild(tensors)
    return module(*args, **kwargs)


def _build_with_pt2e(request: BuildRequest, quantization) -> QuantizedRunner:
    flat = FlatModule(copy.deepcopy(request.model), request.call).eval()
    exported = load("neural_compressor.torch.export").export(flat, example_inputs=tuple(request.sample))
    if exported is None:
        raise NotConvertible("torch.export could not capture the model")
    prepared = quantization.prepare(exported, quantization.StaticQuantConfig())
    with torch.no_grad():
        for batch in rebatch(request.calibration or [request.sample], request.sample):
            prepared(*batch)
    return QuantizedRunner(quantization.convert(prepared), compiled=True)


def build_safer(request: BuildRequest) -> QuantizedRunner:
    """``--max-drop``'s re-tune: PT2E with 7-bit activations, where the default is INC's 8-bit."""
    if not this_cpu().vnni:
        raise NotConvertible("the default here is already PT2E with 7-bit activations")
    return build_reduced_range(request)


def build_reduced_range(request: BuildRequest) -> QuantizedRunner:
    """PT2E with 7-bit activations, for CPUs whose INT8 dot products saturate (no VNNI)."""
    batches = rebatch(request.calibration or [request.sample], request.sample)
    return QuantizedRunner(pt2e.quantized(request, batches, reduce_range=True), compiled=True)


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
