"""No crash on any parsable program (hypothesmith): random programs alone come back byte for byte,
and random code placed around and inside a model script patches, parses, and patches again to the
same text.

The suite runs a few examples; CODER_PROPERTY_EXAMPLES=2000 runs many more (docs/ENGINE.md gives
the figure of such a run).
"""

import os
import sys

import hypothesmith
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from coder import engine
from tests.engine.test_odd_formatting import MODEL_SCRIPT

EXAMPLES = int(os.environ.get("CODER_PROPERTY_EXAMPLES", "20"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
PROGRAMS = st.one_of(hypothesmith.from_grammar(), hypothesmith.from_node())
LINES = "".join(MODEL_SCRIPT).splitlines(True)  # line 6 is the one inside ``with torch.no_grad():``
TRANSFORM = "nano_jit_fp32"


@pytest.fixture(autouse=True, scope="module")
def python_default_recursion_limit():
    """Python's own limit while random programs are parsed: an Inductor compile earlier in the same
    process raises it to 2000, and a deeply nested program then overflowed the C stack (the suite
    died with a segfault here) instead of raising RecursionError."""
    raised = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(raised)


def parsable(source: str) -> bool:
    try:
        engine.check_syntax(source)
    except engine.ScriptError:
        return False
    return True


def inside(program: str, line: int) -> str:
    """``program`` as lines of the model script, before its line ``line`` (in the ``with`` block:
    indented like it); a program that does not end its last line gets one."""
    program = program if program.endswith(("\n", "\r")) else program + "\n"
    indent = "    " if line == 6 else ""
    body = "".join(indent + part for part in program.splitlines(True)) if indent else program
    return "".join(LINES[:line]) + body + "".join(LINES[line:])


@PROPERTY
@given(PROGRAMS)
def test_a_random_program_alone_comes_back_byte_for_byte(program):
    assume(parsable(program))
    assert engine.patch(program, TRANSFORM).source == program


@PROPERTY
@given(PROGRAMS, st.integers(min_value=0, max_value=len(LINES)))
def test_random_code_around_and_inside_a_model_script_patches_and_is_stable(program, line):
    source = inside(program, line)
    assume(parsable(source))
    patched = engine.patch(source, TRANSFORM).source
    assert parsable(patched)
    assert engine.patch(patched, TRANSFORM).source == patched
