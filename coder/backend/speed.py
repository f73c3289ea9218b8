"""Never slower: a new runtime is kept only if it beats the original model on the first real
inputs, timed side by side.

After a runtime is built and has passed its parity check, ``compare`` runs it once more to warm
it up (TorchScript optimises its graph on the second run), then alternates original and
accelerated calls on the same inputs: at least MIN_PAIRS pairs and at most MAX_PAIRS, stopping
after MIN_PAIRS once BUDGET_SECONDS are spent or the answer is plain, and after one pair when
the runtime is more than HOPELESS times slower. That is 1 + 2 x (1 to 5) extra calls, once per
built runtime. The medians decide: kept when the runtime takes less than KEEP_BELOW of the
original's time. ``never_slower=False`` or CODER_NEVER_SLOWER=0 skips the check (benchmarks,
tests).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from coder import settings

MIN_PAIRS, MAX_PAIRS = 2, 5
BUDGET_SECONDS = 1.0
KEEP_BELOW = 0.97  # a runtime must be at least 3 % faster: ties go to the original
PLAIN = (0.7, 1.3)  # ratios outside this range need no more pairs
HOPELESS = 3.0


def enabled(never_slower: bool | None) -> bool:
    """The keyword wins; else CODER_NEVER_SLOWER (coder/settings.py: on unless set off)."""
    if never_slower is not None:
        return bool(never_slower)
    return settings.current().never_slower


@dataclass(frozen=True)
class Comparison:
    original_ms: float
    accelerated_ms: float
    pairs: int

    @property
    def ratio(self) -> float:
        return self.accelerated_ms / self.original_ms if self.original_ms > 0 else float("inf")

    @property
    def faster(self) -> bool:
        return self.ratio < KEEP_BELOW

    def describe(self) -> str:
        return f"{_ms(self.accelerated_ms)} vs {_ms(self.original_ms)} per call"


def _ms(value: float) -> str:
    return f"{value:.3g} ms"


def compare(
    original: Callable[[], object], accelerated: Callable[[], object], clock: Callable[[], float] = time.perf_counter
) -> Comparison:
    """Time ``original`` and ``accelerated`` (each a call on the same inputs) side by side."""
    accelerated()  # warm-up
    ours: list[float] = []
    theirs: list[float] = []
    began = clock()
    while len(ours) < MAX_PAIRS:
        theirs.append(_timed(original, clock))
        ours.append(_timed(accelerated, clock))
        if _settled(ours, theirs, clock() - began):
            break
    return Comparison(statistics.median(theirs) * 1000, statistics.median(ours) * 1000, len(ours))


def _timed(call: Callable[[], object], clock: Callable[[], float]) -> float:
    start = clock()
    call()
    return clock() - start


def _settled(ours: list[float], theirs: list[float], spent: float) -> bool:
    ratio = statistics.median(ours) / max(statistics.median(theirs), 1e-12)
    if ratio > HOPELESS:
        return True
    if len(ours) < MIN_PAIRS:
        return False
    return spent > BUDGET_SECONDS or not PLAIN[0] <= ratio <= PLAIN[1]
