"""Ctrl-C while coder converts a model reaches the script as it would without coder.

A KeyboardInterrupt raised while a library's C++ code is calling back into Python is lost or
fatal: OpenVINO's PyTorch frontend turned it into a conversion error (the model fell back, the
script went on and exited 0) or ended the process in std::terminate (exit 134, its message held
with the libraries' output). So while coder converts, loads or calibrates (``isolation.isolated``)
SIGINT goes through ``guarded``: the interruption is raised at once unless native code is
calling back into Python (a frame of ``CALLING_NATIVE`` on the stack); then it waits until
that native call has returned. It is raised again every ``RETRY_SECONDS`` while a library swallows
it, and an error a library raised in its place becomes the KeyboardInterrupt again, so the
conversion cache never remembers a Ctrl-C as a failure. A script's own SIGINT handler is called
in place of the KeyboardInterrupt, at the same safe points.

The runner then prints the script's traceback (``script_frames``: coder's frames left out) and
``python -m coder`` ends as ``python script.py`` means to (``exit_like_python``): killed by
SIGINT once the exit handlers ran, which a shell reports as exit status 130.

No torch import: the runner uses this module.
"""

from __future__ import annotations

import _thread
import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType, TracebackType

from coder import settings

RETRY_SECONDS = 0.2
# modules that call native code which calls back into Python: while one of them is on the stack,
# an exception raised in Python may have to cross C++ frames (OpenVINO's PyTorch frontend: its
# C++ reads the model through the Python decoder; the trace before it is plain Python)
CALLING_NATIVE = ("openvino.frontend.frontend", "openvino.tools.ovc.moc_frontend.pipeline")
EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a process killed by Ctrl-C
_BACKEND = os.path.dirname(os.path.abspath(__file__))
_MODULE_CALL = os.path.join("torch", "nn", "modules", "module.py")  # nn.Module.__call__'s frames


def in_native_call(frame: FrameType | None) -> bool:
    """Is ``frame``, or one of its callers, in native code that calls back into Python?"""
    while frame is not None:
        if frame.f_globals.get("__name__", "") in CALLING_NATIVE:
            return True
        frame = frame.f_back
    return False


def thread_in_native_call(thread_id: int) -> bool:
    return in_native_call(sys._current_frames().get(thread_id))


def _interruption_in_flight() -> bool:
    """Is a KeyboardInterrupt (or an error raised in its place) being handled right now, in an
    ``except`` or ``finally`` on its way out? Raising another there would break the cleanup."""
    error = sys.exc_info()[1]
    while error is not None:
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__cause__ or error.__context__
    return False


class _Guard:
    """SIGINT while the block runs: delivered at safe points, and again while swallowed."""

    def __init__(self, previous) -> None:
        self.previous = previous  # the script's handler; Python's default raises KeyboardInterrupt
        self.pending = False  # a Ctrl-C not yet delivered, or delivered but not seen leaving the block
        self.closing = False
        self.lock = threading.Lock()
        self.ticker: threading.Thread | None = None

    @property
    def raises(self) -> bool:
        return self.previous is signal.default_int_handler

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.pending = True
        if self.closing:  # delivered once the block is left (see guarded)
            return
        if self.raises and self.ticker is None:
            self.ticker = threading.Thread(target=self._tick, name="coder-interruption", daemon=True)
            self.ticker.start()
        if not in_native_call(frame) and not _interruption_in_flight():
            self.deliver(signum, frame)

    def deliver(self, signum: int = signal.SIGINT, frame: FrameType | None = None) -> None:
        if self.raises:
            raise KeyboardInterrupt
        self.pending = False  # the script's own handler decides what a Ctrl-C does, once
        self.previous(signum, frame)

    def _tick(self) -> None:
        """Signal the main thread again until the KeyboardInterrupt leaves the block."""
        while True:
            time.sleep(RETRY_SECONDS)
            with self.lock:
                if self.closing:
                    return
                _thread.interrupt_main(signal.SIGINT)

    def close(self) -> None:
        with self.lock:
            self.closing = True
        if self.ticker is not None:
            self.ticker.join()
            ctypes.pythonapi.PyErr_CheckSignals()  # a signal the ticker sent runs now, not later


_active: _Guard | None = None


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """Run the block with SIGINT delivered only where it cannot be lost (see the module's doc).
    Nothing changes outside the main thread, or when SIGINT is not handled by Python."""
    global _active
    previous = signal.getsignal(signal.SIGINT)
    if _active is not None or not callable(previous) or threading.current_thread() is not threading.main_thread():
        yield
        return
    guard = _active = _Guard(previous)
    signal.signal(signal.SIGINT, guard.on_signal)
    try:
        yield
    except KeyboardInterrupt:
        guard.pending = False
        raise
    except BaseException:
        if not (guard.pending and guard.raises):
            raise
        # else a library raised its own error in place of the interruption: raised below
    finally:
        guard.close()
        signal.signal(signal.SIGINT, previous)
        _active = None
    if guard.pending:  # swallowed by a library that carried on, held for the script's handler, or late
        guard.deliver()


_script_interrupted = False


def script_interrupted() -> int:
    """The runner saw the script end in a KeyboardInterrupt: the exit code to return."""
    global _script_interrupted
    _script_interrupted = True
    return EXIT_INTERRUPTED


def exit_like_python() -> None:
    """Registered with ``atexit`` first, so it runs last: after a script ended in a
    KeyboardInterrupt, the process kills itself with SIGINT once every other exit handler ran,
    as ``python script.py`` does (a shell then reports status 130, and stops a loop running it).
    CPython's own way (a flag checked after finalization) is lost when an exit handler runs
    code, as after ``import torchvision``: such scripts exited 1."""
    if not _script_interrupted:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    os.kill(os.getpid(), signal.SIGINT)


def script_frames(frames: TracebackType | None) -> TracebackType | None:
    """A traceback without coder's frames: cut where the script's call entered coder's backend
    (and the ``nn.Module.__call__`` frames that led there), so it ends at the script's line.
    ``CODER_DEBUG=1`` keeps them all."""
    if settings.current().debug:
        return frames
    kept: list[TracebackType] = []
    while frames is not None and not frames.tb_frame.f_code.co_filename.startswith(_BACKEND):
        kept.append(frames)
        frames = frames.tb_next
    if frames is None:
        return kept[0] if kept else None
    while kept and kept[-1].tb_frame.f_code.co_filename.endswith(_MODULE_CALL):
        kept.pop()
    if not kept:
        return None
    kept[-1].tb_next = None
    return kept[0]
