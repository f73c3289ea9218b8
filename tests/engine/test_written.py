"""The patched script is the code of the one transformed tree: parse.code_of, which reuses the code
of the top-level statements the transform did not touch, gives exactly ``module.code``."""

from pathlib import Path

import pytest

from coder import engine
from coder.engine import parse, transform
from coder.engine.plan import make_plan
from tests.engine.test_odd_formatting import ENDINGS, ODD, script

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SOURCES = [p.read_text() for p in sorted(FIXTURES.glob("*/input.py"))]
ODD_SCRIPTS = [
    script(odd, where, ending, final_newline=final)
    for odd in ODD.values()
    for ending in ENDINGS.values()
    for where, final in ((4, True), (7, False))
    if ending != "\n" or final
]
SOURCES += [source for source in ODD_SCRIPTS if not source.endswith("\\")]  # a final continuation is not Python


@pytest.mark.parametrize("source", SOURCES)
def test_the_code_written_is_the_code_of_the_tree(source):
    parsed = parse.parse(source)
    assert parse.code_of(parsed.module, {}) == parsed.module.code
    analysis = engine.analysis_of(source)
    if analysis.skip_reason is None:
        patched = transform.transformed(
            parsed, make_plan(engine.detect.detect(parsed), engine.optimizer_call_for("nano_bf16"))
        )
        assert parse.code_of(patched, parsed._codes) == patched.code


def test_an_empty_file_and_one_without_a_final_newline():
    for source in ("", "\n", "x = 1", "x = 1\r\n# end", "# only a comment"):
        module = parse.parse(source).module
        assert parse.code_of(module, {}) == module.code
