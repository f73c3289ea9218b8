"""The `-o auto` recorder: every model InferenceOptimizer returns passes through wrap().

Without ``CODER_RECORD`` in the environment wrap() returns the accelerated model untouched.
With it, wrap() returns a proxy that behaves like the accelerated model (attributes, methods,
isinstance) and records each call's latency. The first calls are warm-up, left out of the
timing (the runtime builds, calibrates and checks itself on them); the first calls after the
warm-up also run the original model on the same inputs, after the timed call, and record the
drift. Results go to the JSON file named by ``CODER_RECORD``, rewritten after every call so a
killed run still leaves its data. After ``CODER_RECORD_CALLS`` timed calls (or
``CODER_RECORD_SECONDS`` of timed calls, with at least ``MIN_TIMED_CALLS``) the process ends
early with exit code 0.

Environment: CODER_RECORD (JSON path), CODER_RECORD_CALLS (timed calls, default 20),
CODER_RECORD_WARMUP (untimed first calls, default 3), CODER_RECORD_CHECKS (calls compared with
the original, default 3), CODER_RECORD_SECONDS (default 20).
"""

from __future__ import annotations

import inspect
import json
import os
import statistics
import sys
import time
from collections.abc import Mapping

MIN_TIMED_CALLS = 5
TIMED_METHODS = ("forward", "generate")
# attribute names the runtime may use to say it serves the original model instead
FALLBACK_ATTRIBUTES = ("fallback_reason", "_fallback_reason")


def wrap(accelerated, original):
    path = os.environ.get("CODER_RECORD")
    if not path:
        return accelerated
    return RecordingProxy(accelerated, original, Session.shared(path))


def unwrap(model):
    """The model a proxy stands for (anything else is returned as is)."""
    if type(model) is RecordingProxy:
        return object.__getattribute__(model, "_target")
    return model


class Settings:
    def __init__(self, environ: Mapping[str, str]):
        self.calls = int(environ.get("CODER_RECORD_CALLS", 20))
        self.warmup = int(environ.get("CODER_RECORD_WARMUP", 3))
        self.checks = int(environ.get("CODER_RECORD_CHECKS", 3))
        self.seconds = float(environ.get("CODER_RECORD_SECONDS", 20))


class Session:
    """Everything one process records: one entry per wrapped model, one JSON file."""

    _shared: Session | None = None

    def __init__(self, path: str, settings: Settings):
        self.path = path
        self.settings = settings
        self.models: list[ModelRecord] = []
        self.stopped_early = False

    @classmethod
    def shared(cls, path: str) -> Session:
        if cls._shared is None or cls._shared.path != path:
            cls._shared = cls(path, Settings(os.environ))
        return cls._shared

    def new_model(self, name: str) -> ModelRecord:
        record = ModelRecord(f"{name}#{len(self.models)}", self.settings)
        self.models.append(record)
        return record

    def flush(self) -> None:
        data = {"models": [m.summary() for m in self.models], "stopped_early": self.stopped_early}
        temporary = f"{self.path}.tmp"
        with open(temporary, "w") as file:
            json.dump(data, file, indent=1)
        os.replace(temporary, self.path)

    def after_call(self, record: ModelRecord) -> None:
        self.flush()
        if record.enough():
            self.stop_early()

    def stop_early(self) -> None:
        self.stopped_early = True
        self.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


class ModelRecord:
    """Latencies and drift of one wrapped model."""

    def __init__(self, name: str, settings: Settings):
        self.name = name
        self.settings = settings
        self.calls = 0
        self.untimed_ms: list[float] = []
        self.timed_ms: list[float] = []
        self.drift = Drift()
        self.fallback: str | None = None

    @property
    def next_is_check(self) -> bool:
        """The first calls after the warm-up, once the runtime serves steadily, are compared."""
        warmup = self.settings.warmup
        return warmup <= self.calls < warmup + self.settings.checks

    def add_latency(self, seconds: float) -> None:
        self.calls += 1
        target = self.timed_ms if self.calls > self.settings.warmup else self.untimed_ms
        target.append(seconds * 1000)

    def enough(self) -> bool:
        timed = len(self.timed_ms)
        spent = sum(self.timed_ms) / 1000
        return timed >= self.settings.calls or (timed >= MIN_TIMED_CALLS and spent >= self.settings.seconds)

    def latency_ms(self) -> float | None:
        # a script with too few calls for warm-up still gets a figure, the first call left out
        samples = self.timed_ms or self.untimed_ms[1:] or self.untimed_ms
        return statistics.median(samples) if samples else None

    def summary(self) -> dict:
        return {"name": self.name, "calls": self.calls, "timed_calls": len(self.timed_ms),
                "latency_ms": self.latency_ms(), "timed_ms": self.timed_ms,
                "untimed_ms": self.untimed_ms, "fallback": self.fallback, **self.drift.summary()}


class Drift:
    """Output drift against the original model, accumulated over the checked calls."""

    def __init__(self):
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
        return {"checked_calls": self.checked_calls, "max_rel_err": self.max_rel_err,
                "top1_agreement": top1, "drift_error": self.error}


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
    """Stands for the accelerated model; times its calls, compares them with the original."""

    def __init__(self, accelerated, original, session: Session):
        object.__setattr__(self, "_target", accelerated)
        object.__setattr__(self, "_original", original)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_record", session.new_model(type(original).__name__))

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
        check = record.next_is_check
        start = time.perf_counter()
        output = function(*args, **kwargs)
        record.add_latency(time.perf_counter() - start)
        record.fallback = fallback_reason(object.__getattribute__(self, "_target"))
        if check:
            self._check_drift(method_name, output, args, kwargs)
        object.__getattribute__(self, "_session").after_call(record)
        return output

    def _check_drift(self, method_name, output, args, kwargs) -> None:
        record = object.__getattribute__(self, "_record")
        original = object.__getattribute__(self, "_original")
        if original is object.__getattribute__(self, "_target"):
            record.drift.add(output, output)
            return
        try:
            record.drift.add(output, run_original(original, method_name, args, kwargs))
        except Exception as error:  # the user's model, anything can happen: report, don't crash
            record.drift.error = f"{type(error).__name__}: {error}".splitlines()[0]


def run_original(original, method_name, args, kwargs):
    """The reference output: fp32, without the BF16 autocast get_context may have switched on."""
    import torch

    function = original if method_name == "__call__" else getattr(original, method_name)
    with torch.no_grad(), torch.autocast("cpu", enabled=False):
        return function(*args, **kwargs)


def fallback_reason(model) -> str | None:
    for name in FALLBACK_ATTRIBUTES:
        reason = getattr(model, name, None)
        if reason:
            return str(reason)
    return None
