"""OpenVINO: ``convert_model`` + ``compile_model`` on CPU, and NNCF INT8 quantization.

On a CPU with AVX512-BF16 the CPU plugin runs fp32 models in bf16 unless told otherwise, so
the fp32 path sets ``INFERENCE_PRECISION_HINT: f32``. The INT8 path keeps the plugin's default
for the layers NNCF leaves in floating point.

Cached (cache.py), a runner is its IR (``model.xml`` + ``model.bin``, saved without FP16
compression) and OpenVINO's own cache of the compiled model (``ov_cache/``, keyed by OpenVINO
on the IR's path), so a later run skips both the conversion and most of the compile step.
"""

from __future__ import annotations

from pathlib import Path

import torch

from coder.backend.libraries import load
from coder.backend.context import runtime_threads
from coder.backend.flat import FlatModule
from coder.backend.recipe import BuildRequest


def _numpy(tensors: list[torch.Tensor]) -> list:
    return [t.detach().contiguous().numpy() for t in tensors]


IR = "model.xml"
COMPILED_CACHE = "ov_cache"


class OpenVinoRunner:
    def __init__(self, ov_model, thread_num: int | None, fp32: bool, compiled_cache: Path | None = None) -> None:
        """``ov_model``: an ov.Model, or the path of its IR (what OpenVINO's compiled cache keys on)."""
        ov = load("openvino")
        config = {"INFERENCE_PRECISION_HINT": "f32"} if fp32 else {}
        config["INFERENCE_NUM_THREADS"] = runtime_threads(thread_num)
        if compiled_cache is not None:
            config["CACHE_DIR"] = str(compiled_cache)
        self.model = ov_model
        self.compiled = ov.Core().compile_model(ov_model if not isinstance(ov_model, Path) else str(ov_model),
                                                "CPU", config)
        self.request = self.compiled.create_infer_request()

    def save(self, folder: Path) -> None:
        if not isinstance(self.model, Path):
            load("openvino").save_model(self.model, str(folder / IR), compress_to_fp16=False)

    def __call__(self, tensors: list[torch.Tensor]) -> list:
        results = self.request.infer(_numpy(tensors), share_inputs=True)
        # copies: the infer request reuses its output buffers on the next call
        return [results[output].copy() for output in self.compiled.outputs]


def convert(request: BuildRequest):
    """The flat model as an OpenVINO model; PyTorch frontends leave every dimension dynamic."""
    flat = FlatModule(request.model, request.call).eval()
    with torch.no_grad():
        return load("openvino").convert_model(flat, example_input=tuple(request.sample))


def build_fp32(request: BuildRequest) -> OpenVinoRunner:
    return OpenVinoRunner(convert(request), request.thread_num, fp32=True)


def _load(folder: Path, request: BuildRequest, fp32: bool) -> OpenVinoRunner:
    if not (folder / IR).is_file():
        raise FileNotFoundError(f"no {IR} in {folder}")
    return OpenVinoRunner(folder / IR, request.thread_num, fp32, compiled_cache=folder / COMPILED_CACHE)


def load_fp32(folder: Path, request: BuildRequest) -> OpenVinoRunner:
    return _load(folder, request, fp32=True)


def load_int8(folder: Path, request: BuildRequest) -> OpenVinoRunner:
    return _load(folder, request, fp32=False)


def build_int8(request: BuildRequest) -> OpenVinoRunner:
    nncf = load("nncf")
    batches = [_numpy(batch) for batch in (request.calibration or [request.sample])]
    dataset = nncf.Dataset(batches, lambda batch: tuple(batch))
    quantized = nncf.quantize(convert(request), dataset, subset_size=len(batches))
    return OpenVinoRunner(quantized, request.thread_num, fp32=False)
