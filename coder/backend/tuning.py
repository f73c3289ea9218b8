"""Accuracy-controlled INT8: search quantization configs until a user metric stays within the
allowed drop (BigDL-Nano's ``metric``, ``accuracy_criterion``, ``max_trials``, ``timeout``).

The runtimes do the searching with their library's own tuner (``int8.py``: Neural Compressor's
``autotune``; ``openvino.py``: ``nncf.quantize_with_accuracy_control``) or with ``search`` below
(PT2E without VNNI, ONNX Runtime); every trial comes back here through ``Tuning.record``, which
prints its row of the trial table on the script's stderr, judges it and bounds the search. A
search that ends without a config meeting the criterion raises ``AccuracyNotMet``, whose message
lists every trial. The candidates are a ladder: all layers INT8, then the first and last k
quantizable layers kept in fp32 (k = 1, 2, 4), the layers most often sensitive to INT8.

No torch import at module level: ``coder.runner`` sets ``RAISE_ON_MISS`` without loading torch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from coder import settings

RAISE_ON_MISS = True  # False in a patched run (coder/runner.py): the model falls back instead
DEFAULT_CRITERION = {"relative": 0.01, "higher_is_better": True}
EXCLUSION_LADDER = (0, 1, 2, 4)  # first and last k quantizable layers kept in fp32
QUANTIZABLE = ("Conv1d", "Conv2d", "Conv3d", "Linear", "ConvTranspose2d")


class AccuracyNotMet(RuntimeError):
    """No INT8 config met ``accuracy_criterion`` within ``max_trials``/``timeout``; the message
    lists each trial's metric value. Injected code gets a warning and the original model."""

    fallback_kind = "metric"  # wrapper.Fallback's kind when the model falls back on it


@dataclass(frozen=True)
class Criterion:
    """BigDL-Nano's ``{'relative' | 'absolute': x, 'higher_is_better': bool}``, validated."""

    kind: str
    limit: float
    higher_is_better: bool = True

    @classmethod
    def of(cls, criterion: dict | None) -> Criterion:
        criterion = DEFAULT_CRITERION if criterion is None else criterion
        if not isinstance(criterion, dict):
            raise ValueError(f"accuracy_criterion must be a dict such as {DEFAULT_CRITERION}, not {criterion!r}")
        kinds = [key for key in ("relative", "absolute") if key in criterion]
        unknown = set(criterion) - {"relative", "absolute", "higher_is_better"}
        if len(kinds) != 1 or unknown:
            raise ValueError(
                f"accuracy_criterion needs exactly one of 'relative' or 'absolute' (and optionally "
                f"'higher_is_better'), not {criterion!r}"
            )
        limit, better = criterion[kinds[0]], criterion.get("higher_is_better", True)
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit >= 0 or math.isinf(limit):
            raise ValueError(f"accuracy_criterion {kinds[0]!r} must be a number >= 0, not {limit!r}")
        if not isinstance(better, bool):
            raise ValueError(f"accuracy_criterion 'higher_is_better' must be True or False, not {better!r}")
        return cls(kinds[0], float(limit), better)

    def drop(self, baseline: float, value: float) -> float:
        """How much worse ``value`` is than ``baseline`` (negative: better), in the criterion's kind."""
        worse = baseline - value if self.higher_is_better else value - baseline
        if self.kind == "absolute":
            return worse
        return worse / abs(baseline) if baseline else (math.inf if worse > 0 else 0.0)

    def met(self, baseline: float, value: float) -> bool:
        return self.drop(baseline, value) <= self.limit + 1e-12

    def __str__(self) -> str:
        better = "higher" if self.higher_is_better else "lower"
        return f"{self.kind} drop <= {self.limit:g}, {better} is better"


