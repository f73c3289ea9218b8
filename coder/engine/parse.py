"""Step 1, parse: the script as one LibCST tree, and the metadata detection reads.

The output is the code of this one tree after the transform, so every byte the transform does
not touch is the script's. Detection reads the tree through a view (view.py) in which the
top-level definitions that cannot matter are blanked out on as many lines; the metadata
(positions, parents, scopes, qualified names) is resolved on that view, so positions are the
script's own lines and columns.
"""

from __future__ import annotations

import ast
import os
import re
import warnings

import libcst as cst
from libcst.metadata import (
    Assignment,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from coder.engine.outcome import ScriptError
from coder.engine.view import NEWLINE, analysis_view

NEWLINE_AT_END = re.compile(r"(\r\n|\r|\n)\Z")
BOUNDARIES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


def parse(source: str) -> Script:
    """The script as one tree with its analysis view; ScriptError when it is not Python."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        check_syntax(source)  # CPython's message when CPython rejects the script too
        raise ScriptError(
            f"coder cannot read this syntax: {error.message}", error.raw_line, error.raw_column + 1
        ) from None
    return Script(source, module)


def check_syntax(source: str) -> None:
    """ScriptError with CPython's own message and position when ``source`` does not parse (its
    SyntaxWarnings are Python's to show when the script runs)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning, and DeprecationWarning before 3.12
            ast.parse(source)
    except SyntaxError as error:
        raise ScriptError(error.msg, error.lineno or 1, error.offset or 1) from None
    except ValueError as error:  # e.g. "source code string cannot contain null bytes"
        raise ScriptError(str(error)) from None


class Script(cst.MetadataDependent):
    """The parsed script: ``module`` is what the transform rewrites, ``view`` what detection reads.

    Every node detection hands on (to plan and transform) is a node of both.
    """

    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, ScopeProvider, QualifiedNameProvider)

    def __init__(self, source: str, module: cst.Module) -> None:
        super().__init__()
        self.source, self.module = source, module
        self._codes = {node: module.code_for_node(node) for node in (*module.header, *module.body, *module.footer)}
        self.end_of_file, self.unwritable_line = _write_back_check(source, code_of(module, self._codes))
        self.view = analysis_view(module, self._codes)
        self.metadata = MetadataWrapper(self.view, unsafe_skip_copy=True).resolve_many(self.METADATA_DEPENDENCIES)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.get_metadata(ParentNodeProvider, node, None)

    def ancestors(self, node: cst.CSTNode):
        parent = self.parent(node)
        while parent is not None:
            yield parent
            parent = self.parent(parent)

    def position(self, node: cst.CSTNode) -> tuple[int, int]:
        """(line, column) where ``node`` starts, both 1-based, in the script."""
        start = self.get_metadata(PositionProvider, node).start
        return start.line, start.column + 1

    def line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).start.line

    def last_line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).end.line

    def qualified(self, node: cst.CSTNode) -> list[str]:
        """Fully qualified names of ``node`` through the script's imports, sorted."""
        return sorted(q.name for q in self.get_metadata(QualifiedNameProvider, node, ()))

    def scope(self, node: cst.CSTNode):
        return self.get_metadata(ScopeProvider, node, None)

    def definitions(self, name: cst.Name) -> list[cst.CSTNode]:
        """What ``name`` refers to where it is used, through its scope: the nodes binding it
        (a def, a class, an import, an assignment target), in script order."""
        scope = self.scope(name)
        bindings = scope[name.value] if scope is not None else ()
        return sorted((b.node for b in bindings if isinstance(b, Assignment)), key=self.position)

    def code(self, node: cst.CSTNode) -> str:
        return self.view.code_for_node(node).strip()

    def statement_of(self, node: cst.CSTNode) -> cst.BaseStatement | None:
        """The statement directly in a block (the module or an indented body) that holds ``node``."""
        for candidate in [node, *self.ancestors(node)]:
            if isinstance(self.parent(candidate), (cst.IndentedBlock, cst.Module)):
                return candidate
        return None

    def enclosing(self, node: cst.CSTNode, kinds=BOUNDARIES) -> cst.CSTNode | None:
        """The nearest function, class or lambda around ``node`` (or of ``kinds``)."""
        return next((a for a in self.ancestors(node) if isinstance(a, kinds)), None)

    def within(self, node: cst.CSTNode, container: cst.CSTNode) -> bool:
        return node is container or any(a is container for a in self.ancestors(node))

    def scope_name(self, node: cst.CSTNode) -> str:
        names = [a.name.value for a in self.ancestors(node) if isinstance(a, (cst.FunctionDef, cst.ClassDef))]
        return ".".join(reversed(names)) or "<module>"

    def write(self, module: cst.Module) -> str:
        """The code of ``module`` (this tree, transformed), ending as the script itself ends."""
        code = code_of(module, self._codes)
        if self.end_of_file is None:
            return code
        written, actual = self.end_of_file
        if not code.endswith(written):  # the transform changed the end: the check on the result decides
            return code
        return code[: len(code) - len(written)] + actual


def code_of(module: cst.Module, known: dict[cst.CSTNode, str]) -> str:
    """``module.code``, with the code of the top-level statements (and the blank lines and comments
    around them) that are in ``known`` taken from there: the transform leaves most of them as they
    were parsed, so only the edited ones are written out again."""
    parts = [known.get(node) or module.code_for_node(node) for node in (*module.header, *module.body, *module.footer)]
    code = "".join(parts)
    if module.has_trailing_newline:
        return code or module.default_newline
    return NEWLINE_AT_END.sub("", code, count=1)  # LibCST drops the last token, always a line break


def _write_back_check(source: str, code: str) -> tuple[tuple[str, str] | None, int | None]:
    """When LibCST writes the tree back (``code``) differently from the script: (what it writes at
    the end, what the script has there) if only trailing whitespace differs; else the first line
    that does."""
    if code == source:
        return None, None
    same = len(os.path.commonprefix([code, source]))
    if not code[same:].strip() and not source[same:].strip():
        return (code[same:], source[same:]), None
    return None, len(NEWLINE.findall(source, 0, same)) + 1
