"""OpenVINO: ``convert_model`` + ``compile_model`` on CPU, and NNCF INT8 quantization.

On a CPU with AVX512-BF16 the CPU plugin runs fp32 models in bf16 unless told otherwise, so
the fp32 path sets ``INFERENCE_PRECISION_HINT: f32``. The INT8 path keeps the plugin's default
for the layers NNCF leaves in floating point.

Cached (cache.py), a runner is its IR (``model.xml`` + ``model.bin``, saved without FP16
compression, every dimension dynamic) and OpenVINO's own cache of the compiled models
(``ov_cache/``), so a later run skips both the conversion and most of the compile step.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import torch

from coder.backend.context import runtime_threads
from coder.backend.dependence import TracedFlat
from coder.backend.flat import flatten_call
from coder.backend.libraries import load
from coder.backend.recipe import BuildRequest


@functools.cache
def shared_core():
    """One ``ov.Core`` per process: with several, a Ctrl-C during a conversion ended the process
    with a segmentation fault (exit 139) instead of the script's KeyboardInterrupt."""
    return load("openvino").Core()


def _numpy(tensors: list[torch.Tensor]) -> list:
    return [t.detach().contiguous().numpy() for t in tensors]


IR = "model.xml"
COMPILED_CACHE = "ov_cache"


class OpenVinoRunner:
    """Compiled for the input shapes of the call it is built on: static shapes, because the first
    inference of a dynamic-shape model compiles its kernels then (0.8 s more on BERT-base). A
    call with other shapes gets the dynamic model, compiled when first needed."""

    def __init__(self, ov_model, request: BuildRequest, fp32: bool, compiled_cache: Path | None = None) -> None:
        """``ov_model``: an ov.Model, or the path of its IR."""
        self.model = ov_model
        self.config = {"INFERENCE_PRECISION_HINT": "f32"} if fp32 else {}
        self.config["INFERENCE_NUM_THREADS"] = runtime_threads(request.thread_num)
        if compiled_cache is not None:
            self.config["CACHE_DIR"] = str(compiled_cache)
        self.static_shapes = _shapes(request.sample)
        self.static = self._compiled(self.static_shapes)
        self.dynamic = None

    def _compiled(self, shapes: tuple | None):
        core = shared_core()
        model = self._fresh(core)
        if shapes is not None and len(model.inputs) == len(shapes):
            try:
                model.reshape({port: list(shape) for port, shape in zip(model.inputs, shapes)})
            except RuntimeError:  # a graph that cannot take static shapes stays dynamic
                model = self._fresh(core)
        compiled = core.compile_model(model, "CPU", self.config)
        return compiled, compiled.create_infer_request()

    def _fresh(self, core):
        return core.read_model(str(self.model)) if isinstance(self.model, Path) else self.model.clone()

    def save(self, folder: Path) -> None:
        if not isinstance(self.model, Path):
            load("openvino").save_model(self.model, str(folder / IR), compress_to_fp16=False)

    def __call__(self, tensors: list[torch.Tensor]) -> list:
        if _shapes(tensors) == self.static_shapes:
            compiled, request = self.static
        else:
            self.dynamic = self.dynamic or self._compiled(None)
            compiled, request = self.dynamic
        results = request.infer(_numpy(tensors), share_inputs=True)
        # copies: the infer request reuses its output buffers on the next call
        return [results[output].copy() for output in compiled.outputs]


def _shapes(tensors: list[torch.Tensor]) -> tuple:
    return tuple(tuple(t.shape) for t in tensors)


def convert(request: BuildRequest):
    """The flat model as an OpenVINO model; PyTorch frontends leave every dimension dynamic."""
    flat = TracedFlat(request.model, request.call).eval()
    with torch.no_grad():
        return load("openvino").convert_model(flat, example_input=tuple(request.sample))


def build_fp32(request: BuildRequest) -> OpenVinoRunner:
    return OpenVinoRunner(convert(request), request, fp32=True)


