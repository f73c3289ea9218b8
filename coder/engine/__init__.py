"""The rewriting engine: parse, detect, plan, rewrite (DESIGN.md sections 1, 2 and 6).

    >>> from coder import engine
    >>> result = engine.patch(source, "nano_jit_bf16_ipex")
    >>> result.source, result.warnings
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import transforms
from coder.engine.detect import Analysis, analyze
from coder.engine.plan import make_plan
from coder.engine.recipe import BASELINE, Recipe, recipe_for
from coder.engine.rewrite import RewriteError, apply
from coder.engine.source import ScriptError
from coder.engine.tree import Tree

NO_MODEL = "no model found: the script is left unchanged"
NO_INFERENCE = "no inference call found on a model: the script is left unchanged"
UNPARSABLE = "internal error: the patched script would not parse, so it is left unchanged (please report it)"


class CoderWarning(UserWarning):
    """Something coder left alone in a script (coder.patch issues these)."""


@dataclass(frozen=True)
class Patched:
    source: str
    warnings: tuple[str, ...]  # "LINE: message" or a message about the whole script


def analysis_of(source: str) -> Analysis:
    """Detection result for ``source`` (cached: one analysis serves every transform)."""
    return _cached_analysis(source)


@functools.lru_cache(maxsize=16)
def _cached_analysis(source: str) -> Analysis:
    return analyze(Tree(source))


def patch(source: str, transform: str | transforms.Transform | Recipe) -> Patched:
    """Apply a named transform (or "original", the plain baseline trace); raises ScriptError, UnknownTransform."""
    recipe = recipe_for(transform)
    analysis = analysis_of(source)
    if not analysis.models:
        return Patched(source, (*analysis.warnings, nothing_to_do(analysis)))
    plan = make_plan(analysis, recipe)
    warnings = tuple(sorted(plan.warnings, key=_line_of))
    try:
        return Patched(apply(analysis.tree, plan), warnings)
    except RewriteError:
        return Patched(source, (*warnings, UNPARSABLE))


def nothing_to_do(analysis: Analysis) -> str:
    """The closing warning for a script left unchanged because no model is placed."""
    return NO_INFERENCE if analysis.warnings else NO_MODEL


def patch_with_call(source: str, build: Callable[[str, str | None], str], *,
                    calibrates: bool = False, traces_graph: bool = True) -> Patched:
    """Like :func:`patch` with a custom call: ``build(model_source, loader_source_or_None)``."""
    return patch(source, Recipe("custom", build, calibrates, traces_graph))


def inspect(source: str) -> dict:
    """What was detected, in the JSON shape of DESIGN section 5 (lines 1-based, in the script)."""
    analysis = analysis_of(source)
    placed = [m for m in analysis.models if m.placed]
    return {
        "models": [{"var": m.var, "line": m.line, "ready_line": m.ready.line, "scope": m.scope} for m in placed],
        "inference": _unique([{"model": m.var, "line": s.line} for m in placed for s in m.sites]),
        "loaders": [{"var": l.var, "line": l.line} for l in analysis.loaders],
    }


def _unique(rows: list[dict]) -> list[dict]:
    seen, unique = set(), []
    for row in sorted(rows, key=lambda r: (r["line"], r["model"])):
        if (key := tuple(row.values())) not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def _line_of(warning: str) -> int:
    head = warning.split(":", 1)[0]
    return int(head) if head.isdigit() else 0


__all__ = ["BASELINE", "NO_INFERENCE", "NO_MODEL", "Analysis", "CoderWarning", "Patched", "Recipe", "ScriptError", "analysis_of", "inspect", "nothing_to_do",
           "patch", "patch_with_call"]
