"""Run a (patched) script as ``__main__``, the way ``python script.py args...`` would."""

from __future__ import annotations

import builtins
import linecache
import os
import sys
import traceback
import types

from coder.backend import interruption
from coder.own_lines import compile_as_original


def run(source: str, path: str, args: list[str], original: str | None = None) -> int:
    """Execute ``source`` as the script at ``path`` with ``args``; return its exit code. Then
    say what the acceleration cost, one line per model (coder/backend/report.py). ``original``:
    the script ``source`` was patched from, whose lines tracebacks then show (coder/own_lines.py)."""
    from coder.backend import tuning

    tuning.RAISE_ON_MISS = False  # an INT8 search that misses serves the original model, with a warning
    try:
        return _execute(source, path, args, source if original is None else original)
    finally:
        report = sys.modules.get("coder.backend.report")  # loaded only if a model was accelerated
        if report is not None:
            report.print_closing_lines()


def _execute(source: str, path: str, args: list[str], original: str) -> int:
    code = compile_as_original(source, original, path)
    _show_in_tracebacks(original, path)
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=path, __builtins__=builtins, __cached__=None)
    sys.modules["__main__"] = module
    sys.argv = [path, *args]
    sys.path.insert(0, os.path.dirname(os.path.realpath(path)))  # as python does: the script's folder, links resolved
    try:
        exec(code, module.__dict__)
    except SystemExit as stop:
        return _exit_code(stop.code)
    except KeyboardInterrupt as error:  # Ctrl-C: the traceback Python prints, without coder's frames
        _print_script_traceback(error.with_traceback(interruption.script_frames(error.__traceback__)))
        return interruption.script_interrupted()
    except BaseException as error:  # the script's own failure: print it as Python would
        _print_script_traceback(error)
        return 1
    return 0


def _show_in_tracebacks(source: str, path: str) -> None:
    """Tracebacks quote the script as the user wrote it (the code's line numbers are its own)."""
    linecache.cache[path] = (len(source), None, source.splitlines(True), path)


def _print_script_traceback(error: BaseException) -> None:
    frames = error.__traceback__
    if frames is not None and frames.tb_frame.f_code is _execute.__code__:
        frames = frames.tb_next  # hide this runner's frame
    traceback.print_exception(type(error), error, frames)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
