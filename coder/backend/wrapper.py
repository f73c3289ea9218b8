"""The accelerated model: builds its runtime on demand, checks it, and falls back safely.

On a call the inputs are flattened to tensors; the recipe's shape policy decides whether an
already built runtime fits. A new build runs the original model on the same call, compares,
and keeps the runtime only within the precision's tolerance. The first ``VERIFY_CALLS`` calls
of every runtime are compared the same way, so a trace that baked in one branch of
data-dependent control flow is caught on the next input. A runtime that passes is then timed
against the original on the same inputs (``speed.py``) and kept only if it is faster. Any
failure warns once (one line) and from then on the original model serves every call.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import torch

from coder.backend import speed
from coder.backend.context import torch_threads
from coder.backend.cpu import this_cpu
from coder.backend.flat import OutputSpec, flatten_call, flatten_output
from coder.backend.libraries import MissingLibrary, require
from coder.backend.messages import debug, error_text, not_used, warn
from coder.backend.parity import TOLERANCE, worst_error
from coder.backend.precision import prepare_inputs
from coder.backend.recipe import BuildRequest, Recipe, Runner

VERIFY_CALLS = 2  # calls of each new runtime compared with the original model
MAX_RUNTIMES = 8  # distinct input signatures built before new ones go to the original model
DEFAULT_CALIB_CALLS = 4  # real calls an INT8 model calibrates on when calib_data is None


def calib_calls_default() -> int:
    """``CODER_CALIB_CALLS`` from the environment, else DEFAULT_CALIB_CALLS."""
    return max(1, int(os.environ.get("CODER_CALIB_CALLS", DEFAULT_CALIB_CALLS)))


@dataclass(frozen=True)
class Fallback:
    """Why the original model serves: ``kind`` is unsupported (this CPU), missing-library
    (``module`` is not installed), drift or metric (the output check), slower (never slower)
    or error (the conversion or the runtime raised)."""

    kind: str
    reason: str
    module: str | None = None


@dataclass
class _Runtime:
    runner: Runner
    output: OutputSpec
    checks_left: int
    shapes_seen: set = field(default_factory=set)  # a new batch size is checked once too

    def needs_check(self, tensors: list[torch.Tensor]) -> bool:
        shapes = tuple(tuple(t.shape) for t in tensors)
        unseen = shapes not in self.shapes_seen
        self.shapes_seen.add(shapes)
        return unseen or self.checks_left > 0


class AcceleratedModel(torch.nn.Module):
    """Wraps ``original``; behaves like it, attributes included, but runs ``recipe``."""

    def __init__(self, original: torch.nn.Module, recipe: Recipe, *, thread_num: int | None = None,
                 calibration: list | None = None, calib_calls: int | None = None,
                 never_slower: bool | None = None) -> None:
        super().__init__()
        self.original = original
        self.recipe = recipe
        self.thread_num = thread_num
        self.calibration = list(calibration or [])
        self.calib_calls = calib_calls or calib_calls_default()
        self.never_slower = speed.enabled(never_slower)
        self.fallback: Fallback | None = None
        self.speed: speed.Comparison | None = None  # the last never-slower comparison
        self._runtimes: dict[tuple, _Runtime] = {}

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("original"), name)

    def __repr__(self) -> str:
        state = f"fallback: {self.fallback_reason}" if self.fallback_reason else f"{len(self._runtimes)} built"
        return f"AcceleratedModel({self.recipe.label}, {state})\n  original: {type(self.original).__name__}"

    @property
    def fallback_reason(self) -> str | None:
        return self.fallback.reason if self.fallback else None

    @property
    def accelerated(self) -> bool:
        """True once a runtime is built and nothing has fallen back."""
        return self.fallback_reason is None and bool(self._runtimes)

    @property
    def warmup_calls(self) -> int:
        """Calls (with one input signature) before the runtime serves alone: lazy INT8
        calibration, then the verified calls. A timer should leave these out."""
        calibrating = self.recipe.precision == "int8" and len(self.calibration) < self.calib_calls
        return VERIFY_CALLS + (self.calib_calls - 1 if calibrating else 0)

    def forward(self, *args, **kwargs):
        if self.fallback_reason is not None:
            return self.original(*args, **kwargs)
        call, tensors = flatten_call(args, kwargs)
        key = self.recipe.key(call, tensors)
        runtime = self._runtimes.get(key)
        if runtime is None:
            return self._first_call(key, call, tensors, args, kwargs)
        if runtime.needs_check(tensors):
            return self._checked_call(runtime, tensors, args, kwargs)
        try:
            return runtime.output.rebuild(self._run(runtime.runner, tensors))
        except Exception as error:  # a runtime failing later must not end the script either
            self.fall_back(error_text(error), error=error)
            return self.original(*args, **kwargs)

    def forget_runtimes(self) -> None:
        """Drop built runtimes (e.g. in a forked worker, whose copies would share thread pools);
        the next calls rebuild and re-check them."""
        self._runtimes.clear()

    def build_now(self, args: tuple, kwargs: dict) -> None:
        """Build for this sample call right away (``input_sample`` given), still checked."""
        call, tensors = flatten_call(args, kwargs)
        self._first_call(self.recipe.key(call, tensors), call, tensors, args, kwargs)

    def _run(self, runner: Runner, tensors: list[torch.Tensor]) -> list:
        threads = self.thread_num if self.recipe.torch_threads else None
        with torch.no_grad(), torch_threads(threads):
            return runner(prepare_inputs(tensors, self.recipe.channels_last))

    def _first_call(self, key, call, tensors, args, kwargs):
        if len(self._runtimes) >= MAX_RUNTIMES:
            return self.original(*args, **kwargs)
        if self._still_calibrating(tensors):
            return self.original(*args, **kwargs)
        reference = self.original(*args, **kwargs)
        try:
            output, expected = flatten_output(reference)
            sample = prepare_inputs(tensors, self.recipe.channels_last)
            runner = self._build(BuildRequest(self.original, call, sample, self.calibration, self.thread_num,
                                              self.recipe.options))
            produced = self._run(runner, tensors)
        except Exception as error:  # any conversion failure must leave the user's script running
            self.fall_back(error_text(error), error=error)
            return reference
        if not self._accept_or_fall_back(produced, expected):
            return reference
        runtime = _Runtime(runner, output, VERIFY_CALLS - 1, {tuple(tuple(t.shape) for t in tensors)})
        if self.never_slower and not self._faster_than_original(runtime, tensors, args, kwargs):
            return reference
        self._runtimes[key] = runtime
        return output.rebuild(produced)

    def _faster_than_original(self, runtime: _Runtime, tensors, args, kwargs) -> bool:
        """Time the runtime against the original on this call; fall back unless it is faster."""
        def original():
            with torch.no_grad():
                return self.original(*args, **kwargs)

        try:
            self.speed = speed.compare(original, lambda: runtime.output.rebuild(self._run(runtime.runner, tensors)))
        except Exception as error:  # e.g. a runtime that runs once and then fails
            self.fall_back(error_text(error), error=error)
            return False
        if not self.speed.faster:
            self.fall_back(self._slower_reason(self.speed), kind="slower")
        return self.speed.faster

    def _slower_reason(self, comparison: speed.Comparison) -> str:
        verdict = self.recipe.verdict(this_cpu())
        why = f"; {verdict.reason}" if verdict.kind != "native" else ""
        return f"not faster than the original here: {comparison.describe()}{why}"

    def _build(self, request: BuildRequest) -> Runner:
        require(*self.recipe.requires)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # exporters' tracer and deprecation chatter
            return self.recipe.build(request)

    def _still_calibrating(self, tensors: list[torch.Tensor]) -> bool:
        if self.recipe.precision != "int8" or len(self.calibration) >= self.calib_calls:
            return False
        self.calibration.append([t.detach().clone() for t in tensors])
        return len(self.calibration) < self.calib_calls

    def _checked_call(self, runtime: _Runtime, tensors, args, kwargs):
        reference = self.original(*args, **kwargs)
        _, expected = flatten_output(reference)
        try:
            produced = self._run(runtime.runner, tensors)
        except Exception as error:  # e.g. a graph that cannot take this batch size
            self.fall_back(error_text(error), error=error)
            return reference
        runtime.checks_left = max(0, runtime.checks_left - 1)
        return runtime.output.rebuild(produced) if self._accept_or_fall_back(produced, expected) else reference

    def _accept_or_fall_back(self, produced: list, expected: list[torch.Tensor]) -> bool:
        """True when ``produced`` is within tolerance of ``expected``; otherwise fall back."""
        got = [t if isinstance(t, torch.Tensor) else torch.from_numpy(t) for t in produced]
        error = worst_error(got, expected)
        tolerance = TOLERANCE[self.recipe.precision]
        if error > tolerance:
            self.fall_back(f"output differs from the original model (relative error {error:.3g} > {tolerance:g})",
                           kind="drift")
        return error <= tolerance

    def fall_back(self, reason: str, on_this_cpu: bool = False, error: BaseException | None = None,
                  kind: str | None = None) -> None:
        """Serve the original model from now on, after one warning naming ``reason``."""
        if self.fallback is not None:
            return
        missing = error.module if isinstance(error, MissingLibrary) else None
        kind = kind or ("unsupported" if on_this_cpu else "missing-library" if missing else "error")
        self.fallback = Fallback(kind, reason, missing)
        self._runtimes.clear()
        if error is not None:
            debug(error)
        warn(not_used(self.recipe.label, reason, on_this_cpu), stacklevel=3)
