"""What one named transform is: a frozen, self-checking description of a call."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from coder.backend.cpu import Cpu
from coder.backend.libraries import install_hint, missing
from coder.backend.runtimes import ACCELERATORS, Options, Verdict, libraries_for, verdict_for

METHODS = ("trace", "quantize")
ARGUMENTS = ("accelerator", "precision", "use_ipex", "channels_last", "approach")
PRECISIONS = ("int8", "bf16")


@dataclass(frozen=True)
class Transform:
    """One catalog entry: ``InferenceOptimizer.<method>(model, **arguments)``."""

    name: str
    description: str
    method: str
    arguments: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        kwargs = dict(self.arguments)
        _check(self.method in METHODS, f"method must be one of {METHODS}")
        _check(set(kwargs) <= set(ARGUMENTS), f"arguments must be among {ARGUMENTS}")
        _check(kwargs.get("accelerator") in ACCELERATORS, f"accelerator must be in {ACCELERATORS}")
        _check((self.method == "quantize") == ("precision" in kwargs), "quantize, and only it, takes precision")
        _check(kwargs.get("precision", "int8") in PRECISIONS, f"precision must be in {PRECISIONS}")
        _ = self.options  # raises ValueError for a combination the runtimes table rejects

    @property
    def kwargs(self) -> dict[str, object]:
        return dict(self.arguments)

    @property
    def options(self) -> Options:
        kwargs = self.kwargs
        return Options(
            kwargs.get("accelerator"),
            kwargs.get("precision", "fp32"),
            bool(kwargs.get("use_ipex")),
            bool(kwargs.get("channels_last")),
            kwargs.get("approach", "static"),
        )

    @property
    def requires(self) -> tuple[str, ...]:
        """The libraries it needs, from the runtimes table."""
        return libraries_for(self.options)

    def verdict(self, cpu: Cpu) -> Verdict:
        """native, emulated or unsupported on ``cpu``, with the reason."""
        return verdict_for(self.options, cpu)

    @property
    def is_int8(self) -> bool:
        return self.kwargs.get("precision") == "int8"

    @property
    def needs_calibration(self) -> bool:
        """Static INT8: the engine passes a loader in reach as calib_data (dynamic INT8 needs none)."""
        return self.options.needs_calibration

    def call_source(self, model: str, **extra: str) -> str:
        """Python source of the optimizer call; ``extra`` values are source text."""
        parts = [model] + [f"{key}={_literal(value)}" for key, value in self.arguments]
        parts += [f"{key}={value}" for key, value in extra.items()]
        return f"InferenceOptimizer.{self.method}({', '.join(parts)})"

    def missing(self) -> list[str]:
        """Modules this transform needs that are not importable here."""
        return missing(self.requires)

    def install_hint(self) -> str | None:
        """One line saying how to get what is missing, or None when all is present."""
        absent = self.missing()
        return install_hint(absent[0]) if absent else None


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
