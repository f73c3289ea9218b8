"""Reading and writing a user's script: every failure is one line for the user (ScriptError)."""

from __future__ import annotations

import io
import os
import tokenize

from coder.engine.outcome import ScriptError


def read_script(path: str) -> tuple[str, str]:
    """(text, encoding) of a Python script; ScriptError when it is missing, binary or undecodable."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise ScriptError(f"cannot read: {error.strerror or error}") from None
    if b"\0" in raw:
        raise ScriptError("not a Python script (binary content)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        return raw.decode(encoding), encoding
    except (SyntaxError, LookupError, UnicodeDecodeError) as error:
        raise ScriptError(f"cannot decode the script: {_reason(error)}") from None


def write_script(path: str, text: str, encoding: str, script: str) -> None:
    """Write the patched script, never over the original; ScriptError on failure."""
    if os.path.exists(path) and os.path.samefile(path, script):
        raise ScriptError(f"refusing to write over the script itself ({path}); pick another --emit path")
    try:
        with open(path, "w", encoding=encoding, newline="") as handle:
            handle.write(text)
    except OSError as error:
        raise ScriptError(f"cannot write {path}: {error.strerror or error}") from None


def _reason(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"not valid {error.encoding} at byte {error.start}"
    if "encoding declaration" in str(error):  # tokenize: neither UTF-8 nor a coding line
        return "not valid UTF-8, and no coding declaration"
    return str(error).splitlines()[0]
