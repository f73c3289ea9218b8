"""The results as one rich table (`-o auto` and ``InferenceOptimizer.optimize()`` both print it),
the recommendation with its commands, and the JSON file with the environment it was measured in."""

from __future__ import annotations

import json
import os
import platform
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from coder.auto.result import ORIGINAL, Result, Status, best

STATUS_STYLES = {
    Status.SUCCESSFUL: "green",
    Status.SLOWER: "yellow",
    Status.DRIFT_TOO_LARGE: "magenta",
    Status.OVER_MAX_DROP: "magenta",
    Status.FAIL_TO_CONVERT: "red",
    Status.TIMEOUT: "red",
    Status.FAIL_TO_FORWARD: "red",
    Status.NO_MODEL_CALL: "red",
}
TIE_MARK = "≈"
# the libraries whose versions decide the figures, by distribution name
LIBRARIES = (
    "torch",
    "torchvision",
    "intel-extension-for-pytorch",
    "onnx",
    "onnxruntime",
    "openvino",
    "nncf",
    "neural-compressor",
    "torchao",
    "transformers",
)


def number(value, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def latency_cell(result: Result) -> str:
    if result.latency_ms is None:
        return "-"
    spread = f" ±{result.spread_ms / 2:.2f}" if result.spread_ms is not None else ""
    return f"{result.latency_ms:.2f}{spread}"


def percent(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Result], str]
    verbose_only: bool = False


# in the order they are left out of a table too wide for the terminal, last first
COLUMNS = (
    Column("latency ms", latency_cell),
    Column("speedup", lambda r: number(r.speedup, ".2f", "x")),
    Column("first call s", lambda r: number(r.first_call_s, ".1f")),
    Column("max rel err", lambda r: number(r.max_rel_err, ".1e")),
    Column("peak MiB", lambda r: number(r.peak_mib, ".0f")),
    Column("top-1", lambda r: number(percent(r.top1_agreement), ".0f", "%")),
    Column("timed calls", lambda r: str(r.timed_calls) if r.timed_calls else "-", verbose_only=True),
    Column("run s", lambda r: number(r.seconds, ".0f"), verbose_only=True),
)
MIN_COLUMNS = 2  # latency and speedup stay, whatever the width
STATUS_WIDTH = 14  # the status column wraps down to this, in a narrow terminal


def table(results: list[Result], verbose: bool = False, width: int | None = None) -> Table:
    """A row per result, coloured by status; columns no row fills are left out, and so are the
    last ones when the table would not fit in ``width``."""
    columns = [c for c in COLUMNS if (verbose or not c.verbose_only) and any(c.cell(r) != "-" for r in results)]
    dropped: list[str] = []
    grid = laid_out(results, columns, verbose, dropped)
    while width and len(columns) > MIN_COLUMNS and narrowest(grid, results, verbose) > width:
        dropped.insert(0, columns.pop().header)
        grid = laid_out(results, columns, verbose, dropped)
    return grid


def narrowest(grid: Table, results: list[Result], verbose: bool) -> int:
    """The table's width with its status column wrapped down to STATUS_WIDTH (rich narrows the
    column that wraps, and then crops the others)."""
    probe = Console(width=10_000)
    statuses = max(len(r.label if verbose else str(r.status)) for r in results)
    return Measurement.get(probe, probe.options, grid).maximum - max(0, statuses - STATUS_WIDTH)


def laid_out(results: list[Result], columns: list[Column], verbose: bool, left_out: list[str]) -> Table:
    winner = best(results)
    tied = set(winner.ties) if winner else set()
    grid = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        caption_justify="left",
        caption=caption(results, winner, verbose, left_out),
    )
    grid.add_column("method", no_wrap=True)
    grid.add_column("status", overflow="fold")
    for column in columns:
        grid.add_column(column.header, justify="right", no_wrap=True)
    if tied:
        grid.add_column("", no_wrap=True)  # the mark of a tie with the best
    for result in results:
        status = Text(result.label if verbose else str(result.status), style=STATUS_STYLES.get(result.status, "dim"))
        mark = [TIE_MARK if result.method in tied else ""] if tied else []
        grid.add_row(
            result.method,
            status,
            *[column.cell(result) for column in columns],
            *mark,
            style="bold" if result is winner else None,
        )
    return grid


