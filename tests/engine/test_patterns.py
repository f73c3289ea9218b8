"""Every detection pattern is found in each of its examples and in none of its counterexamples
(Fixit style: the examples live next to the pattern, in coder/engine/patterns.py)."""

import libcst.matchers as m
import pytest

from coder.engine import parse, patterns


def found_in(pattern: patterns.Pattern, code: str) -> bool:
    script = parse.parse(code + "\n")
    return bool(m.findall(script.view, pattern.matcher, metadata_resolver=script))


@pytest.mark.parametrize(
    "pattern,code",
    [(p, c) for p in patterns.PATTERNS for c in p.examples],
    ids=lambda v: v.name if isinstance(v, patterns.Pattern) else "",
)
def test_found_in_its_examples(pattern, code):
    assert found_in(pattern, code), f"{pattern.name} not found in:\n{code}"


@pytest.mark.parametrize(
    "pattern,code",
    [(p, c) for p in patterns.PATTERNS for c in p.counterexamples],
    ids=lambda v: v.name if isinstance(v, patterns.Pattern) else "",
)
def test_not_found_in_its_counterexamples(pattern, code):
    assert not found_in(pattern, code), f"{pattern.name} found in:\n{code}"


def test_every_pattern_has_examples_of_both_kinds_and_a_unique_name():
    assert all(p.examples and p.counterexamples for p in patterns.PATTERNS)
    assert len({p.name for p in patterns.PATTERNS}) == len(patterns.PATTERNS)
