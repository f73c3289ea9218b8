"""Apply a plan: LibCST edits on the touched statements, spliced back into the untouched text."""

from __future__ import annotations

import ast

import libcst as cst

from coder.engine.plan import Plan
from coder.engine.source import splice
from coder.engine.tree import Tree

IMPORT = "from coder.backend import InferenceOptimizer"


class RewriteError(Exception):
    """The rewrite would not parse: a bug, reported as a warning with the script left unchanged."""


def context_call(targets: list[str]) -> cst.Call:
    return cst.parse_expression(f"InferenceOptimizer.get_context({', '.join(targets)})")


class Rewriter(cst.CSTTransformer):
    """Adds with-items, context arguments, wrapped bodies and statements, inserted calls."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def on_leave(self, original, updated):
        updated = super().on_leave(original, updated)
        if original in self.plan.extends:
            extra = [cst.Arg(cst.parse_expression(t)) for t in self.plan.extends[original]]
            updated = updated.with_changes(args=[*updated.args, *extra])
        if original in self.plan.items:
            item = cst.WithItem(context_call(self.plan.items[original]))
            updated = updated.with_changes(items=[*updated.items, item])
        if original in self.plan.bodies:
            updated = _wrap_body(updated, self.plan.bodies[original])
        if isinstance(original, cst.IndentedBlock):
            updated = updated.with_changes(body=self._with_inserts(original.body, updated.body))
        if original in self.plan.wraps:
            updated = wrap(updated, self.plan.wraps[original])
        return updated

    def _with_inserts(self, originals, updates) -> list[cst.BaseStatement]:
        body = []
        for original, updated in zip(originals, updates):
            body.append(updated)
            body += [cst.parse_statement(code) for code in self.plan.inserts.get(original, ())]
        return body


def wrap(statement: cst.BaseStatement, targets: list[str]) -> cst.With:
    """``with InferenceOptimizer.get_context(...):`` around one statement, keeping its comments above."""
    inner = statement.with_changes(leading_lines=())
    return cst.With(items=[cst.WithItem(context_call(targets))], body=cst.IndentedBlock(body=[inner]),
                    leading_lines=statement.leading_lines)


def _wrap_body(function: cst.FunctionDef, targets: list[str]) -> cst.FunctionDef:
    statements = list(function.body.body)
    docstring = statements[:1] if _is_docstring(statements[0]) else []
    rest = statements[len(docstring):]
    if not rest:
        return function
    first = rest[0]
    inner = [first.with_changes(leading_lines=()), *rest[1:]]
    block = cst.With(items=[cst.WithItem(context_call(targets))], body=cst.IndentedBlock(body=inner),
                     leading_lines=first.leading_lines)
    return function.with_changes(body=function.body.with_changes(body=[*docstring, block]))


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def apply(tree: Tree, plan: Plan) -> str:
    """The patched script text; the source itself when the plan is empty."""
    if plan.empty:
        return tree.source
    top = tree.module.body
    if len(top) != len(tree.reduced.chunks):
        raise AssertionError("statements and chunks out of step")
    touched = _touched_statements(tree, plan)
    rewriter = Rewriter(plan)
    replacements = {}
    for statement, chunk in zip(top, tree.reduced.chunks):
        if statement in touched:
            code = tree.module.code_for_node(statement.visit(rewriter))
            code += "".join(tree.module.code_for_node(cst.parse_statement(c)) for c in plan.inserts.get(statement, ()))
            replacements[chunk] = code
    _check_parses(replacements.values())
    return splice(tree.lines, replacements, _import_insertion(tree))


def _check_parses(pieces) -> None:
    """Each rewritten chunk is whole top-level statements: checking them checks the script."""
    for piece in pieces:
        try:
            ast.parse(piece)
        except SyntaxError as error:
            raise RewriteError(f"{error.msg} in:\n{piece}") from None


def _touched_statements(tree: Tree, plan: Plan) -> set[cst.CSTNode]:
    nodes = [*plan.inserts, *plan.items, *plan.extends, *plan.bodies, *plan.wraps]
    top = set(tree.module.body)
    return {next(n for n in [node, *tree.ancestors(node)] if n in top) for node in nodes}


def _import_insertion(tree: Tree) -> dict[int, str]:
    """The import line, after the script's leading imports (nothing when already imported)."""
    body = tree.syntax.body
    if any(isinstance(n, ast.ImportFrom) and n.module == "coder.backend"
           and any(a.name == "InferenceOptimizer" and a.asname is None for a in n.names) for n in body):
        return {}
    newline = "\r\n" if tree.lines and tree.lines[0].endswith("\r\n") else "\n"
    return {_import_line(tree): IMPORT + newline}


def _import_line(tree: Tree) -> int:
    """The line after which the import goes: the last leading import, docstring or header comment."""
    after = 0
    for index, node in enumerate(tree.syntax.body):
        is_docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not (is_docstring or isinstance(node, (ast.Import, ast.ImportFrom))):
            break
        after = node.end_lineno
    if after == 0:
        while after < len(tree.lines) and tree.lines[after].lstrip().startswith("#"):
            after += 1
    return after
