"""LibCST-CodemodTest-style checks for small inline cases: ``assert_codemod(before, after, ...)``."""

from __future__ import annotations

import ast
import textwrap

from coder import engine


def assert_codemod(
    before: str,
    after: str | None = None,
    *,
    transform: str = "nano_jit_fp32",
    expected_warnings: tuple[str, ...] = (),
    expected_skip: str | None = None,
    expected_failure: str | None = None,
) -> engine.Outcome:
    """Patch ``before`` (dedented) with ``transform`` and check the outcome.

    ``after``: the expected script (None: ``before`` unchanged, which then needs ``expected_skip``
    or ``expected_failure``, the code of the reason); ``expected_warnings``: each warning as
    ``LINE:COLUMN: CODE message``. The patched script must parse, and patching it again must
    change nothing.
    """
    before = textwrap.dedent(before)
    outcome = engine.patch(before, transform)
    assert outcome.source == (before if after is None else textwrap.dedent(after))
    assert tuple(str(w) for w in outcome.warnings) == tuple(expected_warnings)
    assert _reason_code(outcome, engine.Skipped) == expected_skip
    assert _reason_code(outcome, engine.Failed) == expected_failure
    ast.parse(outcome.source)
    assert engine.patch(outcome.source, transform).source == outcome.source
    return outcome


def _reason_code(outcome: engine.Outcome, kind: type) -> str | None:
    return outcome.reason.code if isinstance(outcome, kind) else None
