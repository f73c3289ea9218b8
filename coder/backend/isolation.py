"""What coder does inside a script's process leaves the script's own state alone.

Conversion, calibration and coder's extra calls of the original model run inside ``isolated``:
- the libraries' output is held back: NNCF's progress bars, torch's "No CUDA runtime is found",
  exporters' logs, C++ prints alike (file descriptors 1 and 2, and ``sys.stdout``/``sys.stderr``),
  so the script's stdout has only its own output and stderr only coder's one-line messages;
  ``CODER_DEBUG=1`` shows what was held when the block fails;
- the random number generators (torch, ``random``, numpy) are restored: NNCF draws from
  ``random`` and Neural Compressor from torch's generator, which changed what a script drew next;
- threads started in the block are confined to the script's thread count (see ``confined_to``);
- autograd's mode is restored, whatever happened inside;
- a Ctrl-C is raised only where no library can lose it (``interruption.guarded``).

No torch import here: ``libraries.load`` uses ``held_output`` before torch is loaded.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import sys
import tempfile
from collections.abc import Iterator

from coder import settings
from coder.backend.interruption import guarded


def debugging() -> bool:
    return settings.current().debug


@contextlib.contextmanager
def held_output() -> Iterator[None]:
    """Hold everything written to stdout and stderr in the block; shown on stderr only when
    the block fails and CODER_DEBUG is set."""
    _flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    _outer_stderr_fds.append(saved[2])
    with tempfile.TemporaryFile(mode="w+b") as held, _python_streams_to(held):
        for fd in saved:
            os.dup2(held.fileno(), fd)
        try:
            yield
        except BaseException:
            _outer_stderr_fds.pop()
            _restore(saved)
            if debugging():
                held.seek(0)
                os.write(2, held.read())
            raise
        finally:
            if saved:
                _outer_stderr_fds.pop()
            _restore(saved)


_outer_stderr_fds: list[int] = []  # the stderr each held_output block replaced, outermost first


@contextlib.contextmanager
def outer_stderr():
    """A rich Console on the script's own stderr, also inside ``held_output`` (what coder means
    to show while a library's output is held: the tuning table)."""
    from rich.console import Console

    from coder import console

    if not _outer_stderr_fds:
        yield console.stderr()
        return
    with os.fdopen(os.dup(_outer_stderr_fds[0]), "w") as stream:
        shown = Console(file=stream, highlight=False, emoji=False, markup=False, soft_wrap=True)
        if not shown.is_terminal and "COLUMNS" not in os.environ:
            shown.width = console.LOG_WIDTH
        yield shown


@contextlib.contextmanager
def _python_streams_to(held) -> Iterator[None]:
    """``sys.stdout``/``sys.stderr`` into ``held`` too: they may not write to fds 1 and 2 (a
    notebook, pytest's capture, a script that replaced them)."""
    stream = io.TextIOWrapper(os.fdopen(os.dup(held.fileno()), "wb"), write_through=True)
    with stream, contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        yield


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # a closed or odd stream must not stop us
            pass


def _restore(saved: dict[int, int]) -> None:
    _flush()
    for fd, copy in list(saved.items()):
        os.dup2(copy, fd)
        os.close(copy)
        del saved[fd]


@contextlib.contextmanager
def kept_random_state() -> Iterator[None]:
    """Restore torch's, Python's and numpy's generators after the block."""
    torch, numpy = sys.modules.get("torch"), sys.modules.get("numpy")
    python_state = random.getstate()
    torch_state = torch.get_rng_state() if torch else None
    numpy_state = numpy.random.get_state() if numpy else None
    try:
        yield
    finally:
        random.setstate(python_state)
        if torch_state is not None:
            torch.set_rng_state(torch_state)
        if numpy_state is not None:
            numpy.random.set_state(numpy_state)


@contextlib.contextmanager
def confined_to(threads: int | None) -> Iterator[None]:
    """Confine the calling thread, and every thread started in the block, to ``threads`` CPUs.

    Libraries size their own pools at first use and ignore OMP_NUM_THREADS: OpenVINO's TBB
    arena and NNCF's statistics runs took every core of a script run with one thread, and ONNX
    Runtime's calibration session does the same. A thread inherits its creator's CPU mask, and
    TBB sizes its arena by that mask, so the pools made here stay within the script's count.
    """
    mask = _cpu_mask()
    if not threads or mask is None or threads >= len(mask):
        yield
        return
    os.sched_setaffinity(0, sorted(mask)[:threads])
    try:
        yield
    finally:
        os.sched_setaffinity(0, mask)


def _cpu_mask() -> set[int] | None:
    try:
        return os.sched_getaffinity(0)
    except (AttributeError, OSError):  # not Linux
        return None


@contextlib.contextmanager
def _grad_mode_kept() -> Iterator[None]:
    torch = sys.modules.get("torch")
    enabled = torch.is_grad_enabled() if torch else None
    try:
        yield
    finally:
        if torch is not None:
            torch.set_grad_enabled(enabled)


@contextlib.contextmanager
def isolated(threads: int | None) -> Iterator[None]:
    """Everything above: coder's work leaves no trace in the script's output or state."""
    with guarded(), held_output(), kept_random_state(), _grad_mode_kept(), confined_to(threads):
        yield
