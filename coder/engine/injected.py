"""The code coder injects, and the one place that recognises it again in a script.

coder writes four things: ``from coder.backend import InferenceOptimizer``, one
``model = InferenceOptimizer.<method>(model, ...)`` per model, ``get_context(model)`` around
inference, and ``InferenceOptimizer.original(model)`` where the script writes (exports, saves)
a model after coder's call, so that the file holds the model as built. Recognising them (an
optimizer call already there, a ``with`` already holding get_context) is what makes patching a
patched script change nothing; the import is added, and found again, by LibCST's AddImportsVisitor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from coder import transforms

OPTIMIZER = "InferenceOptimizer"
IMPORT_FROM = "coder.backend"
BASELINE = "original"
# runtimes whose conversion reads a TorchScript module (torch.jit.load) as it reads an nn.Module
SCRIPT_MODULE_RUNTIMES = ("onnxruntime", "openvino")

CONTEXT_CALL = m.Call(func=m.Attribute(value=m.Name(OPTIMIZER), attr=m.Name("get_context")))
ORIGINAL = "original"  # InferenceOptimizer.original(model): the model as built, for what the script writes
ORIGINAL_CALL = m.Call(func=m.Attribute(value=m.Name(OPTIMIZER), attr=m.Name(ORIGINAL)))
OPTIMIZER_CALL = m.Call(
    func=m.Attribute(value=m.Name(OPTIMIZER), attr=m.DoesNotMatch(m.Name("get_context") | m.Name(ORIGINAL)))
)


@dataclass(frozen=True)
class OptimizerCall:
    """How to write the optimizer call of one transform: ``build(model_source, loader_source_or_None)``."""

    name: str
    build: Callable[[str, str | None], str]
    calibrates: bool = False  # INT8: pass a loader as calib_data when one is in reach
    traces_graph: bool = True  # captures a fixed graph: unsafe for a model used with .generate()
    takes_script_module: bool = False  # converts a TorchScript module as it is (ONNX export, OpenVINO)

    def assignment(self, target: str, loader: str | None) -> str:
        return f"{target} = {self.build(target, loader)}"


def optimizer_call_for(transform: str | transforms.Transform | OptimizerCall) -> OptimizerCall:
    """From a catalog name, a Transform, "original" (the plain baseline trace) or an OptimizerCall;
    raises transforms.UnknownTransform."""
    if isinstance(transform, OptimizerCall):
        return transform
    if transform == BASELINE:
        return OptimizerCall(BASELINE, lambda model, loader: f"{OPTIMIZER}.trace({model})", traces_graph=False)
    entry = transforms.get(transform) if isinstance(transform, str) else transform
    calibrates = entry.needs_calibration
    converts = entry.method == "trace" and entry.kwargs.get("accelerator") in SCRIPT_MODULE_RUNTIMES
    return OptimizerCall(
        entry.name,
        lambda model, loader: _call_source(entry, model, loader),
        calibrates,
        calibrates or entry.kwargs.get("accelerator") is not None,
        converts,
    )


def _call_source(entry: transforms.Transform, model: str, loader: str | None) -> str:
    return (
        entry.call_source(model, calib_data=loader) if entry.needs_calibration and loader else entry.call_source(model)
    )


def context_call(targets: list[str]) -> cst.Call:
    """``InferenceOptimizer.get_context(a, b)``."""
    return cst.parse_expression(f"{OPTIMIZER}.get_context({', '.join(targets)})")


def context_call_in(node: cst.With) -> cst.Call | None:
    """The ``InferenceOptimizer.get_context(...)`` item of a ``with``, if it has one."""
    return next((item.item for item in node.items if m.matches(item.item, CONTEXT_CALL)), None)


def original_call(model: cst.BaseExpression) -> cst.Call:
    """``InferenceOptimizer.original(model)``."""
    return cst.Call(func=cst.Attribute(cst.Name(OPTIMIZER), cst.Name(ORIGINAL)), args=[cst.Arg(model)])


def is_original_call(node: cst.CSTNode) -> bool:
    return m.matches(node, ORIGINAL_CALL)


def is_optimizer_call(node: cst.CSTNode) -> bool:
    """``InferenceOptimizer.trace(...)``, ``.quantize(...)``, ...: a model coder already optimized."""
    return m.matches(node, OPTIMIZER_CALL)
