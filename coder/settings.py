"""Every ``CODER_*`` environment variable, read and checked in one place (docs/SETTINGS.md).

``current()`` is the ``Settings`` of the environment as it is now: each variable parsed once by
its entry in ``VARIABLES`` (name, parser, default, the values it accepts). A value its parser
refuses is one line on stderr, ``coder: CODER_CALIB_CALLS=abc ignored (expected a whole number
from 1 to 1000): using 4``, and the default serves; the run goes on. On/off words mean the same
for every variable (``ON_WORDS``, ``OFF_WORDS``); an empty value is the same as an unset one.

The result is kept for the environment it was read from, so a test that sets a variable sees
it on the next call. Each bad value is said once per process. Variables coder sets for its child
processes (``-o auto``'s ``CODER_RECORD*``, ``--max-drop``'s ``CODER_MAX_DROP``) are written to
the environment as before and read back here.

No torch import: the command line reads this before anything else.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

PREFIX = "CODER_"
ON_WORDS = ("1", "on", "true", "yes")
OFF_WORDS = ("0", "off", "false", "no", "none")
OFF_NAMES = OFF_WORDS[1:]  # where a number is also accepted, 0 is that number
SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class Settings:
    """One typed field per variable; see ``VARIABLES`` for what each accepts."""

    cache: bool | Path  # True: the default folder; False: off
    cache_size: int  # bytes
    calib_calls: int
    conversion_budget: float | None  # seconds (math.inf: no limit); None: the rule in budget.py
    cpuinfo: Path | None
    debug: bool
    max_drop: float | None
    never_slower: bool
    quiet: bool
    record: str | None  # the file -o auto's run writes
    record_calls: int
    record_checks: int
    record_inputs: int
    record_seconds: float


# -- parsers: text (stripped, not empty) to value, or ValueError ------------------------------


def switch(text: str) -> bool:
    word = text.lower()
    if word in ON_WORDS or word in OFF_WORDS:
        return word in ON_WORDS
    raise ValueError(text)


def whole_number(low: int, high: float = math.inf) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(text)
        return value

    return parse


def number(low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """A finite number in [low, high] (or (low, high] with ``low_open``); nan and inf fail."""

    def parse(text: str) -> float:
        value = float(text)
        if not math.isfinite(value) or not low <= value <= high or (low_open and value == low):
            raise ValueError(text)
        return value

    return parse


def byte_size(text: str) -> int:
    """Bytes, or a number with K, M, G or T (an optional B after it): 512M, 4G, 1.5GB."""
    body = text.upper().removesuffix("B")
    unit = body[-1:] if body[-1:] in SIZE_UNITS else ""
    value = number(0, math.inf)(body[: len(body) - len(unit)]) * SIZE_UNITS[unit]
    if value < 1:
        raise ValueError(text)
    return int(value)


def folder_or_switch(text: str) -> bool | Path:
    """An on/off word (on: the default folder), else a folder."""
    try:
        return switch(text)
    except ValueError:
        return Path(text).expanduser()


def or_off(parse: Callable[[str], object], off: object = None) -> Callable[[str], object]:
    """``parse``, or ``off`` for an off word other than 0."""

    def parse_or_off(text: str) -> object:
        return off if text.lower() in OFF_NAMES else parse(text)

    return parse_or_off


def readable_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ValueError(text)
    return path


def file_path(text: str) -> str:
    if text.lower() in ON_WORDS:  # CODER_RECORD=1 is not a file name anyone means
        raise ValueError(text)
    return os.path.expanduser(text)


# -- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    name: str
    parse: Callable[[str], object]
    default: object
    default_text: str  # the default as the warning and docs/SETTINGS.md say it
    accepted: str  # what the parser takes, for the warning and docs/SETTINGS.md
    meaning: str  # what it changes, for docs/SETTINGS.md
    good: tuple[tuple[str, object], ...] = ()  # examples: text and its value (docs, tests)
    bad: tuple[str, ...] = ()  # examples the parser refuses (tests)

    @property
    def field(self) -> str:
        return self.name.removeprefix(PREFIX).lower()


SWITCH = "on or off (also 1/0, true/false, yes/no)"
SWITCH_GOOD = (("1", True), ("on", True), ("YES", True), ("0", False), ("off", False), ("False", False))
SWITCH_BAD = ("2", "-1", "maybe", "nan")
COUNT_BAD = ("abc", "0", "-1", "2.5", "nan", "inf")
SECONDS_BAD = ("xyz", "0", "-1", "nan", "inf", "-inf")
VARIABLES = (
    Variable(
        "CODER_CACHE",
        folder_or_switch,
        True,
        "$XDG_CACHE_HOME/coder or ~/.cache/coder",
        "a folder, or off",
        "where converted models are kept (python -m coder cache list)",
        good=(("/tmp/coder-cache", Path("/tmp/coder-cache")), ("off", False), ("on", True)),
    ),
    Variable(
        "CODER_CACHE_SIZE",
        byte_size,
        4 << 30,
        "4G",
        "a size above 0: bytes, or a number with K, M, G or T such as 512M",
        "the cache's size; the least recently used entries go past it",
        good=(("512M", 512 << 20), ("4G", 4 << 30), ("1.5GB", 3 << 29), ("1000", 1000)),
        bad=("abc", "-1", "0", "nan", "inf", "4X", "G"),
    ),
    Variable(
        "CODER_CALIB_CALLS",
        whole_number(1, 1000),
        4,
        "4",
        "a whole number from 1 to 1000",
        "INT8 without calib_data: the script's calls whose inputs calibrate",
        good=(("1", 1), ("8", 8), ("1000", 1000)),
        bad=COUNT_BAD + ("1001",),
    ),
    Variable(
        "CODER_CONVERSION_BUDGET",
        or_off(number(0, math.inf, low_open=True), math.inf),
        None,
        "20 calls of the original, at least 60 s (no limit with CODER_NEVER_SLOWER=0)",
        "a number of seconds above 0, or off",
        "how long one conversion may take before it is stopped",
        good=(("30", 30.0), ("0.5", 0.5), ("off", math.inf)),
        bad=SECONDS_BAD + ("on",),
    ),
    Variable(
        "CODER_CPUINFO",
        or_off(readable_file),
        None,
        "/proc/cpuinfo",
        "a readable cpuinfo file, or off",
        "another CPU's /proc/cpuinfo text: coder decides as on that CPU",
        good=(("/proc/cpuinfo", Path("/proc/cpuinfo")), ("off", None)),
        bad=("/no/such/cpuinfo",),
    ),
    Variable(
        "CODER_DEBUG",
        switch,
        False,
        "off",
        SWITCH,
        "a library's whole error and its held output behind a one-line message, a line when a "
        "conversion starts, and coder's own frames in an interrupted script's traceback",
        good=SWITCH_GOOD,
        bad=SWITCH_BAD,
    ),
    Variable(
        "CODER_MAX_DROP",
        or_off(number(0, 1)),
        None,
        "none (each precision's tolerance)",
        "a number from 0 to 1, or off",
        "the accuracy check's criterion (--max-drop sets it)",
        good=(("0.01", 0.01), ("0", 0.0), ("1", 1.0), ("off", None)),
        bad=("abc", "-0.1", "1.5", "nan", "inf"),
    ),
    Variable(
        "CODER_NEVER_SLOWER",
        switch,
        True,
        "on",
        SWITCH,
        "a runtime not faster than the original on the first calls is not used",
        good=SWITCH_GOOD,
        bad=SWITCH_BAD,
    ),
    Variable(
        "CODER_QUIET",
        switch,
        False,
        "off",
        SWITCH,
        "no closing line per model, no tuning table",
        good=SWITCH_GOOD,
        bad=SWITCH_BAD,
    ),
    Variable(
        "CODER_RECORD",
        or_off(file_path),
        None,
        "none (no recording)",
        "a file path, or off",
        "-o auto sets it for each run: the JSON file of its timings",
        good=(("/tmp/run.json", "/tmp/run.json"), ("off", None)),
        bad=("1", "on"),
    ),
    Variable(
        "CODER_RECORD_CALLS",
        whole_number(1),
        20,
        "20",
        "a whole number from 1 up",
        "-o auto (--calls): timed calls per run",
        good=(("5", 5), ("20", 20)),
        bad=COUNT_BAD,
    ),
    Variable(
        "CODER_RECORD_CHECKS",
        whole_number(1, 1000),
        3,
        "3",
        "a whole number from 1 to 1000",
        "-o auto: calls after the warm-up before timing starts",
        good=(("1", 1), ("3", 3)),
        bad=COUNT_BAD + ("1001",),
    ),
    Variable(
        "CODER_RECORD_INPUTS",
        whole_number(1, 1000),
        8,
        "8",
        "a whole number from 1 to 1000",
        "-o auto: the script's inputs kept to replay",
        good=(("1", 1), ("8", 8)),
        bad=COUNT_BAD + ("1001",),
    ),
    Variable(
        "CODER_RECORD_SECONDS",
        number(0, math.inf, low_open=True),
        10.0,
        "10",
        "a number of seconds above 0",
        "-o auto (--budget): time for the timed calls per run",
        good=(("10", 10.0), ("0.5", 0.5)),
        bad=SECONDS_BAD,
    ),
)


def markdown_table() -> str:
    """The table of docs/SETTINGS.md (a test keeps the two the same)."""
    types = {field.name: field.type for field in fields(Settings)}
    rows = [
        "| variable | what it changes | type | default | accepted values | examples |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for v in VARIABLES:
        examples = ", ".join(f"`{text}`" for text, _ in v.good)
        kind = types[v.field].replace(" | ", "` or `")
        rows.append(f"| `{v.name}` | {v.meaning} | `{kind}` | {v.default_text} | {v.accepted} | {examples} |")
    return "\n".join(rows) + "\n"


def value_of(variable: Variable, environ: Mapping[str, str]) -> tuple[object, str | None]:
    """The variable's value in ``environ`` and, when its text was refused, the line saying so."""
    text = environ.get(variable.name, "").strip()
    if not text:
        return variable.default, None
    try:
        return variable.parse(text), None
    except ValueError:
        shown = text if text.isprintable() else repr(text)  # one line, whatever the value holds
        return variable.default, (
            f"coder: {variable.name}={shown} ignored (expected {variable.accepted}): using {variable.default_text}"
        )


