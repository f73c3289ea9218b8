"""`python -m coder -o auto SCRIPT [ARGS...]`: run the original and every available transform,
each in its own process with a time limit, and say which is fastest and still computes the same.

The CLI calls run(script, script_args, options) with the options only, exclude, json, plot,
timeout and calls (None when not given). See docs/AUTO.md.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from coder.auto import report, trial
from coder.auto.progress import Progress
from coder.auto.result import (
    LACK_DEPENDENCY, NOT_RUN, ORIGINAL, SUCCESSFUL, UNSUPPORTED, Result, add_speedups, sort_key,
)

DEFAULT_CALLS = 20
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
        self.timeout = float(options.get("timeout") or DEFAULT_TIMEOUT)
        self.json = options.get("json")
        self.plot = options.get("plot")
        self.threads = os.environ.get("OMP_NUM_THREADS") or str(usable_cpus())

    def about(self) -> dict:
        return report.context(self.script, self.script_args, self.threads, self.calls)


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
    import transforms

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


def missing_dependency(method: str) -> str | None:
    if method == ORIGINAL:
        return None
    import transforms

    missing = transforms.get(method).missing()
    return missing[0] if missing else None


def run_all(methods: list[str], settings: Settings) -> tuple[list[Result], bool]:
    """Every method in turn; a Ctrl-C ends the current one and leaves the rest not run."""
    progress = Progress(len(methods))
    print(header(methods, settings), file=sys.stderr)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="coder-auto-") as workdir:
        for method in methods:
            try:
                result = run_one(method, settings, Path(workdir), progress)
            except KeyboardInterrupt:
                results += stopped(methods[len(results):], settings, Path(workdir), progress)
                return results, False
            results.append(result)
            add_speedups(results)
            progress.done(result)
            save_json(results, settings, complete=False)
    return results, True


def header(methods: list[str], settings: Settings) -> str:
    text = (f"coder -o auto: {len(methods)} methods on {settings.script}, "
            f"{settings.threads} threads, {settings.calls} timed calls each, "
            f"time limit {settings.timeout:.0f} s per method")
    return text + busy_warning()


def busy_warning() -> str:
    """Other work on the CPUs makes multi-threaded timings swing 10x and more: say so."""
    load, cpus = os.getloadavg()[0], usable_cpus()
    if load < cpus * 0.75:
        return ""
    return (f"\ncoder: the machine is busy (load {load:.1f} on {cpus} CPUs): latencies will be noisy; "
            f"rerun when it is quiet, or with OMP_NUM_THREADS=1")


def unsupported_here(method: str) -> str | None:
    """Why this CPU cannot run ``method``, or None: such a method is not run at all."""
    if method == ORIGINAL:
        return None
    import transforms
    from coder.backend.cpu import this_cpu

    verdict = transforms.get(method).verdict(this_cpu())
    return verdict.reason if verdict.kind == "unsupported" else None


def run_one(method: str, settings: Settings, workdir: Path, progress: Progress) -> Result:
    reason = unsupported_here(method)
    if reason:
        return Result(method, UNSUPPORTED, reason)
    module = missing_dependency(method)
    if module:
        return Result(method, LACK_DEPENDENCY, module)
    attempt = trial.Trial(method, settings.script, settings.script_args, workdir,
                          settings.calls, settings.threads)
    return trial.run(attempt, settings.timeout, progress.tick)


def stopped(remaining: list[str], settings: Settings, workdir: Path, progress: Progress) -> list[Result]:
    current = trial.Trial(remaining[0], settings.script, settings.script_args, workdir,
                          settings.calls, settings.threads)
    results = [trial.interrupted(current)]
    progress.done(results[0])
    print("coder: interrupted; the results so far:", file=sys.stderr)
    return results + [Result(method, NOT_RUN) for method in remaining[1:]]


def finish(results: list[Result], settings: Settings, complete: bool) -> int:
    add_speedups(results)
    results.sort(key=sort_key)
    print()
    print(report.table(results))
    print()
    print(report.recommendation(results, settings.script, settings.script_args))
    save_json(results, settings, complete)
    save_plot(results, settings)
    return exit_code(results, complete)


def save_json(results: list[Result], settings: Settings, complete: bool) -> None:
    if settings.json:
        report.write_json(settings.json, results, settings.about(), complete)


def save_plot(results: list[Result], settings: Settings) -> None:
    if not settings.plot:
        return
    from coder.auto import plot

    title = f"coder -o auto: {Path(settings.script).name}, {settings.threads} threads ({time.strftime('%Y-%m-%d')})"
    plot.save(results, settings.plot, title)
    print(f"Chart written to {settings.plot}")


def exit_code(results: list[Result], complete: bool) -> int:
    if not complete:
        return EXIT_INTERRUPTED
    original = next((r for r in results if r.method == ORIGINAL), None)
    # the user's script does not run as it is: say so through the exit code as well
    return 1 if original and original.status != SUCCESSFUL else 0
