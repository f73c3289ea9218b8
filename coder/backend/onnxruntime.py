"""ONNX Runtime: fp32 sessions, and static INT8 quantization in the QOperator format.

A runner keeps its ``.onnx`` file in a workspace of its own while it lives (workspace.py:
removed with the runner, or by the next run when this process is killed): ``save`` copies it
into a cache entry (cache.py) and ``load`` starts a session from one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from coder.backend.context import runtime_threads
from coder.backend.libraries import load as load_library
from coder.backend.onnx_export import export_onnx, numpy_feed
from coder.backend.recipe import BuildRequest
from coder.backend.workspace import Workspace

# Quantizing Add as well produced an invalid BERT graph (a shared zero initializer became
# uint8 input to LayerNormalization) and was no faster on resnet18 (12.1 vs 13.1 ms, 1 thread).
QUANTIZED_OPS = ["Conv", "MatMul", "Gemm"]


MODEL = "model.onnx"


class OrtRunner:
    def __init__(self, path: Path, thread_num: int | None, folder: Workspace | None = None) -> None:
        """A session on ``path``; ``folder``, when given, holds the file and lives as long as the runner."""
        self.path, self.folder = path, folder
        ort = load_library("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = runtime_threads(thread_num)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.wanted = {i.name for i in self.session.get_inputs()}

    def __call__(self, tensors: list[torch.Tensor]) -> list:
        return self.session.run(None, numpy_feed(tensors, self.wanted))

    def save(self, folder: Path) -> None:
        shutil.copyfile(self.path, folder / MODEL)


def load(folder: Path, request: BuildRequest) -> OrtRunner:
    if not (folder / MODEL).is_file():
        raise FileNotFoundError(f"no {MODEL} in {folder}")
    return OrtRunner(folder / MODEL, request.thread_num)


def _workspace() -> Workspace:
    return Workspace("onnx")


def build_fp32(request: BuildRequest) -> OrtRunner:
    load_library("onnx")
    workspace = _workspace()
    return OrtRunner(export_onnx(request, Path(workspace.name) / MODEL), request.thread_num, workspace)


def _calibration_reader(batches: list[list[torch.Tensor]], wanted: set[str]):
    """Feeds calibration batches to ``quantize_static``, which only calls ``get_next``."""
    base = load_library("onnxruntime.quantization").CalibrationDataReader

    class Reader(base):
        def __init__(self) -> None:
            self.feeds = iter([numpy_feed(batch, wanted) for batch in batches])

        def get_next(self):
            return next(self.feeds, None)

    return Reader()


def build_int8(request: BuildRequest) -> OrtRunner:
    workspace = _workspace()
    folder = Path(workspace.name)
    exported = export_onnx(request, folder / "exported.onnx")
    # pre-processing folds the Identity nodes the exporter emits for shared initializers;
    # without it quantize_static cannot find Conv biases ("NoneType has no data_type")
    fp32 = folder / "model.fp32.onnx"
    load_library("onnxruntime.quantization.shape_inference").quant_pre_process(
        str(exported), str(fp32), skip_symbolic_shape=True
    )
    exported.unlink()
    tuning = request.tuning
    if tuning is None or tuning.chosen is not None:
        excluded = tuning.chosen if tuning is not None else []
        return OrtRunner(_quantized(request, fp32, folder / MODEL, excluded), request.thread_num, workspace)
    return _tuned(request, fp32, workspace)


def _quantized(request: BuildRequest, fp32: Path, int8: Path, excluded: list[str]) -> Path:
    """``fp32`` quantized (QOperator, U8S8, Conv/MatMul/Gemm) into ``int8``; ``excluded`` nodes stay fp32."""
    quantization = load_library("onnxruntime.quantization")
    wanted = {i.name for i in load_library("onnx").load(str(fp32)).graph.input}
    reader = _calibration_reader(request.calibration or [request.sample], wanted)
    quantization.quantize_static(
        str(fp32),
        str(int8),
        reader,
        quant_format=quantization.QuantFormat.QOperator,
        activation_type=quantization.QuantType.QUInt8,
        weight_type=quantization.QuantType.QInt8,
        op_types_to_quantize=QUANTIZED_OPS,
        nodes_to_exclude=list(excluded),
    )
    return int8


def _tuned(request: BuildRequest, fp32: Path, workspace) -> OrtRunner:
    """coder's trial loop over the exclusion ladder of the graph's Conv/MatMul/Gemm nodes."""
    from coder.backend import tuning as tuning_module

    graph = load_library("onnx").load(str(fp32)).graph
    nodes = [node.name for node in graph.node if node.op_type in QUANTIZED_OPS]
    rungs = tuning_module.exclusion_ladder(nodes, request.tuning.max_trials)
    folder = Path(workspace.name)

    def candidate(number: int, excluded: list[str]):
        path = _quantized(request, fp32, folder / f"model.trial{number}.onnx", excluded)
        return OrtRunner(path, request.thread_num, workspace), excluded

    candidates = [(config, lambda n=n, e=excluded: candidate(n, e)) for n, (config, excluded) in enumerate(rungs)]
    spec = tuning_module.output_spec(request)
    (runner, excluded) = tuning_module.search(
        request.tuning, request.model, candidates, lambda built: tuning_module.flat_runner_call(built[0], spec)
    )
    request.tuning.chosen = excluded
    return runner
