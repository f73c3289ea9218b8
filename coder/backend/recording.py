"""The `-o auto` recorder: every model InferenceOptimizer returns passes through wrap().

Without ``CODER_RECORD`` in the environment wrap() returns the accelerated model untouched.
With it, wrap() returns a proxy that behaves like the accelerated model (attributes, methods,
isinstance) and measures it on the script's own inputs, however often the script calls it:

1. warm-up: the script's calls go through as they are, and the proxy keeps their inputs (up to
   ``CODER_RECORD_INPUTS``). The runtime converts, calibrates (lazy INT8) and checks itself on
   the first of them (``AcceleratedModel.warmup_calls``): their time is the first-call cost.
2. measurement, once the runtime serves steadily and ``CODER_RECORD_CHECKS`` more calls are
   kept (or when the script ends, whichever comes first): the proxy replays the kept inputs. It
   finishes the warm-up if the script ended first, replays each input signature twice untimed,
   runs the last kept inputs through the original model too and records the drift, then times
   replays until ``CODER_RECORD_CALLS`` calls or ``CODER_RECORD_SECONDS`` of them (at least
   MIN_TIMED_CALLS): the median and the spread of those.
3. once every wrapped model is measured the process ends with exit code 0, so a script looping
   over a whole dataset does not run for hours.

Results go to the JSON file named by ``CODER_RECORD``, rewritten as the run goes (a killed run
still leaves its data): per model its figures, the runtime's fallback (kind and reason) and the
drift tolerance of its precision (``coder.backend.parity.TOLERANCE``); the process's peak memory.
"""

from __future__ import annotations

import atexit
import inspect
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

from coder import settings

MIN_TIMED_CALLS = 5
TIMED_METHODS = ("forward", "generate")
FLUSH_SECONDS = 0.25  # how often the file is rewritten while replays are timed (the live display)
WARMUP, MEASURING, DONE = "warm-up", "measuring", "done"
# untimed replays of each input signature before timing: a runtime rebuilds for a new exact
# shape and checks that build on its next call; TorchScript optimises a graph on its 2nd run
SETTLE_REPLAYS = 2


def wrap(accelerated, original):
    path = settings.current().record
    if path is None:
        return accelerated
    return RecordingProxy(accelerated, original, Session.shared(path))


def unwrap(model):
    """The model a proxy stands for (anything else is returned as is)."""
    if type(model) is RecordingProxy:
        return object.__getattribute__(model, "_target")
    return model


class Settings:
    """What the run records: ``CODER_RECORD_*`` (coder/settings.py)."""

    def __init__(self, current: settings.Settings):
        self.calls = current.record_calls
        self.seconds = current.record_seconds
        self.checks = current.record_checks
        self.inputs = current.record_inputs


@dataclass(frozen=True)
class Call:
    """One call of the model as the script made it, to replay."""

    function: object
    method_name: str
    args: tuple
    kwargs: dict

    def __call__(self):
        return self.function(*self.args, **self.kwargs)