def read(environ: Mapping[str, str]) -> tuple[Settings, list[str]]:
    """The settings ``environ`` gives, and one line per refused value."""
    values, problems = {}, []
    for variable in VARIABLES:
        values[variable.field], problem = value_of(variable, environ)
        problems += [problem] if problem else []
    return Settings(**values), problems


_last: tuple[tuple, Settings] | None = None  # (the CODER_* part of the environment, its settings)
_said: set[str] = set()  # the problem lines already printed in this process


def current() -> Settings:
    """The settings of the environment as it is now (read again only when a CODER_* changed)."""
    global _last
    snapshot = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(PREFIX)))
    if _last is None or _last[0] != snapshot:
        settings, problems = read(dict(snapshot))
        for line in problems:
            _say_once(line)
        _last = (snapshot, settings)
    return _last[1]


def _say_once(line: str) -> None:
    if line in _said:
        return
    _said.add(line)
    try:
        _stderr_write(line)
    except (OSError, ValueError):  # a closed stderr must not end the script
        pass


def _stderr_write(line: str) -> None:
    """On the script's stderr, also inside ``isolation.held_output`` (which holds fds 1 and 2)."""
    isolation = sys.modules.get("coder.backend.isolation")
    outer = isolation._outer_stderr_fds if isolation else []
    if not outer:
        print(line, file=sys.stderr)
        return
    os.write(outer[0], f"{line}\n".encode())