def metric_value(metric, pairs) -> float:
    """``metric`` over ``(output, target)`` pairs: a torchmetrics-style object (update/compute/
    reset, duck-typed) accumulates them; a callable is averaged over the batches."""
    if _accumulates(metric):
        metric.reset()
        for output, target in pairs:
            metric.update(output, target)
        value = metric.compute()
        metric.reset()
        return float(value)
    values = [float(metric(output, target)) for output, target in pairs]
    return sum(values) / len(values)


def _accumulates(metric) -> bool:
    return all(hasattr(metric, name) for name in ("update", "compute", "reset"))


@dataclass
class Trial:
    number: int
    config: str
    value: float
    drop: float
    met: bool

    def describe(self) -> str:
        return f"trial {self.number} ({self.config}): {self.value:.4g}, drop {self.drop:.3g}"


@dataclass
class Tuning:
    """One accuracy-controlled quantization: the metric and its labelled calls, the criterion,
    the bounds, and the trials so far."""

    metric: object
    criterion: Criterion
    calls: list  # (args, kwargs) of each labelled batch
    targets: list
    max_trials: int | None = None
    timeout: float | None = None
    label: str = "int8"
    baseline: float | None = None
    planned: int | None = None  # how many candidates this search has (None: the library decides)
    trials: list[Trial] = field(default_factory=list)
    chosen: list | None = None  # the layers kept in fp32 by the config that met: later builds reuse it
    failure: AccuracyNotMet | None = None
    started: float = 0.0

    def __post_init__(self) -> None:
        if self.max_trials is not None and (
            isinstance(self.max_trials, bool) or not isinstance(self.max_trials, int) or self.max_trials < 1
        ):
            raise ValueError(f"max_trials must be a positive integer, not {self.max_trials!r}")
        if self.timeout is not None and (
            isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or not self.timeout > 0
        ):
            raise ValueError(f"timeout must be a positive number of seconds, not {self.timeout!r}")

    @classmethod
    def fixed(cls, fp32_layers) -> Tuning:
        """No search: the config that keeps ``fp32_layers`` in fp32 (a search's choice, replayed)."""
        if not isinstance(fp32_layers, (list, tuple)) or not all(isinstance(n, str) for n in fp32_layers):
            raise ValueError(f"fp32_layers must be a list of layer names, not {fp32_layers!r}")
        return cls(None, None, [], [], chosen=list(fp32_layers))

    @property
    def searching(self) -> bool:
        return self.chosen is None

    def evaluate(self, run: Callable, indices: list[int] | None = None) -> float:
        """The metric of ``run(args, kwargs) -> output`` over the labelled calls (or those at ``indices``)."""
        import torch

        chosen = range(len(self.calls)) if indices is None else indices
        with torch.no_grad():
            return metric_value(self.metric, ((run(*self.calls[i]), self.targets[i]) for i in chosen))

    def evaluate_each(self, run: Callable, indices: list[int] | None = None) -> tuple[float, list[float]]:
        """The metric over the calls, and the metric of each call (NNCF ranks layers by these)."""
        chosen = list(range(len(self.calls))) if indices is None else indices
        values = [self.evaluate(run, [i]) for i in chosen]
        if _accumulates(self.metric):
            return self.evaluate(run, chosen), values
        return sum(values) / len(values), values

    def start(self, original, planned: int | None) -> None:
        """Score the original model and print the table's head."""
        self.baseline = self.evaluate(lambda args, kwargs: original(*args, **kwargs))
        self.planned = min(planned, self.max_trials or planned) if planned else self.max_trials
        self.started = time.monotonic()
        self.trials.clear()
        table().head(self)

    def record(self, config: str, value: float) -> bool:
        """Judge and print one trial; True when it meets the criterion. Raises AccuracyNotMet
        when it does not and the search may go no further (trials or time used up)."""
        trial = Trial(
            len(self.trials) + 1,
            config,
            value,
            self.criterion.drop(self.baseline, value),
            self.criterion.met(self.baseline, value),
        )
        self.trials.append(trial)
        table().row(trial)
        if trial.met:
            return True
        if self.planned is not None and trial.number >= self.planned:
            raise self.fail(
                f"after {_trials(trial.number)}"
                + (f" (max_trials={self.max_trials})" if self.max_trials == trial.number else "")
            )
        if self.timeout is not None and time.monotonic() - self.started >= self.timeout:
            raise self.fail(f"stopped by timeout={self.timeout:g} s after {_trials(trial.number)}")
        return False

    def fail(self, why: str) -> AccuracyNotMet:
        trials = "; ".join(trial.describe() for trial in self.trials) or "no trial ran"
        self.failure = AccuracyNotMet(
            f"no INT8 configuration met the accuracy criterion ({self.criterion}) {why}: original "
            f"{self.baseline:.4g}; {trials}"
        )
        return self.failure

    def last_met(self) -> bool:
        return bool(self.trials) and self.trials[-1].met


