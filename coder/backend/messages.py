"""coder's messages: one whole line each, ``coder: <what> not used (<why>): running the original
model``, raised as warnings of the CoderWarning category so that ``warnings`` filters work.

Shown, they are the line alone: no file and line number of the warning, no source line (Python
shows the caller's ``return forward_call(*args, **kwargs)`` otherwise). ``CODER_DEBUG=1`` also
prints the library's full error with its traceback.
"""

from __future__ import annotations

import re
import sys
import traceback
import warnings

from coder import settings
from coder.backend.libraries import MissingLibrary

LONG_LINE = 300  # characters of a library's error kept before cutting at a sentence end


class CoderWarning(RuntimeWarning):
    """A model is served by the original: filter with ``category=CoderWarning``."""


def not_used(label: str, reason: str, on_this_cpu: bool = False) -> str:
    where = " on this CPU" if on_this_cpu else ""
    return f"coder: {label} not used{where} ({reason}): running the original model"


def warn(message: str, stacklevel: int = 2) -> None:
    warnings.warn(message, CoderWarning, stacklevel=stacklevel + 1)


def error_text(error: BaseException) -> str:
    """The error as one line: its type and first sentences, whole, never cut mid-sentence."""
    if isinstance(error, MissingLibrary):
        return str(error)
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    cause = _interpreter_cause(lines)
    text = cause or _first_sentences(lines)
    if len(text) > LONG_LINE:
        ends = [match.end() for match in re.finditer(r"[.;!?](\s|$)", text[:LONG_LINE])]
        text = text[: ends[-1]].strip() if ends else text
    name = type(error).__name__
    return text if cause else (f"{name}: {text}" if text else name)


def _first_sentences(lines: list[str]) -> str:
    """Lines joined up to the first one that ends a sentence (libraries wrap long messages)."""
    taken: list[str] = []
    for line in lines:
        taken.append(line)
        if line.endswith((".", ";", "!", "?", ":")) or len(" ".join(taken)) > LONG_LINE:
            break
    return " ".join(taken)


def _interpreter_cause(lines: list[str]) -> str | None:
    """TorchScript reports "The following operation failed..." and the real error last."""
    if not lines or "failed in the TorchScript interpreter" not in lines[0]:
        return None
    causes = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception):", line)]
    return causes[-1] if causes else None


def debug(error: BaseException) -> None:
    """With CODER_DEBUG=1, the whole error and its traceback on stderr."""
    if settings.current().debug:
        print("coder: debug: the error behind the next message:", file=sys.stderr)
        traceback.print_exception(error, file=sys.stderr)


def _show(message, category, filename, lineno, file=None, line=None):
    if isinstance(category, type) and issubclass(category, CoderWarning):
        stream = file or sys.stderr
        try:
            stream.write(f"{message}\n")
        except OSError:  # a closed stream must not end the script
            pass
        return
    _python_show(message, category, filename, lineno, file, line)


_python_show = warnings.showwarning
if getattr(warnings.showwarning, "__module__", None) != __name__:
    warnings.showwarning = _show
