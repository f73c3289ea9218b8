"""Run one method as `python -m coder -o METHOD SCRIPT ARGS` in its own process, and classify it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from coder.auto.result import (
    DRIFT_LIMITS, DRIFT_TOO_LARGE, FAIL_TO_CONVERT, FAIL_TO_FORWARD, INTERRUPTED, LACK_DEPENDENCY,
    NO_MODEL_CALL,
    ORIGINAL, SLOWER, SUCCESSFUL, TIMEOUT, UNSUPPORTED, Result,
)

POLL_SECONDS = 0.25
ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*")
# the runtime's one-line warning when it serves the original model instead of the accelerated one
FALLBACK_LINE = re.compile(r"coder: \S+ not used(?P<cpu> on this CPU)? \((?P<reason>.*)\): running the original model")
# coder.backend.libraries.MissingLibrary's message, as a fallback reason
MISSING_LIBRARY = re.compile(r"^(?P<module>[\w.]+) is not installed: ")
# coder.backend.wrapper's fallback reason when its parity check fails
RUNTIME_DRIFT = "output differs from the original model"
# its reason when the never-slower check timed the runtime slower than the original
RUNTIME_SLOWER = "not faster than the original"
# runtime calls before it serves steadily: one build call and one more checked call (wrapper.py's
# VERIFY_CALLS = 2), one more for TorchScript's profiling; INT8 first calibrates on CALIB_CALLS
STEADY_AFTER = 3
CALIB_CALLS = 4


@dataclass
class Trial:
    """One method's run: its command, environment and output files."""

    method: str
    script: str
    script_args: list[str]
    workdir: Path
    calls: int
    threads: str

    @property
    def record_path(self) -> Path:
        return self.workdir / f"{self.method}.record.json"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "coder", "-o", self.method, self.script, *self.script_args]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(CODER_RECORD=str(self.record_path), CODER_RECORD_CALLS=str(self.calls),
                   CODER_RECORD_WARMUP=str(warmup_calls(self.method)),
                   CODER_CALIB_CALLS=str(CALIB_CALLS),
                   OMP_NUM_THREADS=self.threads, MKL_NUM_THREADS=self.threads)
        return env

    def output(self, stream: str) -> str:
        path = self.workdir / f"{self.method}.{stream}"
        return path.read_text(errors="replace") if path.exists() else ""

    def record(self) -> dict | None:
        try:
            return json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return None


def start(trial: Trial) -> subprocess.Popen:
    """Its own session: a Ctrl-C at the terminal reaches coder, which then stops the run."""
    trial.record_path.unlink(missing_ok=True)
    with open(trial.workdir / f"{trial.method}.stdout", "wb") as out, \
            open(trial.workdir / f"{trial.method}.stderr", "wb") as err:
        return subprocess.Popen(trial.command(), env=trial.environment(), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """End the run and anything it started (DataLoader workers) by its process group."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def run(trial: Trial, timeout: float, on_tick=None) -> Result:
    """Run one trial to its end, its time limit, or a KeyboardInterrupt (re-raised after cleanup)."""
    began = time.monotonic()
    process = start(trial)
    try:
        while process.poll() is None:
            elapsed = time.monotonic() - began
            if elapsed > timeout:
                stop(process)
                return classify(trial, None, elapsed, timed_out=True)
            if on_tick:
                on_tick(trial, elapsed)
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        stop(process)
        raise
    return classify(trial, process.returncode, time.monotonic() - began)


def interrupted(trial: Trial) -> Result:
    """What a run stopped by Ctrl-C had recorded so far."""
    result = measured(trial.method, trial.record(), None)
    result.status, result.reason = INTERRUPTED, None
    return result


def classify(trial: Trial, returncode: int | None, elapsed: float, timed_out=False) -> Result:
    result = measured(trial.method, trial.record(), elapsed)
    status, reason = status_of(trial, returncode, result, timed_out)
    result.status, result.reason = status, reason
    return result


def measured(method: str, record: dict | None, elapsed: float | None) -> Result:
    """The figures of a run, from the recorder's file: every model's latency added up."""
    models = (record or {}).get("models", [])
    latencies = [m["latency_ms"] for m in models if m.get("latency_ms") is not None]
    errors = [m["max_rel_err"] for m in models if m.get("max_rel_err") is not None]
    top1 = next((m["top1_agreement"] for m in models if m.get("top1_agreement") is not None), None)
    return Result(method, latency_ms=sum(latencies) if latencies else None,
                  max_rel_err=max(errors) if errors else None, top1_agreement=top1,
                  timed_calls=sum(m.get("timed_calls", 0) for m in models), seconds=elapsed,
                  models=models)


def status_of(trial: Trial, returncode, result: Result, timed_out: bool) -> tuple[str, str | None]:
    if timed_out:
        return TIMEOUT, None
    if returncode != 0:
        return FAIL_TO_FORWARD, error_line(trial.output("stderr"), returncode)
    fallback = fallback_of(result.models, trial.output("stderr"))
    if fallback:
        return fallback_status(fallback)
    if not result.ran:
        return NO_MODEL_CALL, "the script ended without calling a model"
    limit = drift_limit(trial.method)
    if result.max_rel_err is not None and result.max_rel_err > limit:
        return DRIFT_TOO_LARGE, f"max rel err {result.max_rel_err:.2g} > {limit:g}"
    if result.timed_calls == 0:
        return SUCCESSFUL, f"{sum(m['calls'] for m in result.models)} calls: latency includes warm-up"
    return SUCCESSFUL, None


def fallback_status(reason: str) -> tuple[str, str]:
    """The runtime served the original model: because a library is missing, because its own
    check found the output drifted, or because the conversion failed."""
    missing = MISSING_LIBRARY.match(reason)
    if missing:
        return LACK_DEPENDENCY, missing["module"]
    if reason.startswith(RUNTIME_DRIFT):
        return DRIFT_TOO_LARGE, f"runtime check: {reason}"
    if reason.startswith(RUNTIME_SLOWER):
        return SLOWER, f"runtime check: {reason}"
    return FAIL_TO_CONVERT, reason


def fallback_of(models: list[dict], stderr: str) -> str | None:
    reasons = [m["fallback"] for m in models if m.get("fallback")]
    if reasons:
        return reasons[0]
    found = [FALLBACK_LINE.search(line) for line in stderr.splitlines()]
    return next((match["reason"].strip() for match in found if match), None)


def error_line(stderr: str, returncode: int) -> str:
    """The exception line of a traceback, else the last line written, else the exit code."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if ERROR_LINE.match(line)]
    if errors:
        return errors[-1]
    return lines[-1] if lines else f"exit code {returncode}"


def precision_of(method: str) -> str:
    if method == ORIGINAL:
        return "fp32"
    import transforms

    return transforms.get(method).kwargs.get("precision", "fp32")


def drift_limit(method: str) -> float:
    return DRIFT_LIMITS[precision_of(method)]


def warmup_calls(method: str) -> int:
    return STEADY_AFTER + (CALIB_CALLS if precision_of(method) == "int8" else 0)