class Session:
    """Everything one process records: one entry per wrapped model, one JSON file."""

    _shared: Session | None = None

    def __init__(self, path: str, settings: Settings):
        self.path = path
        self.settings = settings
        self.models: list[ModelRecord] = []
        self.stopped_early = False
        self.flushed_at = 0.0
        self.pid = os.getpid()
        atexit.register(self.measure_the_rest)

    @classmethod
    def shared(cls, path: str) -> Session:
        if cls._shared is None or cls._shared.path != path:
            cls._shared = cls(path, Settings(settings.current()))
        return cls._shared

    def new_model(self, name: str, target, original) -> ModelRecord:
        record = ModelRecord(f"{name}#{len(self.models)}", self.settings, target, original)
        self.models.append(record)
        return record

    def flush(self) -> None:
        data = {
            "models": [m.summary() for m in self.models],
            "stopped_early": self.stopped_early,
            "peak_mib": peak_mib(),
        }
        temporary = f"{self.path}.tmp"
        with open(temporary, "w") as file:
            json.dump(data, file, indent=1)
        os.replace(temporary, self.path)
        self.flushed_at = time.monotonic()

    def flush_soon(self) -> None:
        if time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
            self.flush()

    def after_call(self, record: ModelRecord) -> None:
        if record.phase == WARMUP and record.ready():
            record.measure(self.flush_soon)
        self.flush()
        if all(model.phase == DONE for model in self.models):
            self.stop_early()

    def measure_the_rest(self) -> None:
        """At the end of the script: measure the models it called too few times."""
        if os.getpid() != self.pid:  # a forked worker (DataLoader) ends without measuring
            return
        from coder.backend.context import inference_context

        for record in self.models:
            if record.phase == WARMUP and record.kept:
                with inference_context(record.target):
                    record.measure(self.flush_soon)
        self.flush()

    def stop_early(self) -> None:
        self.stopped_early = True
        self.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def peak_mib() -> float:
    """This process's peak resident memory (Linux reports kibibytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ModelRecord:
    """One wrapped model: the inputs kept, the replays timed, the drift, the runtime's fallback."""

    def __init__(self, name: str, settings: Settings, target, original):
        self.name = name
        self.settings = settings
        self.target = target
        self.original = original
        self.phase = WARMUP
        self.warmup_calls = warmup_calls_of(target)
        self.calls = 0  # the script's own calls
        self.served = 0  # calls the model served: the script's and the replays
        self.kept: list[Call] = []
        self.script_ms: list[float] = []
        self.first_call_ms = converted_before_ms(target)
        self.timed_ms: list[float] = []
        self.drift = Drift(tolerance_of(target))
        self.replay_error: str | None = None

    def script_call(self, call: Call, seconds: float) -> None:
        self.calls += 1
        self.script_ms.append(seconds * 1000)
        self.add_served(seconds)
        if len(self.kept) < self.settings.inputs:
            self.kept.append(call)

    def add_served(self, seconds: float) -> None:
        self.served += 1
        if self.served <= self.warmup_calls:
            self.first_call_ms += seconds * 1000

    def ready(self) -> bool:
        """The runtime serves steadily, and the calls after its warm-up are kept for the checks."""
        return self.calls >= self.warmup_calls + self.settings.checks or len(self.kept) >= self.settings.inputs

    def measure(self, progress) -> None:
        self.phase = MEASURING
        try:
            self.finish_warmup()
            for call in one_per_signature(self.kept) * SETTLE_REPLAYS:
                call()
            self.check_drift(self.kept[-self.settings.checks :])
            self.time_replays(progress)
        except Exception as error:  # the user's model, anything can happen: report, don't crash
            self.replay_error = f"{type(error).__name__}: {error}".splitlines()[0]
        self.phase = DONE

    def finish_warmup(self) -> None:
        """A script that ended before the runtime was ready: replay until it is."""
        index = 0
        while self.served < self.warmup_calls:
            self.add_served(timed(self.kept[index % len(self.kept)]))
            index += 1

    def check_drift(self, calls: list[Call]) -> None:
        for call in calls:
            output = call()
            if self.original is self.target:
                self.drift.add(output, output)
            else:
                self.drift.add(output, run_original(self.original, call))

    def time_replays(self, progress) -> None:
        while not self.enough():
            self.timed_ms.append(timed(self.kept[len(self.timed_ms) % len(self.kept)]) * 1000)
            progress()

    def enough(self) -> bool:
        timed_calls, spent = len(self.timed_ms), sum(self.timed_ms) / 1000
        return timed_calls >= self.settings.calls or (timed_calls >= MIN_TIMED_CALLS and spent >= self.settings.seconds)

    def summary(self) -> dict:
        fallback = getattr(self.target, "fallback", None)
        return {
            "name": self.name,
            "phase": self.phase,
            "calls": self.calls,
            "warmup_calls": self.warmup_calls,
            "first_call_s": self.first_call_ms / 1000 if self.served else None,
            "replayed_inputs": len(self.kept),
            "timed_calls": len(self.timed_ms),
            "latency_ms": statistics.median(self.timed_ms) if self.timed_ms else None,
            "spread_ms": spread(self.timed_ms),
            "quartiles_ms": quartiles(self.timed_ms),
            "timed_ms": self.timed_ms,
            "untimed_ms": self.script_ms,
            "fallback": getattr(fallback, "reason", None),
            "fallback_kind": getattr(fallback, "kind", None),
            "fallback_module": getattr(fallback, "module", None),
            "replay_error": self.replay_error,
            **self.drift.summary(),
        }


def converted_before_ms(target) -> float:
    """A conversion done before the first call (``quantize`` with calib_data builds at once, a
    compile included) is part of the first-call cost too."""
    from coder.backend.report import Story

    story = getattr(target, "__dict__", {}).get("story")
    return (story.converted_seconds + story.loaded_seconds) * 1000 if isinstance(story, Story) else 0.0


def one_per_signature(calls: list[Call]) -> list[Call]:
    """The first call of each input signature (the shapes and dtypes of its tensors)."""
    import torch.utils._pytree as pytree

    first: dict[tuple, Call] = {}
    for call in calls:
        leaves = pytree.tree_leaves((call.args, call.kwargs))
        signature = tuple((tuple(leaf.shape), leaf.dtype) for leaf in leaves if hasattr(leaf, "shape"))
        first.setdefault((call.method_name, signature), call)
    return list(first.values())


