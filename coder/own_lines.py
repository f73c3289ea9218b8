"""The user's own line numbers in a patched run: a traceback names the script's lines, not the patched ones.

The patched script is compiled from its syntax tree, each node moved to the line it comes from in
the original script (the lines are matched by their text without indentation, with difflib). An
injected line takes its nearest original neighbour: the statement it wraps for a line opening a
block (``with InferenceOptimizer.get_context(model):``), else the line above it (the optimizer
call after the model's ready point, the import). Columns follow the indentation change, and are
dropped (no carets) on a line whose text the patch changed.
"""

from __future__ import annotations

import ast
import difflib
import warnings
from typing import NamedTuple


class OwnLine(NamedTuple):
    line: int  # 1-based, in the original script
    shift: int | None  # columns to subtract on this line (the indentation the patch added), None: unknown


def own_lines(original: str, patched: str) -> dict[int, OwnLine]:
    """For each line of ``patched`` (1-based), the original line it comes from."""
    before, after = original.splitlines(), patched.splitlines()
    matcher = difflib.SequenceMatcher(None, [s.strip() for s in before], [s.strip() for s in after], autojunk=False)
    lines = {}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for j in range(j1, j2):
            i = i1 + j - j1
            if tag == "equal":
                lines[j + 1] = OwnLine(i + 1, _indent(after[j]) - _indent(before[i]))
            elif tag == "replace" and i < i2:  # a line the patch changed (``with torch.no_grad(), ...:``)
                lines[j + 1] = OwnLine(i + 1, None)
            else:
                lines[j + 1] = OwnLine(_neighbour(after[j], i2, len(before)), None)
    return lines


def _neighbour(injected: str, following: int, count: int) -> int:
    """``following`` is the 0-based index of the original line after the injected one."""
    line = following + 1 if injected.rstrip().endswith(":") else following
    return min(max(line, 1), max(count, 1))


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def compile_as_original(patched: str, original: str, path: str):
    """The code object of ``patched`` whose line numbers (and columns) are those of ``original``."""
    lines = own_lines(original, patched)
    with warnings.catch_warnings(record=True) as caught:  # SyntaxWarning: said at the user's line
        warnings.simplefilter("always")
        tree = ast.parse(patched, path)
    for said in caught:
        warnings.warn_explicit(said.message, said.category, path, lines.get(said.lineno, OwnLine(said.lineno, 0)).line)
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) is not None and getattr(node, "end_lineno", None) is not None:
            _move(node, lines)
    return compile(tree, path, "exec", dont_inherit=True)


def _move(node: ast.AST, lines: dict[int, OwnLine]) -> None:
    start, end = lines[node.lineno], lines[node.end_lineno]
    node.lineno, node.end_lineno = start.line, max(end.line, start.line)
    if start.shift is None or end.shift is None or end.line < start.line:
        node.col_offset = node.end_col_offset = -1  # no columns: the traceback shows no carets
        return
    node.col_offset = max(node.col_offset - start.shift, 0)
    node.end_col_offset = max(node.end_col_offset - end.shift, 0)
    if node.lineno == node.end_lineno and node.end_col_offset < node.col_offset:
        node.col_offset = node.end_col_offset = -1
