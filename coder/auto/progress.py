"""What `-o auto` shows while it runs, on stderr.

On a terminal, a live rich display with a row per method: waiting, then running with its elapsed
time and the calls timed against the target (or the script's calls while the runtime warms up),
then its status. Elsewhere (a pipe, a log, TERM=dumb), one plain line per method as it ends.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from coder.auto.report import STATUS_STYLES
from coder.auto.result import Result


class StateColumn(ProgressColumn):
    """The task's ``state`` field: a rich Text kept as it is."""

    def render(self, task) -> Text:
        return task.fields["state"]


class Display:
    def __init__(self, methods: list[str], calls: int, console: Console):
        self.console = console
        self.live = console.is_interactive
        self.progress = Progress(
            TextColumn("{task.fields[index]}", markup=False),
            TextColumn("{task.description}", markup=False),
            BarColumn(bar_width=12),
            TextColumn("{task.completed:>3.0f}/{task.total:.0f} calls", markup=False),
            TimeElapsedColumn(),
            StateColumn(),
            console=console,
            disable=not self.live,
        )
        width = len(str(len(methods)))
        self.tasks: dict[str, TaskID] = {
            method: self.progress.add_task(
                method.ljust(34),
                total=calls,
                start=False,
                index=f"[{i:>{width}}/{len(methods)}]",
                state=Text("waiting", style="dim"),
            )
            for i, method in enumerate(methods, 1)
        }

    def __enter__(self) -> Display:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def tick(self, trial, elapsed: float) -> None:
        """A run is going on: its calls so far, from the recorder's file."""
        task = self.tasks[trial.method]
        if not self.progress.tasks[task].started:
            self.progress.start_task(task)
        models = (trial.record() or {}).get("models", [])
        timed = sum(m.get("timed_calls", 0) for m in models)
        self.progress.update(task, completed=timed, state=Text(phase(models), style="cyan"))

    def done(self, result: Result) -> None:
        task = self.tasks[result.method]
        self.progress.update(task, completed=result.timed_calls, state=summary(result, str(result.status)))
        self.progress.stop_task(task)
        if not self.live:
            index = self.progress.tasks[task].fields["index"]
            self.console.print(Text(f"{index} {result.method:<34} ").append_text(summary(result, result.label)))


def phase(models: list[dict]) -> str:
    if not models:
        return "starting"
    calls = sum(m.get("calls", 0) for m in models)
    if all(m.get("phase") == "warm-up" for m in models):
        return f"warm-up: {calls} script call{'s' if calls != 1 else ''}"
    return "timing the script's inputs"


def summary(result: Result, status: str) -> Text:
    text = Text(status, style=STATUS_STYLES.get(result.status, "dim"))
    if result.latency_ms is not None:
        text.append(f"  {result.latency_ms:.2f} ms")
    if result.seconds is not None:
        text.append(f"  ({result.seconds:.0f} s)")
    return text
