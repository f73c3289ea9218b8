"""Odd but valid formatting around and inside a model script: it patches, parses, patches again to
the same text, and without a model comes back byte for byte.

The regression test for "statements and chunks out of step" (the engine once handed LibCST only
some top-level statements, cut by line, and spliced the edits back): backslash continuations,
tabs, form feeds, CRLF and lone-CR line endings, no final newline. Generated programs are
test_property.py's.
"""

import ast

import libcst as cst
import pytest

from coder import engine

MODEL_SCRIPT = [
    "import torch\n",
    "import torchvision.models as models\n",
    "model = models.resnet18()\n",
    "model.eval()\n",
    "x = torch.rand(1, 3, 8, 8)\n",
    "with torch.no_grad():\n    y = model(x)\n",
    "print(y)\n",
]
ODD = {
    "continued expression": "total = 1 + \\\n    2\n",
    "statements split by a continuation": "p = 1\\\n;r = 2\n",
    "continuation before a blank line": "u = 1 \\\n\n",
    "compound header continued": "if total: \\\n\tpass\n",
    "class on a continued line": "class T: \\\n  x = 1\n",
    "comprehension continued": "t = [i for i in\\\n     range(3)]\n",
    "comment ending in a backslash": "# comment \\\n",
    "tab-indented block": "if total:\n\ty = 3\n",
    "form feed line": "\x0c\n",
    "form feed before a def and in its indent": "\x0cdef h():\n\x0c    return 1\n",
    "whitespace-only lines": "\t\n   \n",
    "two statements on a line": "a = 1; b = 2\n",
    "one-line compound": "if True: q = 1\n",
    "multi-line string": "s = '''multi\nline'''\n",
    "decorated def with docstring": "@decorator\ndef g():\n    '''doc'''\n    return 1\n",
}
ENDINGS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r"}


def script(odd: str, where: int, ending: str, model: bool = True, final_newline: bool = True) -> str:
    lines = list(MODEL_SCRIPT) if model else []
    lines.insert(where, odd)
    text = "".join(lines).replace("\n", ending)
    return text if final_newline else text.rstrip("\r\n")


def patched(source: str, name: str = "nano_jit_fp32") -> str:
    result = engine.patch(source, name).source
    ast.parse(result)
    assert engine.patch(result, name).source == result
    return result


@pytest.mark.parametrize("ending", ENDINGS.values(), ids=ENDINGS.keys())
@pytest.mark.parametrize("odd", ODD.values(), ids=ODD.keys())
def test_around_and_inside_a_model_script(odd, ending):
    for where, final_newline in ((0, True), (4, True), (7, True), (7, False)):
        source = script(odd, where, ending, final_newline=final_newline)
        if not final_newline and source.endswith("\\"):
            continue  # a continuation at the end of the file is not Python
        outcome = engine.patch(source, "nano_jit_fp32")
        if isinstance(outcome, engine.Failed):  # only where LibCST itself does not give the script back
            assert outcome.reason.code == "C005" and cst.parse_module(source).code != source
            continue
        assert "InferenceOptimizer.get_context(model)" in patched(source), source


@pytest.mark.parametrize("ending", ENDINGS.values(), ids=ENDINGS.keys())
def test_without_a_model_every_byte_is_kept(ending):
    for odd in ODD.values():
        source = script(odd, 0, ending, model=False) + script(odd, 0, ending, model=False)
        assert patched(source) == source


def test_the_patched_script_keeps_the_scripts_line_endings():
    result = patched(script(ODD["tab-indented block"], 7, "\r"))
    assert "\n" not in result and "from coder.backend import InferenceOptimizer\r" in result


def test_a_line_libcst_does_not_write_back_leaves_the_script_with_a_reason():
    source = script("\\\nv = 0\n", 4, "\n")  # LibCST drops a line holding only a backslash
    result = engine.patch(source, "nano_jit_fp32")
    assert isinstance(result, engine.Failed) and result.source == source
    assert str(result.reason) == (
        "5:1: C005 LibCST does not write this line back as it is (a LibCST limitation): the script is left unchanged"
    )


@pytest.mark.parametrize("end", ["\r", "\n\n\t\n", "\n# the end \\\n", "\n\x0c\n\t"])
def test_the_end_of_the_file_is_kept_where_libcst_would_change_it(end):
    source = "".join(MODEL_SCRIPT).rstrip("\n").replace("\n", end[0] if end == "\r" else "\n") + end
    result = patched(source)
    assert result.endswith(end) and "get_context(model)" in result
