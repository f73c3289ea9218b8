"""The `-o auto` latency chart: one horizontal bar per method, fastest at the top."""

from __future__ import annotations

from coder.auto.result import ORIGINAL, Result, Status

COLOURS = {ORIGINAL: "#7f7f7f", Status.SUCCESSFUL: "#2ca02c", Status.DRIFT_TOO_LARGE: "#ff7f0e"}
OTHER_COLOUR = "#d62728"


def save(results: list[Result], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed = [r for r in results if r.latency_ms is not None]
    untimed = [r for r in results if r.latency_ms is None]
    figure, axes = plt.subplots(figsize=(10, 0.9 + 0.36 * max(len(results), 2)))
    draw_bars(axes, timed, untimed)
    axes.set_xlabel("latency per model call, ms (median; shorter is faster)")
    axes.set_title(title, fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def draw_bars(axes, timed: list[Result], untimed: list[Result]) -> None:
    ordered = timed + untimed
    positions = range(len(ordered))
    widths = [r.latency_ms or 0.0 for r in ordered]
    axes.barh(positions, widths, color=[colour(r) for r in ordered])
    axes.set_yticks(list(positions), [r.method for r in ordered], fontsize=9)
    axes.invert_yaxis()
    longest = max(widths, default=0.0) or 1.0
    axes.set_xlim(0, longest * 1.45)
    for position, result in zip(positions, ordered):
        axes.text((result.latency_ms or 0.0) + longest * 0.01, position, bar_label(result), va="center", fontsize=8)


def colour(result: Result) -> str:
    if result.method == ORIGINAL:
        return COLOURS[ORIGINAL]
    return COLOURS.get(result.status, OTHER_COLOUR)


def bar_label(result: Result) -> str:
    if result.latency_ms is None:
        return result.label[:70]
    speed = f"  {result.speedup:.2f}x" if result.speedup else ""
    status = "" if result.status == Status.SUCCESSFUL else f"  [{result.status}]"
    return f"{result.latency_ms:.2f} ms{speed}{status}"
