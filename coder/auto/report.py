"""The `-o auto` outcome as a table, a recommendation with its command, and JSON."""

from __future__ import annotations

import json
import os
import platform
import shlex
import time
from pathlib import Path

from coder.auto.result import ORIGINAL, SLOWER, SUCCESSFUL, Result, best

HEADER = ("method", "status", "latency ms", "speedup", "max rel err", "top-1 agree")


def table(results: list[Result]) -> str:
    rows = [HEADER] + [row(result) for result in results]
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(cells, widths))).rstrip() for cells in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def row(result: Result) -> tuple[str, ...]:
    return (result.method, shorten(result.label, 60), number(result.latency_ms, ".2f"),
            number(result.speedup, ".2f", "x"), number(result.max_rel_err, ".1e"),
            number(percent(result.top1_agreement), ".0f", "%"))


def number(value, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def percent(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def apply_command(method: str, script: str, script_args: list[str], emit: str | None = None) -> str:
    emit_part = ["--emit", emit] if emit else []
    return shlex.join(["python", "-m", "coder", "-o", method, *emit_part, script, *script_args])


def emitted_name(script: str, method: str) -> str:
    path = Path(script)
    return str(path.with_name(f"{path.stem}_{method}{path.suffix}"))


def recommendation(results: list[Result], script: str, script_args: list[str]) -> str:
    winner = best(results)
    ran = any(r.status in (SUCCESSFUL, SLOWER) and r.method != ORIGINAL for r in results)
    if winner is None and not ran:
        return "No transform ran successfully here: keep the script as it is."
    if winner is None:
        return "No transform ran faster than the original here: keep the script as it is."
    speed = f", {winner.speedup:.2f}x the original" if winner.speedup else ""
    emit_to = emitted_name(script, winner.method)
    return "\n".join([
        f"Best: {winner.method} ({winner.latency_ms:.2f} ms per call{speed}).",
        f"Run it:            {apply_command(winner.method, script, script_args)}",
        f"Write it to a file: {apply_command(winner.method, script, [], emit_to)}",
    ])


def context(script: str, script_args: list[str], threads: str, calls: int) -> dict:
    return {"script": script, "args": script_args, "threads": threads, "timed_calls": calls,
            "python": platform.python_version(), "machine": platform.machine(),
            "processor": processor_name(), "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def processor_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor()


def write_json(path: str, results: list[Result], about: dict, complete: bool) -> None:
    winner = best(results)
    data = {**about, "complete": complete, "best": winner.method if winner else None,
            "baseline": ORIGINAL, "results": [r.to_json() for r in results]}
    Path(path).write_text(json.dumps(data, indent=2) + "\n")
