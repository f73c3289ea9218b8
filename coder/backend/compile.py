"""TorchDynamo + Inductor: ``torch.compile`` in fp32 and under BF16 autocast, and PT2E INT8
(X86InductorQuantizer) lowered by Inductor, all with freezing on (weights folded as constants,
the oneDNN kernels prepacked: without it Inductor was slower than eager at batch 1).

torch.compile compiles on the first call; the build makes that call on the sample, so the
compile time is a conversion cost (``compile_seconds``, said in the closing line) and the
parity check sees compiled output. Batch sizes: the batch dimension of each input is marked
dynamic (``maybe_mark_dynamic``), so a new batch size reuses one dynamic graph. A batch of 1 is
the exception (PyTorch specializes sizes 0 and 1): a model first called with batch 1 compiles
once for 1 and once more, dynamically, at the first other batch size; later sizes reuse it.

Not in the conversion cache: storing a compiled model means an AOTInductor compile on top of
torch.compile's (99 s for resnet18 here), which would double the first run's cost; Inductor's
own FX graph cache already makes the next run's compile faster. ``save(model, "m.pt2")``
writes an AOTInductor package instead (``package``, ``load_package``).
"""

from __future__ import annotations

import base64
import pickle
import shutil
import time

import torch
import torch._inductor

from coder.backend import pt2e
from coder.backend.cpu import this_cpu
from coder.backend.flat import _TENSOR, CallSpec, FlatModule, NotConvertible, OutputSpec, flatten_call
from coder.backend.messages import error_text
from coder.backend.precision import maybe_bf16, prepared_module
from coder.backend.recipe import BuildRequest

STRUCTURE = "coder.structure"  # the package metadata key holding the call and output structure


def freezing():
    # on while Inductor compiles (the first call and each recompile); torch.compile(options=
    # {"freezing": True}) fails on onednn.qconv_prepack (int8.py's QuantizedRunner uses this too)
    import torch._inductor.config as inductor_config

    return inductor_config.patch(freezing=True)


class Autocast(torch.nn.Module):
    """``module`` under BF16 autocast, as one module that torch.export can capture."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *tensors):
        with maybe_bf16(True):
            return self.module(*tensors)


class CompiledRunner:
    """A module compiled by Inductor; ``source`` (uncompiled) is what ``package`` exports."""

    def __init__(self, source: torch.nn.Module, request: BuildRequest) -> None:
        self.source = source
        self.call = request.call
        self.sample = list(request.sample)
        self.module = torch.compile(source)
        self.compile_seconds = 0.0

    def __call__(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        mark_batch_dynamic(tensors)
        with freezing():
            return list(self.module(*tensors))

    def compile_now(self) -> CompiledRunner:
        started = time.perf_counter()
        try:
            with torch.no_grad():
                self(self.sample)
        except Exception as error:  # dynamo, Inductor or the C++ compiler failed
            raise NotConvertible(f"torch.compile failed: {error_text(error)}") from error
        self.compile_seconds = time.perf_counter() - started
        return self

    def package(self, path: str, output: OutputSpec) -> str:
        return package(self.source, self.call, output, self.sample, path)


def mark_batch_dynamic(tensors: list[torch.Tensor]) -> None:
    """Dim 0 of the inputs with the call's batch size (pt2e.batch_size), unless it is 1."""
    size = pt2e.batch_size(tensors)
    for tensor in tensors:
        if size and size > 1 and tensor.dim() and tensor.shape[0] == size:
            torch._dynamo.maybe_mark_dynamic(tensor, 0)


def need_compiler() -> None:
    """Inductor writes C++ for the CPU: without a compiler every call would fail later."""
    import torch._inductor.config as inductor_config

    compiler = inductor_config.cpp.cxx[-1] or "g++"  # Inductor's default is $CXX, else g++
    if shutil.which(compiler) is None:
        raise NotConvertible(f"Inductor needs a C++ compiler and {compiler} is not on PATH (install g++, or set CXX)")


def _flat(request: BuildRequest) -> torch.nn.Module:
    return FlatModule(prepared_module(request), request.call).eval()


def build_fp32(request: BuildRequest) -> CompiledRunner:
    need_compiler()
    return CompiledRunner(_flat(request), request).compile_now()


def build_bf16(request: BuildRequest) -> CompiledRunner:
    need_compiler()
    return CompiledRunner(Autocast(_flat(request)), request).compile_now()


def build_int8(request: BuildRequest) -> CompiledRunner:
    """PT2E, exported with a dynamic batch dimension, calibrated, converted, then compiled;
    7-bit activations without VNNI (see int8.py)."""
    from coder.backend.int8 import rebatch

    need_compiler()
    batches = rebatch(request.calibration or [request.sample], request.sample)
    converted = pt2e.quantized(request, batches, reduce_range=not this_cpu().vnni, dynamic_batch=True)
    return CompiledRunner(converted, request).compile_now()


# --- AOTInductor packages ------------------------------------------------------------------


def package(source: torch.nn.Module, call: CallSpec, output: OutputSpec, sample: list, path: str) -> str:
    """``source`` exported with a dynamic batch dimension and compiled ahead of time into ``path``."""
    program = pt2e.export_dynamic(source, sample)
    metadata = {STRUCTURE: _dumps(call, output)}
    with torch.no_grad():
        return torch._inductor.aoti_compile_and_package(
            program, package_path=str(path), inductor_configs={"freezing": True, "aot_inductor.metadata": metadata}
        )


def _dumps(call: CallSpec, output: OutputSpec) -> str:
    tensors = tuple(i for i, c in enumerate(call.constants) if c is _TENSOR)
    constants = tuple(None if c is _TENSOR else c for c in call.constants)
    return base64.b64encode(pickle.dumps((call.treespec, tensors, constants, output))).decode()


def _loads(text: str) -> tuple[CallSpec, OutputSpec]:
    treespec, tensors, constants, output = pickle.loads(base64.b64decode(text))
    constants = tuple(_TENSOR if i in tensors else c for i, c in enumerate(constants))
    return CallSpec(treespec, constants), output


def save_package(model, path) -> str:
    """The first runtime ``model`` serves, as an AOTInductor package at ``path``."""
    served = model.served() if hasattr(model, "served") else []
    packable = [(runner, output) for runner, output in served if hasattr(runner, "package")]
    if not packable:
        why = (
            f" (it serves the original model: {model.fallback_reason})"
            if getattr(model, "fallback_reason", None)
            else ""
        )
        raise ValueError(
            f"{path}: an AOTInductor package is written from a model made with "
            f"accelerator='compile' once it has run (or was given input_sample){why}"
        )
    runner, output = packable[0]
    return runner.package(path, output)


class PackagedModel(torch.nn.Module):
    """An AOTInductor package, called like the model it was saved from (no Python class needed)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = str(path)
        self.runner = torch._inductor.aoti_load_package(self.path)
        self.call, self.output = _loads(self.runner.get_metadata()[STRUCTURE])

    def forward(self, *args, **kwargs):
        call, tensors = flatten_call(args, kwargs)
        if call.treespec != self.call.treespec or call.constants != self.call.constants:
            saved, given = (" ".join(str(spec.treespec).split()) for spec in (self.call, call))
            raise TypeError(f"{self.path} was saved for calls of the form {saved}, not {given}")
        with torch.no_grad():
            return self.output.rebuild(list(self.runner(*tensors)))


def load_package(path) -> PackagedModel:
    return PackagedModel(path)
