"""`python -m coder -o auto SCRIPT [ARGS...]`: run the original and every available transform,
each in its own process with a time limit, and say which is fastest and still computes the same.

The CLI calls run(script, script_args, options) with the -o auto options by name (only, exclude,
json, plot, timeout, calls, budget, verbose, apply, emit_best; None or False when not given).
See docs/AUTO.md.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from coder import console
from coder.auto import report, result, trial
from coder.auto.progress import Display
from coder.auto.result import ORIGINAL, Result, Status
from coder.backend.workspace import Workspace

DEFAULT_CALLS = 20
DEFAULT_BUDGET = 10.0
DEFAULT_TIMEOUT = 300.0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    pass


def run(script: str, script_args: list[str], options: dict) -> int:
    try:
        methods = selected_methods(options.get("only"), options.get("exclude"))
        check_script(script)
    except UsageError as error:
        print(f"coder: {error}", file=sys.stderr)
        return EXIT_USAGE
    settings = Settings(script, script_args, options)
    results, complete = run_all(methods, settings)
    return finish(results, settings, complete)


class Settings:
    """What every run shares: the script, its arguments, threads, calls, limits, outputs."""

    def __init__(self, script: str, script_args: list[str], options: dict):
        self.script = script
        self.script_args = list(script_args)
        self.calls = int(options.get("calls") or DEFAULT_CALLS)
        self.budget = float(options.get("budget") or DEFAULT_BUDGET)
        self.timeout = float(options.get("timeout") or DEFAULT_TIMEOUT)
        self.json = options.get("json")
        self.plot = options.get("plot")
        self.verbose = bool(options.get("verbose"))
        self.apply = bool(options.get("apply"))
        self.emit_best = options.get("emit_best")
        self.max_drop = options.get("max_drop")
        self.threads = os.environ.get("OMP_NUM_THREADS") or str(usable_cpus())

    def about(self) -> dict:
        return report.context(self.script, self.script_args, self.threads, self.calls, self.budget)

    def trial(self, method: str, workdir: Path) -> trial.Trial:
        return trial.Trial(
            method, self.script, self.script_args, workdir, self.calls, self.budget, self.threads, self.max_drop
        )


def usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def names_in(value) -> list[str]:
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [name.strip() for item in items for name in item.split(",") if name.strip()]


def selected_methods(only, exclude) -> list[str]:
    from coder import transforms

    known = [ORIGINAL] + transforms.names()
    wanted, unwanted = names_in(only), names_in(exclude)
    for name in wanted + unwanted:
        if name not in known:
            raise UsageError(str(transforms.UnknownTransform(name, known)))
    chosen = [name for name in known if (not wanted or name in wanted) and name not in unwanted]
    # the original is the baseline of every speedup: kept unless excluded by name
    if wanted and ORIGINAL not in unwanted and ORIGINAL not in chosen:
        chosen.insert(0, ORIGINAL)
    if not chosen:
        raise UsageError("--only and --exclude leave nothing to run")
    return chosen


def check_script(script: str) -> None:
    try:
        Path(script).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {script}: {error.strerror or error}") from None


def not_runnable(method: str) -> Result | None:
    """A method this CPU cannot run, or whose library is missing: not run at all."""
    if method == ORIGINAL:
        return None
    from coder import transforms
    from coder.backend.cpu import this_cpu

    entry = transforms.get(method)
    verdict = entry.verdict(this_cpu())
    if verdict.kind == "unsupported":
        return Result(method, Status.UNSUPPORTED, verdict.reason)
    missing = entry.missing()
    return Result(method, Status.LACK_DEPENDENCY, missing[0]) if missing else None


def run_all(methods: list[str], settings: Settings) -> tuple[list[Result], bool]:
    """Every method in turn; a Ctrl-C ends the current one and leaves the rest not run."""
    console.stderr().print(header(methods, settings))
    results: list[Result] = []
    with Workspace("auto") as workdir, Display(methods, settings.calls, console.stderr()) as display:
        for method in methods:
            try:
                outcome = not_runnable(method) or trial.run(
                    settings.trial(method, Path(workdir)), settings.timeout, display.tick
                )
            except KeyboardInterrupt:
                results += stopped(methods[len(results) :], settings, Path(workdir), display)
                return results, False
            results.append(outcome)
            display.done(outcome)
            save_json(results, settings, complete=False)
    return results, True


def header(methods: list[str], settings: Settings) -> str:
    text = (
        f"coder -o auto: {len(methods)} methods on {settings.script}, {settings.threads} threads; "
        f"each: {settings.calls} timed calls (or {settings.budget:g} s of them) on the script's own inputs, "
        f"time limit {settings.timeout:.0f} s"
    )
    return text + busy_warning()


def busy_warning() -> str:
    """Other work on the CPUs makes multi-threaded timings swing 10x and more: say so."""
    load, cpus = os.getloadavg()[0], usable_cpus()
    if load < cpus * 0.75:
        return ""
    return (
        f"\ncoder: the machine is busy (load {load:.1f} on {cpus} CPUs): latencies will be noisy; "
        f"rerun when it is quiet, or with OMP_NUM_THREADS=1"
    )


def stopped(remaining: list[str], settings: Settings, workdir: Path, display: Display) -> list[Result]:
    current = trial.interrupted(settings.trial(remaining[0], workdir))
    display.done(current)
    return [current] + [Result(method, Status.NOT_RUN) for method in remaining[1:]]


def finish(results: list[Result], settings: Settings, complete: bool) -> int:
    results = result.finish(results)
    if not complete:
        console.stderr().print("coder: interrupted; the results so far:")
    out = console.stdout()
    out.print()
    out.print(report.table(results, settings.verbose, out.width))
    out.print(report.recommendation(results, settings.script, settings.script_args))
    save_json(results, settings, complete)
    save_plot(results, settings)
    if not complete:
        return EXIT_INTERRUPTED
    return use_best(result.best(results), settings) if settings.apply or settings.emit_best else exit_code(results)


def save_json(results: list[Result], settings: Settings, complete: bool) -> None:
    if settings.json:
        report.write_json(settings.json, result.finish(list(results)), settings.about(), complete)


def save_plot(results: list[Result], settings: Settings) -> None:
    if not settings.plot:
        return
    from coder.auto import plot

    title = f"coder -o auto: {Path(settings.script).name}, {settings.threads} threads ({time.strftime('%Y-%m-%d')})"
    plot.save(results, settings.plot, title)
    print(f"Chart written to {settings.plot}")


def use_best(winner: Result | None, settings: Settings) -> int:
    """--emit-best writes the script patched with the winner; --apply then runs it."""
    from coder.commands import patch_script

    name = winner.method if winner else ORIGINAL
    if settings.emit_best:
        code = patch_script(name, settings.script, [], diff=False, emit=settings.emit_best)
        console.stderr().print(
            f"coder: wrote {settings.emit_best}: {settings.script} with {name}"
            + ("" if winner else " (no transform beat the original: the model is left as it is)")
        )
        if code or not settings.apply:
            return code
    console.stderr().print(f"coder: running {settings.script} with {name}")
    return patch_script(name, settings.script, settings.script_args, diff=False, emit=None)


def exit_code(results: list[Result]) -> int:
    original = next((r for r in results if r.method == ORIGINAL), None)
    # the user's script does not run as it is: say so through the exit code as well
    return 1 if original and original.status != Status.SUCCESSFUL else 0