def _load(folder: Path, request: BuildRequest, fp32: bool) -> OpenVinoRunner:
    if not (folder / IR).is_file():
        raise FileNotFoundError(f"no {IR} in {folder}")
    return OpenVinoRunner(folder / IR, request, fp32, compiled_cache=folder / COMPILED_CACHE)


def load_fp32(folder: Path, request: BuildRequest) -> OpenVinoRunner:
    return _load(folder, request, fp32=True)


def load_int8(folder: Path, request: BuildRequest) -> OpenVinoRunner:
    return _load(folder, request, fp32=False)


def build_int8(request: BuildRequest) -> OpenVinoRunner:
    nncf = load("nncf")
    batches = [_numpy(batch) for batch in (request.calibration or [request.sample])]
    dataset = nncf.Dataset(batches, lambda batch: tuple(batch))
    if request.tuning is not None and request.tuning.searching:  # NNCF's choice is not replayed (load)
        return OpenVinoRunner(_accuracy_controlled(nncf, convert(request), dataset, request), request, fp32=False)
    quantized = nncf.quantize(convert(request), dataset, subset_size=len(batches))
    return OpenVinoRunner(quantized, request, fp32=False)


def _accuracy_controlled(nncf, model, calibration, request: BuildRequest):
    """``nncf.quantize_with_accuracy_control``: NNCF quantizes, then puts back to fp32 the layers
    that cost the most, one group per iteration (a trial each), until the drop is allowed. NNCF
    takes higher as better: a lower-is-better metric is given to it negated."""
    from coder.backend import tuning as tuning_module

    tuning = request.tuning
    tuning.start(request.model, tuning.max_trials)
    sign = 1.0 if tuning.criterion.higher_is_better else -1.0
    spec = tuning_module.output_spec(request)
    validation = nncf.Dataset(
        list(range(len(tuning.calls))), lambda i: tuple(_numpy(flatten_call(*tuning.calls[i])[1]))
    )
    full_runs = []

    def validate(compiled, data):
        whole = _indices_of(data) is None  # the initial model, then each trial
        indices = [int(i) for i in data]  # the items are the calls' indices (NNCF counts them)
        value, values = tuning.evaluate_each(_compiled_call(compiled, spec), indices)
        if whole:
            full_runs.append(value)
            if len(full_runs) > 1:
                step = len(full_runs) - 2
                tuning.record("nncf: all quantized" if not step else f"nncf: restorer step {step}", value)
        return sign * value, [sign * v for v in values]

    parameters = nncf.quantization.advanced_parameters.AdvancedAccuracyRestorerParameters(
        max_num_iterations=tuning.max_trials or sys.maxsize, num_ranking_workers=1
    )
    quantized = nncf.quantize_with_accuracy_control(
        model,
        calibration,
        validation,
        validate,
        max_drop=tuning.criterion.limit,
        drop_type=nncf.DropType.RELATIVE if tuning.criterion.kind == "relative" else nncf.DropType.ABSOLUTE,
        subset_size=len(request.calibration or [request.sample]),
        advanced_accuracy_restorer_parameters=parameters,
    )
    if not tuning.last_met():
        raise tuning.failure or tuning.fail(f"after {len(tuning.trials)} trial(s)")
    return quantized


def _indices_of(data) -> list[int] | None:
    """Which validation items NNCF asks for (None: all of them, a whole validation)."""
    provider = getattr(data, "_iterable", data)  # NNCF's IterationCounter wraps its DataProvider
    indices = getattr(provider, "_indices", None)
    return list(indices) if indices is not None else None


def _compiled_call(compiled, spec):
    """``run(args, kwargs)`` on an OpenVINO compiled model, in the original output structure."""

    def run(args, kwargs):
        results = compiled(_numpy(flatten_call(args, kwargs)[1]))
        return spec.rebuild([results[output] for output in compiled.outputs])

    return run
