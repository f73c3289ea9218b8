"""Findings: one code per kind, each documented in docs/ENGINE.md, shown the way ruff shows its own."""

from pathlib import Path

from coder.engine import outcome

ENGINE_DOC = Path(__file__).resolve().parents[2] / "docs" / "ENGINE.md"
KINDS = [value for value in vars(outcome).values() if isinstance(value, outcome.Kind)]


def test_every_code_is_unique_and_documented():
    assert len({kind.code for kind in KINDS}) == len(KINDS) >= 12
    documented = ENGINE_DOC.read_text()
    assert [kind.code for kind in KINDS if f"| {kind.code} | {kind.name} |" not in documented] == []


def test_shown_ruff_style_with_or_without_a_position():
    placed = outcome.ALREADY_OPTIMIZED.at((6, 1), var="model", label="torch.compile")
    assert (
        placed.located("s.py") == "s.py:6:1: C101 'model' is already optimized with torch.compile: "
        "not adding a second optimization"
    )
    assert outcome.NO_MODEL.at().located("s.py") == "s.py: C001 no model found: the script is left unchanged"
    assert placed.as_json() == {
        "code": "C101",
        "name": "already-optimized",
        "line": 6,
        "column": 1,
        "message": placed.message,
    }
