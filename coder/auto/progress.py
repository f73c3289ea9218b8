"""What `-o auto` shows while it runs: one line per method on stderr, live on a terminal."""

from __future__ import annotations

import sys

from coder.auto.result import Result


class Progress:
    def __init__(self, total: int, stream=None):
        self.stream = stream or sys.stderr
        self.total = total
        self.index = 0
        self.live = self.stream.isatty()
        self.width = 0

    def tick(self, trial, elapsed: float) -> None:
        """On a terminal, rewrite the current line with the time spent and calls recorded."""
        if not self.live:
            return
        record = trial.record() or {}
        timed = sum(m.get("timed_calls", 0) for m in record.get("models", []))
        text = f"{self.prefix(trial.method)} running {elapsed:5.0f} s, {timed}/{trial.calls} timed calls"
        self.stream.write("\r" + text.ljust(self.width))
        self.width = len(text)
        self.stream.flush()

    def done(self, result: Result) -> None:
        line = f"{self.prefix(result.method)} {summary(result)}"
        self.index += 1
        self.stream.write(("\r" if self.live else "") + line.ljust(self.width) + "\n")
        self.width = 0
        self.stream.flush()

    def prefix(self, method: str) -> str:
        digits = len(str(self.total))
        return f"[{self.index + 1:>{digits}}/{self.total}] {method:<34}"


def summary(result: Result) -> str:
    parts = [result.label]
    if result.latency_ms is not None:
        parts.append(f"{result.latency_ms:.2f} ms")
    if result.seconds is not None:
        parts.append(f"({result.seconds:.0f} s)")
    return "  ".join(parts)
