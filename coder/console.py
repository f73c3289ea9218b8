"""Where coder's terminal output goes: one rich Console per stream.

rich decides colour and live display: colour and a live progress display on a terminal, plain
text when the stream is a pipe or a file, when NO_COLOR is set or when TERM=dumb. Pipes and
files get a wide page, so the results table is not wrapped in logs; lines of text are never
wrapped by coder (the terminal wraps them).
"""

from __future__ import annotations

import functools
import os

from rich.console import Console

LOG_WIDTH = 160


@functools.cache
def stdout() -> Console:
    return _console(stderr=False)


@functools.cache
def stderr() -> Console:
    return _console(stderr=True)


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False, emoji=False, markup=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = LOG_WIDTH
    return console


def is_plain(console: Console) -> bool:
    """True when the output must be the text alone, without any escape sequence."""
    return console.color_system is None or console.no_color
