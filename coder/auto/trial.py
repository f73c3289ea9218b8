"""Run one method as `python -m coder -o METHOD SCRIPT ARGS` in its own process, and classify it
from the recorder's file (coder/backend/recording.py): its figures, the runtime's fallback, the
drift against the tolerance of its precision."""

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

from coder.auto.result import FALLBACK_STATUS, Result, Status
from coder.backend.accuracy import ENVIRONMENT

POLL_SECONDS = 0.25
ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*")


@dataclass
class Trial:
    """One method's run: its command, environment and output files."""

    method: str
    script: str
    script_args: list[str]
    workdir: Path
    calls: int
    seconds: float
    threads: str
    max_drop: float | None = None  # --max-drop: the runtime's criterion, and this run's status

    @property
    def record_path(self) -> Path:
        return self.workdir / f"{self.method}.record.json"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "coder", "-o", self.method, self.script, *self.script_args]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CODER_RECORD=str(self.record_path),
            CODER_RECORD_CALLS=str(self.calls),
            CODER_RECORD_SECONDS=str(self.seconds),
            OMP_NUM_THREADS=self.threads,
            MKL_NUM_THREADS=self.threads,
        )
        if self.max_drop is not None:
            env[ENVIRONMENT] = repr(self.max_drop)
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
    with (
        open(trial.workdir / f"{trial.method}.stdout", "wb") as out,
        open(trial.workdir / f"{trial.method}.stderr", "wb") as err,
    ):
        return subprocess.Popen(
            trial.command(),
            env=trial.environment(),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


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
    result.status, result.reason = Status.INTERRUPTED, None
    return result


def classify(trial: Trial, returncode: int | None, elapsed: float, timed_out=False) -> Result:
    result = measured(trial.method, trial.record(), elapsed)
    result.status, result.reason = status_of(trial, returncode, result, timed_out)
    return result


def measured(method: str, record: dict | None, elapsed: float | None) -> Result:
    """The figures of a run, from the recorder's file: with several models, their sum."""
    models = (record or {}).get("models", [])
    errors = [m["max_rel_err"] for m in models if m.get("max_rel_err") is not None]
    return Result(
        method,
        latency_ms=total(models, "latency_ms"),
        spread_ms=total(models, "spread_ms"),
        quartiles_ms=summed_quartiles(models),
        first_call_s=total(models, "first_call_s"),
        peak_mib=(record or {}).get("peak_mib"),
        max_rel_err=max(errors) if errors else None,
        tolerance=min((m["tolerance"] for m in models if m.get("tolerance")), default=None),
        top1_agreement=next((m["top1_agreement"] for m in models if m.get("top1_agreement") is not None), None),
        timed_calls=sum(m.get("timed_calls", 0) for m in models),
        seconds=elapsed,
        fell_back=any(m.get("fallback") for m in models),
        models=models,
    )


def summed_quartiles(models: list[dict]) -> tuple[float, float] | None:
    """Several models: the sums of their quartiles (an approximation of the whole call's)."""
    middles = [m.get("quartiles_ms") for m in models]
    if not middles or None in middles:
        return None
    return sum(m[0] for m in middles), sum(m[1] for m in middles)


def total(models: list[dict], key: str) -> float | None:
    values = [m[key] for m in models if m.get(key) is not None]
    return sum(values) if values else None


def status_of(trial: Trial, returncode, result: Result, timed_out: bool) -> tuple[Status, str | None]:
    if timed_out:
        return Status.TIMEOUT, None
    if returncode != 0:
        return Status.FAIL_TO_FORWARD, error_line(trial.output("stderr"), returncode)
    fallback = next((m for m in result.models if m.get("fallback")), None)
    if fallback:
        return fallback_status(fallback)
    replay_error = next((m["replay_error"] for m in result.models if m.get("replay_error")), None)
    if replay_error:
        return Status.FAIL_TO_FORWARD, f"replaying the script's calls: {replay_error}"
    if not result.ran:
        return Status.NO_MODEL_CALL, "the script ended without calling a model"
    if trial.max_drop is not None:
        broken = next((why for m in result.models if (why := over_max_drop(m, trial.max_drop))), None)
        return (Status.OVER_MAX_DROP, broken) if broken else (Status.SUCCESSFUL, None)
    drifted = [m for m in result.models if (m.get("max_rel_err") or 0) > m["tolerance"]]
    if drifted:
        return Status.DRIFT_TOO_LARGE, f"max rel err {drifted[0]['max_rel_err']:.2g} > {drifted[0]['tolerance']:g}"
    return Status.SUCCESSFUL, None


def over_max_drop(model: dict, limit: float) -> str | None:
    """The recorder's replayed calls against --max-drop: top-1 agreement when the output is
    classifier-like, else the relative error (the runtime's criterion, accuracy.py)."""
    top1, error = model.get("top1_agreement"), model.get("max_rel_err")
    if top1 is not None:
        return f"top-1 agreement {top1:.3g}, a drop of {1 - top1:.3g} > {limit:g}" if 1 - top1 > limit else None
    if error is not None and error > limit:
        return f"max rel err {error:.2g} > {limit:g}"
    return None


def fallback_status(model: dict) -> tuple[Status, str]:
    """The runtime served the original model; the recorder says why, and of which kind."""
    status = FALLBACK_STATUS.get(model.get("fallback_kind"), Status.FAIL_TO_CONVERT)
    if status == Status.LACK_DEPENDENCY:
        return status, model["fallback_module"]
    if status in (Status.DRIFT_TOO_LARGE, Status.OVER_MAX_DROP, Status.SLOWER):
        return status, f"runtime check: {model['fallback']}"
    return status, model["fallback"]


def error_line(stderr: str, returncode: int) -> str:
    """The exception line of a traceback, else the last line written, else the exit code."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if ERROR_LINE.match(line)]
    if errors:
        return errors[-1]
    return lines[-1] if lines else f"exit code {returncode}"
