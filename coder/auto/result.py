"""One row of the `-o auto` table: what happened to one method, and how to order rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SUCCESSFUL = "successful"
SLOWER = "slower than the original here"
UNSUPPORTED = "unsupported on this CPU"
DRIFT_TOO_LARGE = "drift too large"
FAIL_TO_CONVERT = "fail to convert"
FAIL_TO_FORWARD = "fail to forward"
NO_MODEL_CALL = "no model call"
TIMEOUT = "timeout"
LACK_DEPENDENCY = "lack dependency"
INTERRUPTED = "interrupted"
NOT_RUN = "not run"
STATUS_ORDER = (SUCCESSFUL, SLOWER, DRIFT_TOO_LARGE, FAIL_TO_CONVERT, TIMEOUT, FAIL_TO_FORWARD,
                NO_MODEL_CALL, UNSUPPORTED, LACK_DEPENDENCY, INTERRUPTED, NOT_RUN)

ORIGINAL = "original"
# largest relative L2 error accepted per precision: the runtime's own tolerance
# (coder/backend/parity.py TOLERANCE), applied here to more calls than the runtime checks
DRIFT_LIMITS = {"fp32": 1e-3, "bf16": 5e-2, "int8": 0.25}


@dataclass
class Result:
    method: str
    status: str = NOT_RUN
    reason: str | None = None
    latency_ms: float | None = None
    speedup: float | None = None
    max_rel_err: float | None = None
    top1_agreement: float | None = None
    timed_calls: int = 0
    seconds: float | None = None
    models: list[dict] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The status as the table shows it, with its cause in brackets."""
        return f"{self.status} ({self.reason})" if self.reason else self.status

    @property
    def ran(self) -> bool:
        return self.latency_ms is not None

    def to_json(self) -> dict:
        return asdict(self)


def sort_key(result: Result) -> tuple:
    latency = result.latency_ms if result.latency_ms is not None else float("inf")
    return STATUS_ORDER.index(result.status), latency, result.method


MEASURED_SLOWER = "measured here: not faster than the original"


def add_speedups(results: list[Result]) -> None:
    """Speedups of the rows whose transform really served the calls (a fallback row timed the
    original model); a successful row not faster than the original becomes SLOWER."""
    baseline = next((r for r in results if r.method == ORIGINAL and r.status == SUCCESSFUL), None)
    for result in results:
        served = result.status == SUCCESSFUL or result.reason == MEASURED_SLOWER
        result.speedup = baseline.latency_ms / result.latency_ms if baseline and served and result.ran else None
        slower = result.speedup is not None and result.speedup <= 1.0
        if slower and result.method != ORIGINAL and result.status == SUCCESSFUL:
            result.status, result.reason = SLOWER, MEASURED_SLOWER


def best(results: list[Result]) -> Result | None:
    """The fastest successful transform, if it beats the original (or no original ran)."""
    candidates = [r for r in results if r.status == SUCCESSFUL and r.method != ORIGINAL and r.ran]
    if not candidates:
        return None
    fastest = min(candidates, key=lambda r: r.latency_ms)
    return fastest if fastest.speedup is None or fastest.speedup > 1.0 else None
