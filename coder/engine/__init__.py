"""The rewriting engine, in four steps (DESIGN.md sections 1, 2 and 6):

    parse.py      source ──▶ Script: one LibCST tree, and the metadata detection reads
    detect.py     Script ──▶ Analysis: models, ready points, inference sites, loaders, findings
    plan.py       Analysis + a transform's optimizer call ──▶ Plan: the edits
    transform.py  Plan ──▶ the patched tree, whose code is the patched script

In use:

    >>> from coder import engine
    >>> outcome = engine.patch(source, "nano_jit_bf16_ipex")   # Patched, Skipped or Failed
    >>> outcome.source, outcome.warnings
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from coder import transforms
from coder.engine import detect, outcome, parse
from coder.engine.detect import Analysis
from coder.engine.injected import BASELINE, OptimizerCall, optimizer_call_for
from coder.engine.outcome import Failed, Finding, Outcome, Patched, ScriptError, Skipped
from coder.engine.parse import check_syntax
from coder.engine.plan import make_plan
from coder.engine.siblings import Siblings
from coder.engine.transform import apply

# how --inspect names the transform in what a transform would do (C203)
ANY_TRANSFORM = OptimizerCall("-o NAME", lambda model, loader: "", traces_graph=False)


class CoderWarning(UserWarning):
    """Something coder left alone in a script (coder.patch issues these)."""


def analysis_of(source: str, path: str | None = None) -> Analysis:
    """Detection result for ``source``, the script at ``path`` (its folder holds the modules it
    imports; None: none is read). Cached: one analysis serves every transform."""
    return _cached_analysis(source, os.path.dirname(os.path.abspath(path)) if path is not None else None)


@functools.lru_cache(maxsize=16)
def _cached_analysis(source: str, folder: str | None) -> Analysis:
    return detect.detect(parse.parse(source), Siblings(folder))


def patch(
    source: str,
    transform: str | transforms.Transform | OptimizerCall,
    *,
    path: str | None = None,
    keep_existing: bool = False,
) -> Outcome:
    """Apply a named transform (or "original", the plain baseline trace) to the script ``source``
    read from ``path``; ``keep_existing``: leave models the script already optimizes as they are.
    Raises ScriptError, UnknownTransform."""
    call = optimizer_call_for(transform)
    analysis = analysis_of(source, path)
    if (reason := analysis.skip_reason) is not None:
        return _unchanged(Skipped(source, reason, tuple(analysis.findings)))
    edits = make_plan(analysis, call, keep_existing)
    warnings = _in_order(edits.warnings)
    if edits.empty:
        return _unchanged(Skipped(source, outcome.NOTHING_TO_CHANGE.at(), warnings))
    if (line := analysis.script.unwritable_line) is not None:
        return _unchanged(Failed(source, outcome.NOT_REPRODUCIBLE.at((line, 1)), warnings))
    return _checked(source, apply(analysis.script, edits), warnings)


def _unchanged(result: Skipped | Failed) -> Skipped | Failed:
    check_syntax(result.source)  # LibCST reads a few scripts CPython rejects
    return result


def _checked(source: str, patched: str, warnings: tuple[Finding, ...]) -> Patched | Failed:
    """The patched script if CPython parses it; a script that does not parse is given back unchanged."""
    try:
        check_syntax(patched)
    except ScriptError:
        return _unchanged(Failed(source, outcome.UNPARSABLE.at(), warnings))
    return Patched(patched, warnings)


def _in_order(findings: list[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (f.line or 0, f.column or 0)))


def patch_with_call(
    source: str,
    build: Callable[[str, str | None], str],
    *,
    calibrates: bool = False,
    traces_graph: bool = True,
    **options,
) -> Outcome:
    """Like :func:`patch` with a custom call: ``build(model_source, loader_source_or_None)``."""
    return patch(source, OptimizerCall("custom", build, calibrates, traces_graph), **options)


def inspect(source: str, path: str | None = None) -> dict:
    """What was detected, in the JSON shape of DESIGN section 5 (lines 1-based, in the script),
    plus ``warnings``: the findings about models left alone or optimizations replaced, or why the
    script is left alone; and ``candidates``: each value that may be a model, with the evidence
    for and against it."""
    check_syntax(source)
    analysis = analysis_of(source, path)
    placed = [m for m in analysis.models if m.placed and m.handed_over is None]  # a copy runs instead of these
    findings = [*_in_order(make_plan(analysis, ANY_TRANSFORM).warnings), *filter(None, [analysis.skip_reason])]
    return {
        "models": [{"var": m.var, "line": m.line, "ready_line": m.ready.line, "scope": m.scope} for m in placed],
        "inference": _unique([{"model": m.var, "line": s.line} for m in placed for s in m.sites]),
        "loaders": [{"var": loader.var, "line": loader.line} for loader in analysis.loaders],
        "warnings": [f.as_json() for f in findings],
        "candidates": [
            {"var": c.var, "line": c.line, "model": c.taken, "evidence": list(c.evidence)} for c in analysis.candidates
        ],
    }


def _unique(rows: list[dict]) -> list[dict]:
    seen, unique = set(), []
    for row in sorted(rows, key=lambda r: (r["line"], r["model"])):
        if (key := tuple(row.values())) not in seen:
            seen.add(key)
            unique.append(row)
    return unique


__all__ = [
    "BASELINE",
    "Analysis",
    "CoderWarning",
    "Failed",
    "Finding",
    "OptimizerCall",
    "Outcome",
    "Patched",
    "ScriptError",
    "Skipped",
    "analysis_of",
    "check_syntax",
    "inspect",
    "optimizer_call_for",
    "patch",
    "patch_with_call",
]
