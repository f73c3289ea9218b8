"""A conversion that cannot pay off is stopped: each build gets a time budget.

The budget is what the model's own calls would cost: ``BUDGET_CALLS`` calls of the original
model (its time per call is measured on the call that triggers the build), and never less than
``BUDGET_FLOOR_SECONDS``, because a converted model is cached and later runs load it in a
fraction of that time. Past the budget the build is interrupted (``ConversionStopped``), the
model says so in one line, and the cache remembers it so the next run does not try again.

``CODER_CONVERSION_BUDGET`` sets the budget in seconds, or ``off``; without it, the budget
follows ``never_slower`` (both are timing decisions, and the test suite turns them off).

The interruption is an exception raised in the converting thread at its next Python
instruction; a library busy in one long C++ call is stopped when that call returns, and one whose
C++ code is calling back into Python when that call-back has returned (``interruption``).
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from coder import settings
from coder.backend.interruption import RETRY_SECONDS, thread_in_native_call

BUDGET_CALLS = 20  # a conversion may cost as much as this many calls of the original model...
BUDGET_FLOOR_SECONDS = 60.0  # ...and at least this: converted once, it is loaded from the cache after


class ConversionStopped(Exception):
    """Raised in the converting thread when its budget is spent."""


@dataclass(frozen=True)
class Budget:
    seconds: float | None  # None: no limit
    original_seconds: float  # the original model's time for the call that triggered the build

    def stopped_reason(self) -> str:
        return (
            f"conversion stopped after {self.seconds:.3g} s, its time budget ({BUDGET_CALLS} calls of the "
            f"original at {self.original_seconds * 1000:.3g} ms each, at least {BUDGET_FLOOR_SECONDS:.0f} s; "
            f"CODER_CONVERSION_BUDGET=SECONDS sets another)"
        )


def budget_for(original_seconds: float, timing_on: bool) -> Budget:
    """How long a build may take: CODER_CONVERSION_BUDGET (seconds, or off), else the rule
    above when timing decisions are on (``never_slower``), else no limit."""
    setting = settings.current().conversion_budget
    if setting == math.inf:
        return Budget(None, original_seconds)
    if setting is not None:
        return Budget(setting, original_seconds)
    if not timing_on:
        return Budget(None, original_seconds)
    return Budget(max(BUDGET_FLOOR_SECONDS, BUDGET_CALLS * original_seconds), original_seconds)


class _Watchdog:
    """Raises ConversionStopped in ``thread_id`` once, unless disarmed first; never while native
    code is calling back into Python there (``interruption``: the exception would be lost in
    the library, or end the process), but as soon as control is back in Python."""

    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id
        self.lock = threading.Lock()
        self.armed = True
        self.fired = False
        self.disarmed = threading.Event()

    def watch(self, seconds: float) -> None:
        if self.disarmed.wait(max(seconds, 0.0)):
            return
        while not self.fire():
            if self.disarmed.wait(RETRY_SECONDS):
                return

    def fire(self) -> bool:
        """Raise it now if the thread is at a safe point; True once done (or disarmed)."""
        with self.lock:
            if not self.armed:
                return True
            if thread_in_native_call(self.thread_id):
                return False
            self.fired = True
            _set_async_exception(self.thread_id, ConversionStopped)
            return True

    def disarm(self) -> None:
        with self.lock:
            self.armed = False
            self.disarmed.set()
            if self.fired:  # set but perhaps not raised yet: it must not escape the block
                _set_async_exception(self.thread_id, None)


def _set_async_exception(thread_id: int, exception) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception is not None else ctypes.c_void_p()
    )


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Run the block; past ``seconds`` it raises ConversionStopped (None: no limit)."""
    if seconds is None:
        yield
        return
    watchdog = _Watchdog(threading.get_ident())
    threading.Thread(target=watchdog.watch, args=(seconds,), name="coder-budget", daemon=True).start()
    try:
        yield
        watchdog.disarm()
        if watchdog.fired:  # a library that caught the interruption and carried on another way
            raise ConversionStopped()
    except ConversionStopped:
        raise
    except Exception as error:
        if watchdog.fired:  # a library that caught the interruption and raised its own error
            raise ConversionStopped() from error
        raise
    finally:
        watchdog.disarm()
