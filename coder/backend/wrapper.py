"""The accelerated model: builds its runtime on demand, checks it, and falls back safely.

On a call the inputs are flattened to tensors; the recipe's shape policy decides whether an
already built runtime fits. A new runtime comes from the conversion cache or is built
(``building.py``); it runs on the same call as the original model and is kept only when its
output has the original's structure and values within the precision's tolerance
(``parity.py``). Later calls are checked the same way (``_Runtime.needs_check``): the first
``VERIFY_CALLS``, each new input shape until two have passed, and, when the trace warned that it
may not hold for other inputs, every call whose number is a power of two. A runtime that passes
is then timed against the original (``speed.py``) and kept only if it is faster. Any failure
warns once (one line) and from then on the original model serves every call; the cache
remembers it.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import torch

from coder.backend import accuracy, report, speed
from coder.backend.budget import Budget, budget_for
from coder.backend.building import Builder, Obtained, Remembered, Slot, reason_for
from coder.backend.cache import entry as cache_entry
from coder.backend.cache import root as cache_root
from coder.backend.calibration import ScriptCalibration, calib_calls_default, sample_count, too_few_note
from coder.backend.context import runtime_threads, torch_threads
from coder.backend.cpu import this_cpu
from coder.backend.flat import OutputSpec, flatten_call, flatten_output
from coder.backend.isolation import isolated
from coder.backend.libraries import MissingLibrary
from coder.backend.messages import debug, error_text, not_used, warn
from coder.backend.parity import TOLERANCE, difference
from coder.backend.precision import prepare_inputs
from coder.backend.recipe import BuildRequest, Recipe, Runner

VERIFY_CALLS = 2  # calls of each new runtime compared with the original model
UNCERTAIN_VERIFY_CALLS = 4  # the same when its trace warned it may not hold for other inputs
TRUSTED_SHAPES = 2  # input shapes a runtime must pass before a new shape is no longer checked
MAX_RUNTIMES = 8  # distinct input signatures built before new ones go to the original model
ATTRIBUTE_REBUILDS = 3  # attribute changes by the script that rebuild; past them, the original serves


@dataclass
class _Runtime:
    runner: Runner
    output: OutputSpec
    slot: Slot | None
    uncertain: bool  # the trace warned it may not hold for other inputs
    calibrated_on: int = 0  # INT8 calibrated on the script's calls: how many
    built_here: bool = True  # False when loaded from the cache
    shapes_passed: set = field(default_factory=set)
    calls: int = 1

    def __post_init__(self) -> None:
        self.checks_left = (UNCERTAIN_VERIFY_CALLS if self.uncertain else VERIFY_CALLS) - 1  # this call was one

    def needs_check(self, tensors: list[torch.Tensor]) -> bool:
        self.calls += 1
        if self.checks_left > 0:
            return True
        if _shapes(tensors) not in self.shapes_passed and len(self.shapes_passed) < TRUSTED_SHAPES:
            return True
        return self.uncertain and self.calls & (self.calls - 1) == 0

    def passed(self, tensors: list[torch.Tensor]) -> None:
        self.checks_left = max(0, self.checks_left - 1)
        self.shapes_passed.add(_shapes(tensors))


@dataclass(frozen=True)
class Fallback:
    """Why the original model serves: ``kind`` is unsupported (this CPU), missing-library
    (``module`` is not installed), drift, max-drop (``--max-drop``) or metric (the output
    check), slower (never slower), attributes (the script keeps changing the model's attributes)
    or error (the conversion or the runtime raised)."""

    kind: str
    reason: str
    module: str | None = None


def _same(old, new) -> bool:
    plain = (bool, int, float, str, bytes, tuple, frozenset, type(None))
    return old is new or (type(old) is type(new) and isinstance(new, plain) and old == new)


def _shapes(tensors: list[torch.Tensor]) -> tuple:
    return tuple(tuple(t.shape) for t in tensors)


class AcceleratedModel(torch.nn.Module):
    """Wraps ``original``; behaves like it, attributes included, but runs ``recipe``."""

    def __init__(
        self,
        original: torch.nn.Module,
        recipe: Recipe,
        *,
        thread_num: int | None = None,
        calibration: list | None = None,
        calib_calls: int | None = None,
        never_slower: bool | None = None,
        tuning=None,
    ) -> None:
        super().__init__()
        self.original = original
        self.recipe = recipe
        self.thread_num = thread_num
        self.calib_calls = calib_calls or calib_calls_default()
        self.script_calibration = ScriptCalibration(self.calib_calls) if recipe.options.needs_calibration else None
        self.calibration = calibration or []
        self.never_slower = speed.enabled(never_slower)
        self.criterion = accuracy.criterion()  # --max-drop, else the precision's tolerance
        self._retune_failure = ""  # what the safer config measured, when it broke --max-drop too
        self.tuning = tuning  # tuning.Tuning: builds search configs against a metric, uncached, no budget
        self.fallback: Fallback | None = None
        self.speed: speed.Comparison | None = None  # the last never-slower comparison
        self.story = report.Story(recipe.label)  # what the closing line says about this model
        self._builder = Builder(recipe, self.never_slower)
        self._attributes_set = 0  # by the script after this point: each one rebuilds the runtimes
        self._runtimes: dict[tuple, _Runtime] = {}

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("original"), name)

    def __setattr__(self, name: str, value) -> None:
        """An attribute the script sets (``model.conf = 0.5``, a limit forward reads) is the
        original's; the runtimes built so far may have baked its old value in: they are built
        again (or found in the cache, whose key covers the attributes) on the next calls."""
        if not self._is_the_originals(name):
            super().__setattr__(name, value)
            return
        unchanged = _same(getattr(self.original, name), value)
        setattr(self.original, name, value)
        if unchanged:  # the same value set again (``model.conf = args.conf`` in a loop)
            return
        self._attributes_set += 1
        if self._attributes_set > ATTRIBUTE_REBUILDS:
            self.fall_back(
                "the script keeps changing the model's attributes between calls, and a "
                "converted graph holds their values",
                kind="attributes",
            )
        self._runtimes.clear()

    def _is_the_originals(self, name: str) -> bool:
        """``name`` is an attribute of the original's, not one of this wrapper's own."""
        own = self.__dict__
        return (
            "_runtimes" in own
            and name not in own
            and not hasattr(type(self), name)
            and name != "original"
            and hasattr(own["_modules"]["original"], name)
        )

    def __repr__(self) -> str:
        state = f"fallback: {self.fallback_reason}" if self.fallback_reason else f"{len(self._runtimes)} built"
        return f"AcceleratedModel({self.recipe.label}, {state})\n  original: {type(self.original).__name__}"

    @property
    def calibration(self) -> list:
        """INT8 calibration batches: calib_data's, or those kept from the script's own calls."""
        lazy = self.script_calibration
        return lazy.batches if lazy is not None else self._given_calibration

    @calibration.setter
    def calibration(self, batches: list) -> None:
        self._given_calibration = list(batches)
        if self._given_calibration:
            self.script_calibration = None

    @property
    def fallback_reason(self) -> str | None:
        return self.fallback.reason if self.fallback else None

    @property
    def accelerated(self) -> bool:
        """True once a runtime is built and nothing has fallen back."""
        return self.fallback_reason is None and bool(self._runtimes)

    @property
    def warmup_calls(self) -> int:
        """Calls (with one input signature) before the runtime serves alone: the verified calls,
        and for INT8 calibrated on the script's calls, the calls up to a recalibration."""
        lazy_int8 = self.script_calibration is not None
        return VERIFY_CALLS + (self.calib_calls - 1 if lazy_int8 else 0)

    def forward(self, *args, **kwargs):
        output = self._served(args, kwargs)
        self.story.calls += 1  # a call that returned (one interrupted by Ctrl-C did not)
        return output

    def _served(self, args, kwargs):
        """This call's output: the runtime's (counted in the story), or the original model's."""
        if self.fallback_reason is not None:
            return self.original(*args, **kwargs)
        call, tensors = flatten_call(args, kwargs)
        key = self.recipe.key(call, tensors)
        runtime = self._runtimes.get(key)
        if runtime is None:
            return self._first_call(key, call, tensors, args, kwargs)
        if self._recalibration_due(runtime, tensors):
            return self._first_call(key, call, tensors, args, kwargs, replacing=runtime)
        if runtime.needs_check(tensors):
            return self._checked_call(runtime, tensors, args, kwargs)
        try:
            return self._accelerated(runtime.output, self._run(runtime.runner, tensors))
        except Exception as error:  # a runtime failing later must not end the script either
            self.fall_back(error_text(error), error=error, slot=runtime.slot)
            return self.original(*args, **kwargs)

    def served(self) -> list[tuple[Runner, OutputSpec]]:
        """The runtimes serving so far, with their output structure (``save`` to .pt2 reads it)."""
        return [(runtime.runner, runtime.output) for runtime in self._runtimes.values()]

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

    def _first_call(self, key, call, tensors, args, kwargs, replacing: _Runtime | None = None):
        if len(self._runtimes) >= MAX_RUNTIMES and replacing is None:
            return self.original(*args, **kwargs)
        reference, original_seconds = self._timed_original(args, kwargs)
        if self.script_calibration is not None and replacing is None:
            self.script_calibration.offer(tensors)
        slot = self._slot(call, tensors)
        try:
            output, _ = flatten_output(reference)
            request = self._request(call, tensors)
            obtained = self._builder.obtain(request, None if replacing else slot, self._budget(original_seconds))
            if replacing is None:
                obtained = self._retuned(obtained, request, reference, original_seconds)
        except Exception as error:  # any conversion failure must leave the user's script running
            self._failed_to_obtain(error, original_seconds, replacing)
            return reference
        finally:
            if self.script_calibration is not None:
                self.script_calibration.done_with_call()
        self.story.obtained(obtained)
        held = slot.of(obtained) if slot is not None else None
        runtime = _Runtime(
            obtained.runner,
            output,
            held,
            obtained.uncertain,
            len(request.calibration),
            not obtained.loaded,
            shapes_passed={_shapes(tensors)},
        )
        if not self._trusted(runtime, obtained, reference, tensors, args, kwargs, replacing):
            return reference
        if replacing is not None:
            self._store_recalibrated(runtime, obtained, request)
        self._runtimes[key] = runtime
        self._say_if_calibrated_on_few(obtained, slot)
        return self._accelerated(output, obtained.produced)

    def _accelerated(self, spec: OutputSpec, produced: list):
        output = spec.rebuild(produced)
        self.story.accelerated_calls += 1
        return output

    def _store_recalibrated(self, runtime: _Runtime, obtained: Obtained, request: BuildRequest) -> None:
        written = self._builder.replace(runtime.slot, obtained, request)
        if written is not None:
            self.story.stored = True
            runtime.slot = dataclasses.replace(runtime.slot, written=written, loaded=False)

    def _budget(self, original_seconds: float):
        """The conversion's time budget; a tuning search is bounded by its own ``timeout``."""
        if self.tuning is not None:
            return Budget(None, original_seconds)
        return budget_for(original_seconds, self.never_slower)

    def _timed_original(self, args, kwargs) -> tuple[object, float]:
        started = time.perf_counter()
        reference = self.original(*args, **kwargs)
        return reference, time.perf_counter() - started

    def _request(self, call, tensors) -> BuildRequest:
        sample = prepare_inputs(tensors, self.recipe.channels_last)
        lazy = self.script_calibration
        calibration = lazy.matching(tensors, self.recipe.shapes) if lazy is not None else self._given_calibration
        return BuildRequest(
            self.original, call, sample, list(calibration), self.thread_num, self.recipe.options, self.tuning
        )

    def _failed_to_obtain(self, error: Exception, original_seconds: float, replacing: _Runtime | None) -> None:
        if replacing is not None:  # a recalibration that fails keeps the runtime that serves
            debug(error)
            return
        allowed = self._budget(original_seconds)
        self.fall_back(str(error) if isinstance(error, Remembered) else reason_for(error, allowed), error=error)

    def _trusted(
        self, runtime: _Runtime, obtained: Obtained, reference, tensors, args, kwargs, replacing: _Runtime | None
    ) -> bool:
        """Parity on this call, then never slower; a failed recalibration keeps the old runtime."""
        mismatch, kind = self._mismatch(obtained.produced, reference), self._drift_kind
        if mismatch is not None:
            mismatch += self._retune_failure
        if mismatch is None and self.never_slower:
            mismatch, kind = self._slower_than_original(runtime, obtained, tensors, args, kwargs), "slower"
        if mismatch is None:
            return True
        if replacing is None:
            self.fall_back(mismatch, slot=runtime.slot, kind=kind)
        return False

    @property
    def _drift_kind(self) -> str:
        return "drift" if self.criterion is None else "max-drop"

    def _mismatch(self, produced: list, reference, spec=None) -> str | None:
        return difference(produced, reference, TOLERANCE[self.recipe.precision], spec, self.criterion)

    def _retuned(self, obtained: Obtained, request: BuildRequest, reference, original_seconds: float) -> Obtained:
        """Under --max-drop, a runtime that breaks it on this call is built once more in its
        recipe's safer config (not cached); that one serves if it meets the criterion."""
        safer = self.recipe.safer() if self.criterion is not None else None
        first = self._mismatch(obtained.produced, reference) if safer is not None else None
        if first is None:
            return obtained
        try:
            retuned = Builder(safer, self.never_slower).obtain(request, None, self._budget(original_seconds))
        except Exception as error:  # the default's own measurement then decides
            debug(error)
            return obtained
        second = self._mismatch(retuned.produced, reference)
        if second is not None:
            self._retune_failure = f"; re-tuned ({safer.runtimes[0].safer_config}): {second}"
            return obtained
        warn(
            f"coder: {self.recipe.label}: re-tuned for --max-drop {self.criterion.limit:g}, "
            f"{safer.runtimes[0].safer_config} (the default config: {first})",
            stacklevel=5,
        )
        return retuned

    def _slower_than_original(self, runtime: _Runtime, obtained: Obtained, tensors, args, kwargs) -> str | None:
        """Why the runtime is not used (not faster than the original on this call), or None. The
        comparison is read from the cache when it holds one."""
        threads = runtime_threads(self.thread_num)
        stored = obtained.meta.get("speed")
        try:
            if stored and stored.get("threads") == threads:
                self.speed = speed.Comparison(stored["original_ms"], stored["accelerated_ms"], stored["pairs"])
            else:
                self.speed = self._compared(runtime, tensors, args, kwargs)
                self._builder.note(runtime.slot, speed={**vars(self.speed), "threads": threads})
        except Exception as error:  # e.g. a runtime that runs once and then fails
            debug(error)
            return error_text(error)
        self.story.comparison = self.speed
        return None if self.speed.faster else self._slower_reason(self.speed)

    def _compared(self, runtime: _Runtime, tensors, args, kwargs) -> speed.Comparison:
        def original():
            with torch.no_grad():
                return self.original(*args, **kwargs)

        with isolated(None):  # coder's extra calls: whatever the model prints is not the script's
            return speed.compare(original, lambda: self._run(runtime.runner, tensors))

    def _slower_reason(self, comparison: speed.Comparison) -> str:
        verdict = self.recipe.verdict(this_cpu())
        why = f"; {verdict.reason}" if verdict.kind != "native" else ""
        return f"not faster than the original here: {comparison.describe()}{why}"

    def _slot(self, call, tensors) -> Slot | None:
        """The cache entry for this call's runtime (None when the cache is off)."""
        from coder.backend import fingerprint

        if self.tuning is not None or cache_root() is None:  # tuned: depends on the metric and its data
            return None
        try:  # the model as it is now: the script may have changed an attribute since its first call
            model = fingerprint.model_fingerprint(self.original)
            calibrated = ()
            if self.recipe.options.needs_calibration:
                calibrated = fingerprint.calibration_signature(self._given_calibration, self.script_calibration is None)
            key = fingerprint.entry_key(self.recipe, model, call, tensors, calibrated, self.criterion)
        except Exception as error:  # a model that cannot be fingerprinted is simply not cached
            debug(error)
            return None
        entry = cache_entry(key)
        return Slot(entry, self._about(tensors)) if entry is not None else None

    def _about(self, tensors) -> dict:
        cls = type(self.original)
        inputs = ", ".join(f"{str(t.dtype).removeprefix('torch.')}{list(t.shape)}" for t in tensors[:4])
        return {
            "label": self.recipe.label,
            "model": f"{cls.__module__}.{cls.__qualname__}",
            "inputs": inputs + (", ..." if len(tensors) > 4 else ""),
        }

    def _recalibration_due(self, runtime: _Runtime, tensors) -> bool:
        """INT8 built here on the script's first call(s): at the k-th call, when new inputs came
        soon enough to be kept, it is quantized again on all of them."""
        lazy = self.script_calibration
        if lazy is None or not runtime.built_here or lazy.calls >= lazy.wanted_calls:
            return False
        lazy.offer(tensors)
        return lazy.at_last_call and len(lazy.matching(tensors, self.recipe.shapes)) > runtime.calibrated_on

    def _say_if_calibrated_on_few(self, obtained: Obtained, slot: Slot | None) -> None:
        """Once (per model, and per cache entry): INT8 calibrated on too few of the script's samples."""
        lazy = self.script_calibration
        if lazy is None or self.story.calibration_note or obtained.meta.get("noted"):
            return
        stored = obtained.meta.get("calibration", {}).get("samples") if obtained.loaded else None
        note = too_few_note(sample_count(lazy.batches) if stored is None else stored)
        if note:
            self.story.calibration_note = note
            self._builder.note(slot, noted=True)
            warn(f"coder: {self.recipe.label}: {note}", stacklevel=5)

    def _checked_call(self, runtime: _Runtime, tensors, args, kwargs):
        reference = self.original(*args, **kwargs)
        try:
            produced = self._run(runtime.runner, tensors)
        except Exception as error:  # e.g. a graph that cannot take this batch size
            self.fall_back(error_text(error), error=error, slot=runtime.slot)
            return reference
        mismatch = self._mismatch(produced, reference, runtime.output)
        if mismatch is not None:
            self.fall_back(mismatch, slot=runtime.slot, kind=self._drift_kind)
            return reference
        runtime.passed(tensors)
        return self._accelerated(runtime.output, produced)

    def fall_back(
        self,
        reason: str,
        on_this_cpu: bool = False,
        error: BaseException | None = None,
        slot: Slot | None = None,
        kind: str | None = None,
    ) -> None:
        """Serve the original model from now on, after one warning naming ``reason``; the cache
        (``slot``) remembers it, with its ``kind`` (Fallback; building.Builder.remember)."""
        if self.fallback is not None:
            return
        missing = error.module if isinstance(error, MissingLibrary) else None
        kind = kind or _kind_of(error, on_this_cpu, missing)
        self.fallback = Fallback(kind, reason, missing)
        self.story.fallback_reason = reason
        self._runtimes.clear()
        if error is not None:
            debug(error)
        self._builder.remember(slot, reason, kind)
        warn(not_used(self.recipe.label, reason, on_this_cpu), stacklevel=3)


def _kind_of(error: BaseException | None, on_this_cpu: bool, missing: str | None) -> str:
    if isinstance(error, Remembered):
        return error.kind  # what an earlier run found
    if hasattr(error, "fallback_kind"):
        return error.fallback_kind  # tuning.AccuracyNotMet: "metric"
    return "unsupported" if on_this_cpu else "missing-library" if missing else "error"