def caption(results: list[Result], winner: Result | None, verbose: bool, left_out: list[str]) -> str:
    notes = ["latency: median ± half the interquartile range of the timed calls"]
    if winner and winner.ties:
        notes.append(f"{TIE_MARK}: within the measured noise of the best")
    if left_out:
        notes.append(f"left out to fit the terminal: {', '.join(left_out)} (a wider one, or --json FILE, has them)")
    if not verbose and any(r.reason for r in results):
        notes.append("--verbose (or --json FILE) gives every status with its reason")
    return "\n".join(notes)


def apply_command(method: str, script: str, script_args: list[str], emit: str | None = None) -> str:
    emit_part = ["--emit", emit] if emit else []
    return shlex.join(["python", "-m", "coder", "-o", method, *emit_part, script, *script_args])


def emitted_name(script: str, method: str) -> str:
    path = Path(script)
    return str(path.with_name(f"{path.stem}_{method}{path.suffix}"))


def recommendation(results: list[Result], script: str, script_args: list[str]) -> Group:
    winner = best(results)
    if winner is None:
        ran = any(r.served and r.method != ORIGINAL for r in results)
        return Group(
            Text(
                f"No transform ran {'faster than the original' if ran else 'successfully'} here: "
                "keep the script as it is.",
                style="bold",
            )
        )
    emit_to = emitted_name(script, winner.method)
    return Group(
        Text(best_line(winner), style="bold green"),
        *noise_lines(winner, results),
        Text(f"Run it:             {apply_command(winner.method, script, script_args)}"),
        Text(f"Write it to a file: {apply_command(winner.method, script, [], emit_to)}"),
    )


def best_line(winner: Result) -> str:
    speed = f", {winner.speedup:.2f}x the original" if winner.speedup else ""
    return f"Best: {winner.method} ({winner.latency_ms:.2f} ms per call{speed})."


def noise_lines(winner: Result, results: list[Result]) -> list[Text]:
    rivals = [r for r in results if r.method in winner.ties and r.method != ORIGINAL]
    lines = []
    if ORIGINAL in winner.ties:
        lines.append(
            Text(
                "It is within the measured noise of the original: the gain is not certain here; "
                "rerun when the machine is quiet, or with more --calls.",
                style="yellow",
            )
        )
    if rivals:
        names = ", ".join(f"{r.method} ({r.latency_ms:.2f} ms)" for r in rivals)
        lines.append(Text(f"Within the measured noise of it: {names}; any of them is as fast here.", style="yellow"))
    return lines


def context(script: str, script_args: list[str], threads: str, calls: int, budget: float) -> dict:
    return {
        "script": script,
        "args": script_args,
        "threads": threads,
        "timed_calls": calls,
        "budget_s": budget,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": processor_name(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "environment": environment(threads),
    }


def environment(threads: str) -> dict:
    """What the figures depend on, so two runs can be compared: CPU, threads, library versions."""
    from coder.backend.cpu import this_cpu

    return {"cpu": this_cpu().to_json(), "threads": int(threads), "libraries": library_versions()}


def library_versions() -> dict:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def processor_name() -> str:
    from coder.backend.cpu import this_cpu

    return this_cpu().name


def write_json(path: str, results: list[Result], about: dict, complete: bool) -> None:
    winner = best(results)
    data = {
        **about,
        "complete": complete,
        "best": winner.method if winner else None,
        "baseline": ORIGINAL,
        "results": [r.to_json() for r in results],
    }
    Path(path).write_text(json.dumps(data, indent=2) + "\n")
