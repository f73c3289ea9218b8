"""What a run cost: one line per accelerated model at the end of a patched run, on stderr.

    coder: nano_openvino_int8: converted in 3.1 s (cached for next runs), 12 calls, 2.9x faster ...
    coder: nano_openvino_int8: loaded from the cache in 0.2 s, 12 calls, 2.9x faster per call ...
    coder: nano_jit_fp32 not used (output differs from the original model (...)): 3 calls ran the original model
    coder: nano_openvino_fp32 not used (...): 7 calls ran the accelerated model before that, 2 ran the original model

Calls are counted when they return, by where their output came from (a checked call that
passed returns the accelerated model's output).

The speed is the never-slower comparison's (``speed.py``), measured on the first call or stored
in the cache with the model: no extra calls are made for this line. The runner prints these
lines when the script ends (``print_closing_lines``); ``CODER_QUIET=1`` silences them.

No torch import: the runner asks this module only when a model was accelerated.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from coder import settings

# the story of every accelerated model made in this process; kept when the model itself is
# gone (a model made in a script's main() is freed before the script ends)
_stories: list[Story] = []


@dataclass
class Story:
    """What happened to one accelerated model in this run."""

    label: str
    calls: int = 0  # calls that returned
    accelerated_calls: int = 0  # of those, the ones whose output came from the accelerated model
    converted_seconds: float = 0.0
    compiled_seconds: float = 0.0  # the part of converted_seconds torch.compile took (compile.py)
    loaded_seconds: float = 0.0
    stored: bool = False
    calibration_note: str | None = None
    fallback_reason: str | None = None
    comparison: object = None  # the never-slower speed.Comparison

    def __post_init__(self) -> None:
        _stories.append(self)

    @property
    def converted(self) -> bool:
        return self.converted_seconds > 0

    def obtained(self, obtained) -> None:
        """Count a runtime the model got (a ``building.Obtained``)."""
        if obtained.loaded:
            self.loaded_seconds += obtained.seconds
        else:
            self.converted_seconds += obtained.seconds
            self.compiled_seconds += getattr(obtained.runner, "compile_seconds", 0.0)
            self.stored = self.stored or obtained.stored


def closing_line(story: Story) -> str | None:
    """The line for one model, or None when it was never called."""
    if story.calls == 0:
        return None
    original = story.calls - story.accelerated_calls
    if story.fallback_reason is not None:
        return f"coder: {story.label} not used ({story.fallback_reason}): {_who_ran(story.accelerated_calls, original)}"
    calls = _count(story.calls)
    if original:
        calls += f" ({original} ran the original model)"
    return f"coder: {story.label}: {_how_obtained(story)}, {calls}, {_speed(story.comparison)}"


def _count(calls: int) -> str:
    return f"{calls} call{'s' if calls != 1 else ''}"


def _who_ran(accelerated: int, original: int) -> str:
    """``7 calls ran the accelerated model before that, 2 ran the original model``."""
    ran_original = f"{_count(original) if not accelerated else original} ran the original model"
    if not accelerated:
        return ran_original
    return f"{_count(accelerated)} ran the accelerated model before that, {ran_original}"


def _how_obtained(story: Story) -> str:
    if story.converted:
        cached = " (cached for next runs)" if story.stored else ""
        compiled = f", compiled in {story.compiled_seconds:.1f} s" if story.compiled_seconds else ""
        return f"converted in {story.converted_seconds:.1f} s{compiled}{cached}"
    if story.loaded_seconds:
        return f"loaded from the cache in {story.loaded_seconds:.1f} s"
    return "ready"


def _speed(comparison) -> str:
    if comparison is None:
        return "speed not compared (never_slower is off)"
    ratio = comparison.original_ms / comparison.accelerated_ms if comparison.accelerated_ms > 0 else float("inf")
    return f"{ratio:.1f}x faster per call than the original"


def closing_lines() -> list[str]:
    return [line for line in map(closing_line, _stories) if line is not None]


def print_closing_lines() -> None:
    """Print every followed model's line on stderr, unless CODER_QUIET is set."""
    if settings.current().quiet:
        return
    for line in closing_lines():
        try:
            print(line, file=sys.stderr)
        except (OSError, ValueError):  # a closed stderr must not turn a finished run into a failure
            return
