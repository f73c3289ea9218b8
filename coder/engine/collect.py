"""One pass over the analysis view collecting what detection looks up: assignments, calls, returns."""

from __future__ import annotations

from collections import defaultdict

import libcst as cst
import libcst.matchers as m
from libcst.helpers import get_full_name_for_node

# the assignment targets coder can refer to again: ``model``, ``self.model``
BINDABLE = m.Name() | m.Attribute(value=m.Name("self"))
# how a script refers to a model: ``model``, ``self.model``, ``clf.model``
REFERABLE = m.Name() | m.Attribute(value=m.Name())


class Collected(cst.CSTVisitor):
    """Every assignment with a value, call and return of the view, in script order; assignments
    and returns also by the function they are in (the innermost one; None outside functions)."""

    def __init__(self, view: cst.Module) -> None:
        self.assignments: list[cst.Assign | cst.AnnAssign] = []
        self.calls: list[cst.Call] = []
        self.assignments_in: dict[cst.FunctionDef | None, list[cst.Assign | cst.AnnAssign]] = defaultdict(list)
        self.returns_in: dict[cst.FunctionDef, list[cst.Return]] = defaultdict(list)
        self._functions: list[cst.FunctionDef | None] = [None]
        view.visit(self)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._functions.pop()

    def visit_Assign(self, node: cst.Assign) -> None:
        self._assignment(node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._assignment(node)

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_Return(self, node: cst.Return) -> None:
        if self._functions[-1] is not None:
            self.returns_in[self._functions[-1]].append(node)

    def _assignment(self, node: cst.Assign | cst.AnnAssign) -> None:
        self.assignments.append(node)
        self.assignments_in[self._functions[-1]].append(node)


def assignment_pairs(node: cst.Assign | cst.AnnAssign) -> list[tuple[cst.BaseExpression, int | None]]:
    """(target, position in a tuple value or None) for each target of an assignment."""
    targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
    pairs: list[tuple[cst.BaseExpression, int | None]] = []
    for target in targets:
        if isinstance(target, (cst.Tuple, cst.List)):
            pairs += [(e.value, i) for i, e in enumerate(target.elements)]
        else:
            pairs.append((target, None))
    return pairs


def bound_name(target: cst.BaseExpression) -> str | None:
    """``model`` or ``self.model`` for the targets coder can refer to again, else None."""
    return get_full_name_for_node(target) if m.matches(target, BINDABLE) else None


def spelled(expr: cst.BaseExpression) -> str | None:
    """``model``, ``self.model``: how ``expr`` names a model (None for anything longer or computed)."""
    return get_full_name_for_node(expr) if m.matches(expr, REFERABLE) else None


def spelled_as(var: str) -> m.MatchIfTrue:
    """Matches an expression that names ``var``."""
    return m.MatchIfTrue(lambda expr: spelled(expr) == var)
