"""What one named transform is: a frozen, self-checking description of a call."""

from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass

IPEX_STACK_HINT = (
    "needs the IPEX stack (torch 2.8 + intel-extension-for-pytorch 2.8): "
    "pip install torch==2.8.0 torchvision==0.23.0 intel-extension-for-pytorch==2.8.0"
)

# module that must be importable -> the one line telling a user how to get it
INSTALL_HINTS = {
    "torch": "pip install torch",
    "intel_extension_for_pytorch": IPEX_STACK_HINT,
    "onnx": "pip install onnx onnxruntime onnxscript",
    "onnxruntime": "pip install onnx onnxruntime onnxscript",
    "onnxscript": "pip install onnx onnxruntime onnxscript",
    "openvino": "pip install openvino",
    "nncf": "pip install openvino nncf",
    "neural_compressor": "pip install 'neural-compressor[pt]' torchao",
    "torchao": "pip install torchao",
}

METHODS = ("trace", "quantize")
ARGUMENTS = ("accelerator", "precision", "use_ipex", "channels_last")
ACCELERATORS = (None, "jit", "onnxruntime", "openvino")
PRECISIONS = ("int8", "bf16")


@dataclass(frozen=True)
class Transform:
    """One catalog entry: ``InferenceOptimizer.<method>(model, **arguments)``."""

    name: str
    description: str
    method: str
    arguments: tuple[tuple[str, object], ...] = ()
    requires: tuple[str, ...] = ("torch",)

    def __post_init__(self) -> None:
        kwargs = dict(self.arguments)
        _check(self.method in METHODS, f"method must be one of {METHODS}")
        _check(set(kwargs) <= set(ARGUMENTS), f"arguments must be among {ARGUMENTS}")
        _check(kwargs.get("accelerator") in ACCELERATORS, f"accelerator must be in {ACCELERATORS}")
        _check((self.method == "quantize") == ("precision" in kwargs), "quantize, and only it, takes precision")
        _check(kwargs.get("precision", "int8") in PRECISIONS, f"precision must be in {PRECISIONS}")
        _check(set(self.requires) <= set(INSTALL_HINTS), f"requires must be among {sorted(INSTALL_HINTS)}")
        _check(not kwargs.get("use_ipex") or "intel_extension_for_pytorch" in self.requires,
               "use_ipex=True requires intel_extension_for_pytorch")

    @property
    def kwargs(self) -> dict[str, object]:
        return dict(self.arguments)

    @property
    def is_int8(self) -> bool:
        return self.kwargs.get("precision") == "int8"

    def call_source(self, model: str, **extra: str) -> str:
        """Python source of the optimizer call; ``extra`` values are source text."""
        parts = [model] + [f"{key}={_literal(value)}" for key, value in self.arguments]
        parts += [f"{key}={value}" for key, value in extra.items()]
        return f"InferenceOptimizer.{self.method}({', '.join(parts)})"

    def missing(self) -> list[str]:
        """Modules this transform needs that are not importable here."""
        return [module for module in self.requires if importlib.util.find_spec(module) is None]

    def install_hint(self) -> str | None:
        """One line saying how to get what is missing, or None when all is present."""
        missing = self.missing()
        return INSTALL_HINTS[missing[0]] if missing else None


class UnknownTransform(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.suggestions = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown transform '{name}'{hint} (see --list)")


def _literal(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