def timed(call: Call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def quartiles(samples: list[float]) -> tuple[float, float] | None:
    """The first and third quartiles: the middle half of the timed calls lies between them."""
    if len(samples) < 2:
        return None
    first, _, third = statistics.quantiles(samples, n=4, method="inclusive")
    return first, third


def spread(samples: list[float]) -> float | None:
    """The interquartile range."""
    middle = quartiles(samples)
    return middle[1] - middle[0] if middle else None


def warmup_calls_of(target) -> int:
    """Calls before the model serves steadily: the runtime's own count, else the first call."""
    from coder.backend.wrapper import AcceleratedModel

    if isinstance(target, AcceleratedModel) and target.fallback is None:
        return target.warmup_calls
    return 1


def tolerance_of(target) -> float:
    from coder.backend.parity import TOLERANCE

    recipe = getattr(target, "recipe", None)
    return TOLERANCE[getattr(recipe, "precision", "fp32")]


class Drift:
    """Output drift against the original model, accumulated over the checked calls."""

    def __init__(self, tolerance: float):
        self.tolerance = tolerance
        self.checked_calls = 0
        self.max_rel_err: float | None = None
        self.top1_agree = 0
        self.top1_total = 0
        self.error: str | None = None

    def add(self, accelerated_output, original_output) -> None:
        ours, theirs = float_tensors(accelerated_output), float_tensors(original_output)
        self.checked_calls += 1
        if len(ours) != len(theirs):
            self.max_rel_err = float("inf")
            self.error = f"output structure differs: {len(ours)} vs {len(theirs)} float tensors"
        pairs = list(zip(ours, theirs))
        for index, (ours, theirs) in enumerate(pairs):
            error = relative_error(ours, theirs)
            self.max_rel_err = error if self.max_rel_err is None else max(self.max_rel_err, error)
            if index == 0 and is_classifier_like(theirs):
                self.add_top1(ours, theirs)

    def add_top1(self, ours, theirs) -> None:
        agree = ours.reshape(theirs.shape).argmax(-1) == theirs.argmax(-1)
        self.top1_agree += int(agree.sum())
        self.top1_total += agree.numel()

    def summary(self) -> dict:
        top1 = self.top1_agree / self.top1_total if self.top1_total else None
        return {
            "checked_calls": self.checked_calls,
            "max_rel_err": self.max_rel_err,
            "tolerance": self.tolerance,
            "top1_agreement": top1,
            "drift_error": self.error,
        }


def float_tensors(output) -> list:
    """The floating-point tensors of a model output, in a stable order."""
    import torch

    if isinstance(output, torch.Tensor):
        return [output.detach().float()] if output.is_floating_point() else []
    if isinstance(output, Mapping):
        return [t for key in output.keys() for t in float_tensors(output[key])]
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in float_tensors(item)]
    return []


def relative_error(ours, theirs) -> float:
    """The runtime's own parity measure (relative L2), so both judge drift the same way."""
    from coder.backend.parity import relative_error as parity_error

    return parity_error(ours.reshape(theirs.shape) if ours.numel() == theirs.numel() else ours, theirs)


def is_classifier_like(tensor) -> bool:
    return tensor.dim() == 2 and tensor.shape[-1] > 1


class RecordingProxy:
    """Stands for the accelerated model; keeps the script's calls, measures them (ModelRecord)."""

    def __init__(self, accelerated, original, session: Session):
        object.__setattr__(self, "_target", accelerated)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_record", session.new_model(type(original).__name__, accelerated, original))

    @property
    def __class__(self):
        return type(object.__getattribute__(self, "_target"))

    def __call__(self, *args, **kwargs):
        target = object.__getattribute__(self, "_target")
        return self._recorded_call(target, "__call__", args, kwargs)

    def __getattr__(self, name):
        target = object.__getattribute__(self, "_target")
        value = getattr(target, name)
        if name in TIMED_METHODS and callable(value):
            return lambda *args, **kwargs: self._recorded_call(value, name, args, kwargs)
        if inspect.ismethod(value) and value.__self__ is target:
            return self._returning_proxy(value)
        return value  # attributes and submodules as they are

    def __getitem__(self, key):
        return object.__getattribute__(self, "_target")[key]

    def __len__(self):
        return len(object.__getattribute__(self, "_target"))

    def __iter__(self):
        return iter(object.__getattribute__(self, "_target"))

    def __setattr__(self, name, value):
        setattr(object.__getattribute__(self, "_target"), name, value)

    def __delattr__(self, name):
        delattr(object.__getattribute__(self, "_target"), name)

    def __repr__(self):
        return repr(object.__getattribute__(self, "_target"))

    def __dir__(self):
        return dir(object.__getattribute__(self, "_target"))

    def _returning_proxy(self, method):
        """`model = model.eval()` must keep the proxy, not the model behind it."""
        target = object.__getattribute__(self, "_target")

        def call(*args, **kwargs):
            result = method(*args, **kwargs)
            return self if result is target else result

        return call

    def _recorded_call(self, function, method_name, args, kwargs):
        record = object.__getattribute__(self, "_record")
        start = time.perf_counter()
        output = function(*args, **kwargs)
        record.script_call(Call(function, method_name, args, kwargs), time.perf_counter() - start)
        object.__getattribute__(self, "_session").after_call(record)
        return output


def run_original(original, call: Call):
    """The reference output: fp32, without the BF16 autocast get_context may have switched on."""
    import torch

    function = original if call.method_name == "__call__" else getattr(original, call.method_name)
    with torch.no_grad(), torch.autocast("cpu", enabled=False):
        return function(*call.args, **call.kwargs)
