"""What happened to one method: the Result and Status that `-o auto` and
``InferenceOptimizer.optimize()`` share, the speedups, the ties within noise, the best.

No torch and no rich here: the results are plain data, rendered by ``coder.auto.report``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields

ORIGINAL = "original"
# two latencies differ by less than the noise when the middle halves of their timed calls
# overlap (or, without quartiles, when within half their summed interquartile ranges), and
# never by less than this share (the never-slower check's margin, speed.py)
MIN_NOISE = 0.03


class Status(str, enum.Enum):
    """In the order rows are sorted; the value is the text shown and written to JSON."""

    SUCCESSFUL = "successful"
    SLOWER = "slower than the original here"
    DRIFT_TOO_LARGE = "drift too large"
    OVER_MAX_DROP = "over --max-drop"
    FAIL_TO_CONVERT = "fail to convert"
    TIMEOUT = "timeout"
    FAIL_TO_FORWARD = "fail to forward"
    NO_MODEL_CALL = "no model call"
    UNSUPPORTED = "unsupported on this CPU"
    LACK_DEPENDENCY = "lack dependency"
    INTERRUPTED = "interrupted"
    NOT_RUN = "not run"

    def __str__(self) -> str:
        return self.value


# the runtime's fallback kinds (coder.backend.wrapper.Fallback) and the status each gives
FALLBACK_STATUS = {
    "unsupported": Status.UNSUPPORTED,
    "missing-library": Status.LACK_DEPENDENCY,
    "drift": Status.DRIFT_TOO_LARGE,
    "metric": Status.DRIFT_TOO_LARGE,
    "slower": Status.SLOWER,
    "error": Status.FAIL_TO_CONVERT,
    "max-drop": Status.OVER_MAX_DROP,
}


@dataclass
class Result:
    method: str
    status: Status = Status.NOT_RUN
    reason: str | None = None
    latency_ms: float | None = None  # median of the timed calls (several models: the sum)
    spread_ms: float | None = None  # interquartile range of the timed calls
    quartiles_ms: tuple[float, float] | None = None  # first and third quartiles of the timed calls
    speedup: float | None = None
    first_call_s: float | None = None  # the calls before the runtime served steadily
    peak_mib: float | None = None
    max_rel_err: float | None = None
    tolerance: float | None = None
    top1_agreement: float | None = None
    timed_calls: int = 0
    seconds: float | None = None  # the whole run
    fell_back: bool = False  # the runtime served the original model: its figures are the original's
    ties: list[str] = field(default_factory=list)  # rows within the measured noise of this one
    models: list[dict] = field(default_factory=list)
    optimized: object = field(default=None, repr=False, compare=False)  # optimize(): the model itself

    @property
    def label(self) -> str:
        """The status with its cause in brackets."""
        return f"{self.status} ({self.reason})" if self.reason else str(self.status)

    @property
    def ran(self) -> bool:
        return self.latency_ms is not None

    @property
    def served(self) -> bool:
        """Timed while the transform itself served the calls."""
        return self.ran and not self.fell_back and self.status in (Status.SUCCESSFUL, Status.SLOWER)

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "optimized"}
        return {**data, "status": self.status.value}


def sort_key(result: Result) -> tuple:
    latency = result.latency_ms if result.latency_ms is not None else float("inf")
    return list(Status).index(result.status), latency, result.method


def baseline(results: list[Result]) -> Result | None:
    return next((r for r in results if r.method == ORIGINAL and r.status == Status.SUCCESSFUL and r.ran), None)


def add_speedups(results: list[Result]) -> None:
    """Speedups of the rows whose transform served the calls; a successful row not faster than
    the original becomes SLOWER."""
    original = baseline(results)
    for result in results:
        result.speedup = original.latency_ms / result.latency_ms if original and result.served else None
        not_faster = result.speedup is not None and result.speedup <= 1
        if not_faster and result.method != ORIGINAL and result.status == Status.SUCCESSFUL:
            result.status = Status.SLOWER
            result.reason = f"measured here: {result.latency_ms:.3g} ms vs {original.latency_ms:.3g} ms per call"


def within_noise(one: Result, other: Result) -> bool:
    fast, slow = sorted((one, other), key=lambda result: result.latency_ms)
    floor = MIN_NOISE * fast.latency_ms
    if fast.quartiles_ms and slow.quartiles_ms:  # skewed timings (a busy machine): not symmetric
        return fast.quartiles_ms[1] + floor >= slow.quartiles_ms[0]
    noise = ((one.spread_ms or 0) + (other.spread_ms or 0)) / 2
    return slow.latency_ms - fast.latency_ms <= max(noise, floor)


def mark_ties(results: list[Result]) -> None:
    """Each timed row that served its calls lists the others within the measured noise of it."""
    timed = [r for r in results if r.served]
    for result in timed:
        result.ties = [other.method for other in timed if other is not result and within_noise(result, other)]


def best(results: list[Result]) -> Result | None:
    """The fastest successful transform, if it beats the original (or no original ran)."""
    candidates = [r for r in results if r.status == Status.SUCCESSFUL and r.method != ORIGINAL and r.served]
    if not candidates:
        return None
    fastest = min(candidates, key=lambda r: r.latency_ms)
    return fastest if fastest.speedup is None or fastest.speedup > 1.0 else None


def finish(results: list[Result]) -> list[Result]:
    """Speedups, statuses and ties settled; the rows in the order they are shown."""
    add_speedups(results)
    mark_ties(results)
    return sorted(results, key=sort_key)
