"""One pass over the tree collecting what detection looks up: calls, definitions, assignments."""

from __future__ import annotations

from collections import defaultdict

import libcst as cst


class Index(cst.CSTVisitor):
    """Every call, function, class, assignment and ``with`` of the parsed statements."""

    def __init__(self, module: cst.Module) -> None:
        self.calls: list[cst.Call] = []
        self.functions: dict[str, list[cst.FunctionDef]] = defaultdict(list)
        self.classes: dict[str, cst.ClassDef] = {}
        self.assignments: list[cst.Assign | cst.AnnAssign] = []
        self.returns_in: dict[cst.FunctionDef, list[cst.Return]] = defaultdict(list)
        self.assignments_in: dict[cst.FunctionDef | None, list[cst.Assign | cst.AnnAssign]] = defaultdict(list)
        self._functions: list[cst.FunctionDef | None] = [None]
        module.visit(self)

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions[node.name.value].append(node)
        self._functions.append(node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes[node.name.value] = node

    def visit_Assign(self, node: cst.Assign) -> None:
        self.assignments.append(node)
        self.assignments_in[self._functions[-1]].append(node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.assignments.append(node)
            self.assignments_in[self._functions[-1]].append(node)

    def visit_Return(self, node: cst.Return) -> None:
        if self._functions[-1] is not None:
            self.returns_in[self._functions[-1]].append(node)

    def calls_named(self, name: str) -> list[cst.Call]:
        """Calls of ``name(...)`` or ``self.name(...)``."""
        return [c for c in self.calls if callee_name(c) == name]


def callee_name(call: cst.Call) -> str | None:
    func = call.func
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
        return func.attr.value
    return None


def assignment_pairs(node: cst.Assign | cst.AnnAssign) -> list[tuple[cst.BaseExpression, int | None]]:
    """(target, position in a tuple value or None) for each simple target of an assignment."""
    targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
    pairs: list[tuple[cst.BaseExpression, int | None]] = []
    for target in targets:
        if isinstance(target, (cst.Tuple, cst.List)):
            pairs += [(e.value, i) for i, e in enumerate(target.elements)]
        else:
            pairs.append((target, None))
    return pairs


def binding_text(target: cst.BaseExpression) -> str | None:
    """``model`` or ``self.model``: the assignment targets coder can refer to again."""
    if isinstance(target, cst.Name):
        return target.value
    if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self":
        return f"self.{target.attr.value}"
    return None
