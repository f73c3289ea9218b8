"""What patching a script gives: Patched, Skipped or Failed, with findings that carry a code.

Findings are shown the way pyflakes and ruff show theirs, ``script.py:6:1: C101 message``; the
codes are listed in docs/ENGINE.md. Only the standard library is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass


class ScriptError(ValueError):
    """Bad input: the message is the one line the user sees (without the file name)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column

    def located(self, filename: str) -> str:
        if self.line is None:
            return f"{filename}: {self.message}"
        return f"{filename}:{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True)
class Finding:
    """Something coder says about a script: at a line and column (1-based), or about all of it."""

    code: str
    name: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line is not None else ""
        return f"{where}{self.code} {self.message}"

    def located(self, filename: str) -> str:
        """``script.py:6:1: C101 message``, or ``script.py: C001 message`` for the whole script."""
        return f"{filename}:{self}" if self.line is not None else f"{filename}: {self}"

    def as_json(self) -> dict:
        return {"code": self.code, "name": self.name, "line": self.line, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class Kind:
    """One kind of finding: its code, its name and the template of its message."""

    code: str
    name: str
    template: str

    def at(self, position: tuple[int, int] | None = None, **values: object) -> Finding:
        line, column = position if position is not None else (None, None)
        return Finding(self.code, self.name, self.template.format(**values), line, column)


# C0xx: the script is left unchanged
NO_MODEL = Kind("C001", "no-model", "no model found: the script is left unchanged")
NO_INFERENCE = Kind("C002", "no-inference", "no inference call found on a model: the script is left unchanged")
NOTHING_TO_CHANGE = Kind("C003", "nothing-to-change", "nothing to change: the script is left unchanged")
UNPARSABLE = Kind(
    "C004",
    "internal-error",
    "internal error: the patched script would not parse, so it is left unchanged (please report it)",
)
NOT_REPRODUCIBLE = Kind(
    "C005",
    "formatting-not-kept",
    "LibCST does not write this line back as it is (a LibCST limitation): the script is left unchanged",
)
# C1xx: a model is left alone
ALREADY_OPTIMIZED = Kind(
    "C101", "already-optimized", "'{var}' is already optimized with {label}: not adding a second optimization"
)
TRAINED_IN_METHOD = Kind("C102", "trained-in-method", "'{var}' is trained in {method}() (line {line}): left as it is")
TRAINED_AND_EVALUATED = Kind(
    "C103",
    "trained-and-evaluated",
    "'{var}' is trained and used for inference in the same statement (line {line}): left as it is",
)
NO_ROOM_AFTER = Kind(
    "C104", "no-room-after", "'{var}' is built where coder cannot add a statement after it: left as it is"
)
HELD_MODULE_UNKNOWN = Kind(
    "C106",
    "held-module-unknown",
    "'{var}' runs a torch module through .{method}(), "
    "but coder cannot tell which of its attributes is that module: left as it is",
)
NEVER_CALLED = Kind("C105", "never-called", "'{var}' is built but coder sees no inference call on it")
# C2xx: a model is optimized, but not everything is added
GENERATES = Kind(
    "C201",
    "generate-fixed-graph",
    "'{var}' generates text: {transform} captures a fixed graph, "
    "which generate() cannot use; adding only InferenceOptimizer.get_context",
)
NO_SAFE_CONTEXT = Kind(
    "C202",
    "no-safe-context",
    "no safe place for InferenceOptimizer.get_context around this "
    "call (a lambda, an await in the statement, or the statement that builds the model): "
    "it runs without it",
)
REPLACED_OPTIMIZATION = Kind(
    "C203",
    "replaced-optimization",
    "'{var}' is already optimized with {label}: {transform} replaces that optimization (--keep-existing keeps it)",
)
OPTIMIZED_AT_EACH_EVALUATION = Kind(
    "C204",
    "optimized-at-each-evaluation",
    "'{var}' is trained and evaluated in turn: it is optimized in {function}() after line {line}, at each evaluation",
)


class _Told:
    @property
    def findings(self) -> tuple[Finding, ...]:
        """All there is to tell the user: the warnings, then why the script was skipped or failed."""
        reason = getattr(self, "reason", None)
        return (*self.warnings, *([reason] if reason is not None else []))


@dataclass(frozen=True)
class Patched(_Told):
    """The script with the transform applied."""

    source: str
    warnings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Skipped(_Told):
    """Nothing to do (no model, nothing left to change): ``source`` is the script, byte for byte."""

    source: str
    reason: Finding
    warnings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Failed(_Told):
    """coder could not patch the script safely: ``source`` is the script, byte for byte."""

    source: str
    reason: Finding
    warnings: tuple[Finding, ...] = ()


Outcome = Patched | Skipped | Failed
