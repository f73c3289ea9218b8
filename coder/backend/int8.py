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

import torch
import torch.utils._pytree as pytree

from coder.backend import pt2e
from coder.backend.cpu import this_cpu
from coder.backend.flat import FlatModule, NotConvertible, flatten_call
from coder.backend.libraries import has, load
from coder.backend.recipe import BuildRequest
from coder.backend.tuning import exclusion_ladder, flat_runner_call, output_spec, quantizable_layers, search
from coder.backend.workspace import Workspace


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
    from coder.backend.compile import freezing

    return freezing() if enabled else contextlib.nullcontext()


def build_inc(request: BuildRequest):
    if not this_cpu().vnni:
        return build_reduced_range(request)
    # INC's default workspace is ./nc_workspace, in the user's folder: use a private one
    with _quiet_inc(), Workspace("inc") as workspace:
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

    def calibrate(prepared):
        with torch.no_grad():
            for batch in request.calibration or [request.sample]:
                _call_with(prepared, call, batch)

    if _searching(request):
        quantized = _autotuned(
            request, quantization, model, calibrate, example, lambda module: _structured_call(module, call)
        )
    else:
        prepared = quantization.prepare(model, _config(request, quantization), example_inputs=example)
        calibrate(prepared)
        quantized = quantization.convert(prepared)
    return StructuredRunner(quantized, call) if call else QuantizedRunner(quantized, compiled=False)


def _structured_call(module, call):
    """``run(args, kwargs)`` for a module INC quantized in the call form ``call`` (None: flat)."""
    if call is not None:
        return lambda args, kwargs: module(*args, **kwargs)
    return lambda args, kwargs: module(*flatten_call(args, kwargs)[1])


def _autotuned(request: BuildRequest, quantization, model, calibrate, example, run_of, names=None):
    """INC 3.x ``autotune`` over the exclusion ladder; ``tuning.Tuning`` judges each trial (its
    criterion may be absolute or lower-is-better, which INC's relative ``tolerable_loss`` is
    not), so INC is given 1.0 for a trial that meets it, 0.0 otherwise, and no tolerable loss."""
    tuning = request.tuning
    rungs = exclusion_ladder(names or quantizable_layers(model), tuning.max_trials)
    configs = [_config_without(quantization, excluded) for _, excluded in rungs]
    tuning.start(request.model, len(rungs))

    scored = [0]

    def evaluate(module) -> float:
        scored[0] += 1
        if scored[0] == 1:  # INC scores the fp32 model first: tuning.start scored the original
            return 1.0
        config, excluded = rungs[len(tuning.trials)]
        if not tuning.record(config, tuning.evaluate(run_of(module))):
            return 0.0
        tuning.chosen = excluded
        return 1.0

    tune_config = quantization.TuningConfig(config_set=configs, tolerable_loss=0.0, max_trials=len(configs))
    quantized = quantization.autotune(model, tune_config, eval_fn=evaluate, run_fn=calibrate, example_inputs=example)
    if quantized is None or not tuning.last_met():
        raise tuning.failure or tuning.fail(f"after {len(tuning.trials)} trial(s)")
    return quantized


def _searching(request: BuildRequest) -> bool:
    return request.tuning is not None and request.tuning.searching


def _config(request: BuildRequest, quantization):
    """The default config, or the one an earlier search of this model chose (another input shape)."""
    return _config_without(quantization, request.tuning.chosen if request.tuning is not None else [])


def _config_without(quantization, excluded: list[str]):
    """INC's default static config with the ``excluded`` layers left in fp32."""
    config = quantization.StaticQuantConfig()
    for name in excluded:
        config.set_local(name, quantization.StaticQuantConfig(w_dtype="fp32", act_dtype="fp32"))
    return config


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

    def calibrate(prepared):
        with torch.no_grad():
            for batch in rebatch(request.calibration or [request.sample], request.sample):
                prepared(*batch)

    if _searching(request):  # trials are scored on the quantized graph, not yet compiled
        spec = output_spec(request)
        model = _autotuned(
            request,
            quantization,
            exported,
            calibrate,
            tuple(request.sample),
            lambda module: flat_runner_call(lambda tensors: module(*tensors), spec),
            quantizable_layers(flat),
        )
        return QuantizedRunner(model, compiled=True)
    prepared = quantization.prepare(exported, _config(request, quantization))
    calibrate(prepared)
    return QuantizedRunner(quantization.convert(prepared), compiled=True)


def build_safer(request: BuildRequest) -> QuantizedRunner:
    """``--max-drop``'s re-tune: PT2E with 7-bit activations, where the default is INC's 8-bit."""
    if not this_cpu().vnni:
        raise NotConvertible("the default here is already PT2E with 7-bit activations")
    return build_reduced_range(request)


def build_reduced_range(request: BuildRequest) -> QuantizedRunner:
    """PT2E with 7-bit activations, for CPUs whose INT8 dot products saturate (no VNNI)."""
    batches = rebatch(request.calibration or [request.sample], request.sample)
    tuning = request.tuning
    if tuning is None or tuning.chosen is not None:
        excluded = tuple(tuning.chosen) if tuning is not None else ()
        return QuantizedRunner(pt2e.quantized(request, batches, True, excluded), compiled=True)
    names = quantizable_layers(FlatModule(request.model, request.call))
    candidates = [
        (config, lambda e=tuple(excluded): (pt2e.quantized(request, batches, True, e), e))
        for config, excluded in exclusion_ladder(names, tuning.max_trials)
    ]
    spec = output_spec(request)
    module, excluded = search(
        tuning,
        request.model,
        candidates,  # scored uncompiled, like INC's trials
        lambda built: flat_runner_call(lambda tensors: built[0](*tensors), spec),
    )
    tuning.chosen = list(excluded)
    return QuantizedRunner(module, compiled=True)


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
    return [[c[i * size : (i + 1) * size] for c in columns] for i in range(count)] or [sample]
