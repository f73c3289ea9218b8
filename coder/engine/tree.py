"""A parsed script: the LibCST tree of its relevant statements plus the metadata detection needs."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, ScopeProvider

from coder.engine.source import Reduced, ScriptError, check_syntax, relevant_chunks, split_lines

BOUNDARIES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


class Tree:
    """The script's relevant statements as one LibCST module, with parents, lines and names."""

    def __init__(self, source: str) -> None:
        syntax = check_syntax(source)
        self.source = source
        self.lines = split_lines(source)
        self.syntax = syntax
        self.reduced = Reduced(self.lines, relevant_chunks(syntax, self.lines))
        try:
            wrapper = MetadataWrapper(cst.parse_module(self.reduced.text), unsafe_skip_copy=True)
        except cst.ParserSyntaxError as error:
            raise ScriptError(str(error.message), *self._script_position(error)) from None
        self.module = wrapper.module
        metadata = wrapper.resolve_many([PositionProvider, ScopeProvider])
        self._positions = metadata[PositionProvider]
        self.scopes = metadata[ScopeProvider]
        self._parents = _Parents(self.module).parents

    def _script_position(self, error: cst.ParserSyntaxError) -> tuple[int, int]:
        return self.reduced.script_line(max(error.raw_line, 1)), error.raw_column + 1

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self._parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        parent = self._parents.get(node)
        while parent is not None:
            yield parent
            parent = self._parents.get(parent)

    def line(self, node: cst.CSTNode) -> int:
        return self.reduced.script_line(self._positions[node].start.line)

    def qualified(self, node: cst.CSTNode) -> set[str]:
        scope = self.scopes.get(node)  # asked of the scope directly: cheaper than QualifiedNameProvider
        return {q.name for q in scope.get_qualified_names_for(node)} if scope is not None else set()

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node).strip()

    def statement_of(self, node: cst.CSTNode) -> cst.BaseStatement | None:
        """The statement directly in a block (module or indented body) that holds ``node``."""
        for candidate in [node, *self.ancestors(node)]:
            if isinstance(self.parent(candidate), (cst.IndentedBlock, cst.Module)):
                return candidate
        return None

    def enclosing(self, node: cst.CSTNode, kinds=BOUNDARIES) -> cst.CSTNode | None:
        """The nearest function, class or lambda around ``node``."""
        return next((a for a in self.ancestors(node) if isinstance(a, kinds)), None)

    def within(self, node: cst.CSTNode, container: cst.CSTNode) -> bool:
        return node is container or any(a is container for a in self.ancestors(node))

    def scope_name(self, node: cst.CSTNode) -> str:
        names = [a.name.value for a in self.ancestors(node) if isinstance(a, (cst.FunctionDef, cst.ClassDef))]
        return ".".join(reversed(names)) or "<module>"


class _Parents(cst.CSTVisitor):
    """Each node's parent (ParentNodeProvider's answer, in one lighter pass)."""

    def __init__(self, module: cst.Module) -> None:
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self._stack: list[cst.CSTNode] = []
        module.visit(self)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self._stack:
            self.parents[node] = self._stack[-1]
        self._stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self._stack.pop()