def _trials(count: int) -> str:
    return f"{count} trial{'s' if count != 1 else ''}"


def exclusion_ladder(names: list[str], limit: int | None = None) -> list[tuple[str, list[str]]]:
    """(description, layers kept in fp32) for each rung that still quantizes a layer."""
    rungs = []
    for k in EXCLUSION_LADDER:
        if k and 2 * k >= len(names):
            break
        excluded = names[:k] + names[len(names) - k :] if k else []
        shown = [name.removeprefix("model.") for name in excluded]  # FlatModule's prefix
        rungs.append(("all layers INT8" if not k else "fp32: " + ", ".join(shown), excluded))
    return rungs[:limit] if limit else rungs


def quantizable_layers(module) -> list[str]:
    """Names of the Conv/Linear modules, in definition order (usually the data's order)."""
    return [name for name, child in module.named_modules() if type(child).__name__ in QUANTIZABLE]


def search(tuning: Tuning, original, candidates: list[tuple[str, Callable]], run_of: Callable):
    """coder's own trial loop: build each candidate, score it, stop at the first that meets."""
    tuning.start(original, len(candidates))
    for config, build in candidates:
        runner = build()
        if tuning.record(config, tuning.evaluate(run_of(runner))):
            return runner
    raise tuning.fail(f"after {_trials(len(candidates))}")


def output_spec(request):
    """The structure of the original model's output on the request's sample."""
    import torch

    from coder.backend.flat import flatten_output

    args, kwargs = request.call.rebuild(request.sample)
    with torch.no_grad():
        return flatten_output(request.model(*args, **kwargs))[0]


def flat_runner_call(runner, spec) -> Callable:
    """``run(args, kwargs)`` for a runner of flat tensors, giving the original's output structure."""
    from coder.backend.flat import flatten_call

    def run(args, kwargs):
        return spec.rebuild(list(runner(flatten_call(args, kwargs)[1])))

    return run


class _Table:
    """The trial table, one row per trial as it ends, on the script's real stderr (the
    libraries' own output around it stays held by isolation.py)."""

    WIDTHS = (5, 44, 10, 9, 8)

    def head(self, tuning: Tuning) -> None:
        self._line(f"coder: {tuning.label}: tuning for {tuning.criterion} (original {tuning.baseline:.4g})")
        self._line(self._cells(("trial", "config", "metric", "drop", "verdict")))

    def row(self, trial: Trial) -> None:
        from rich.text import Text

        cells = self._cells(
            (str(trial.number), _short(trial.config, self.WIDTHS[1]), f"{trial.value:.4g}", f"{trial.drop:.3g}", "")
        )
        verdict = Text("meets" if trial.met else "misses", style="green" if trial.met else "red")
        self._line(Text(cells) + verdict)

    def _cells(self, cells) -> str:
        return "  ".join(
            cell.ljust(width) if i < len(cells) - 1 else cell for i, (cell, width) in enumerate(zip(cells, self.WIDTHS))
        )

    def _line(self, text) -> None:
        if settings.current().quiet:
            return
        from coder.backend.isolation import outer_stderr

        with outer_stderr() as console:
            console.print(text)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table() -> _Table:
    return _Table()
