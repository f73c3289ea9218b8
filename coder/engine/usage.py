"""Where a model is used: inference sites (also through functions it is passed to) and training."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from coder.engine import names
from coder.engine.index import Index
from coder.engine.tree import Tree


@dataclass(frozen=True)
class Site:
    """One inference call; ``target`` is how the model is spelled at that call."""

    call: cst.Call
    target: str
    line: int
    generate: bool


class Usage:
    """Finds the inference sites reached from the places a model is referred to."""

    def __init__(self, tree: Tree, index: Index) -> None:
        self.tree, self.index = tree, index
        self._steps = [c for c in index.calls if _is_training(c) and c.func.attr.value != "train"]

    def name_references(self, name: cst.Name | cst.Param) -> list[cst.CSTNode]:
        """Every read of the variable bound at ``name`` (an assignment target or a parameter)."""
        scope = self.tree.scopes.get(name)
        label = name.name.value if isinstance(name, cst.Param) else name.value
        if scope is None:
            return []
        for assignment in scope.assignments[label]:
            if getattr(assignment, "node", None) is name:
                return [access.node for access in assignment.references]
        return []

    def attribute_references(self, owner: cst.ClassDef, attribute: str) -> list[cst.CSTNode]:
        """Every ``self.<attribute>`` inside a class."""
        finder = _SelfAttributes(attribute)
        owner.visit(finder)
        return finder.found

    def sites(self, references: list[cst.CSTNode], target: str, seen: set | None = None) -> tuple[list[Site], list[cst.Call]]:
        """Inference sites reached from ``references``, and the calls through which they are reached."""
        seen = set() if seen is None else seen
        sites: list[Site] = []
        entries: list[cst.Call] = []
        for node in references:
            parent = self.tree.parent(node)
            if isinstance(parent, cst.Call) and parent.func is node:
                if not self._in_training_step(parent):
                    sites.append(Site(parent, target, self.tree.line(parent), False))
                    entries.append(parent)
            elif site := self._method_site(node, parent, target):
                sites.append(site)
                entries.append(site.call)
            elif isinstance(parent, cst.Arg):
                passed_sites = self._through_argument(parent, seen)
                sites += passed_sites
                if passed_sites:
                    entries.append(self.tree.parent(parent))
        return sites, entries

    def _in_training_step(self, call: cst.Call) -> bool:
        """A forward pass in a loop (or function) that also runs backward() or step(): training."""
        step = next((a for a in self.tree.ancestors(call) if isinstance(a, (cst.For, cst.While, cst.FunctionDef))), None)
        return step is not None and any(self.tree.within(c, step) for c in self._steps)

    def training_function(self, references: list[cst.CSTNode]) -> cst.FunctionDef | None:
        """A function that refers to the model and runs backward() or step()."""
        for reference in references:
            function = self.tree.enclosing(reference, (cst.FunctionDef,))
            if function is not None and any(self.tree.within(c, function) for c in self._steps):
                return function
        return None

    def _method_site(self, node: cst.CSTNode, parent: cst.CSTNode, target: str) -> Site | None:
        if not (isinstance(parent, cst.Attribute) and parent.value is node
                and parent.attr.value in names.INFERENCE_METHODS):
            return None
        call = self.tree.parent(parent)
        if isinstance(call, cst.Call) and call.func is parent:
            return Site(call, target, self.tree.line(call), parent.attr.value == "generate")
        return None

    def _through_argument(self, arg: cst.Arg, seen: set) -> list[Site]:
        call = self.tree.parent(arg)
        param = self._parameter_for(call, arg) if isinstance(call, cst.Call) else None
        if param is None or param in seen:
            return []
        seen.add(param)
        return self.sites(self.name_references(param), param.name.value, seen)[0]

    def _parameter_for(self, call: cst.Call, arg: cst.Arg) -> cst.Param | None:
        function = self._callee(call)
        if function is None or arg.star:
            return None
        params = list(function.params.posonly_params) + list(function.params.params)
        if arg.keyword is not None:
            matches = [p for p in params + list(function.params.kwonly_params) if p.name.value == arg.keyword.value]
            return matches[0] if matches else None
        offset = 1 if isinstance(call.func, cst.Attribute) else 0  # self.method(model): skip self
        position = [a for a in call.args if a.keyword is None].index(arg) + offset
        return params[position] if position < len(params) else None

    def _callee(self, call: cst.Call) -> cst.FunctionDef | None:
        func = call.func
        if isinstance(func, cst.Name):
            defs = self.index.functions.get(func.value)
            return defs[-1] if defs and len(defs) == 1 else None
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
            owner = self.tree.enclosing(call, (cst.ClassDef,))
            if owner is None:
                return None
            methods = [f for f in self.index.functions.get(func.attr.value, []) if self.tree.parent(self.tree.parent(f)) is owner]
            return methods[0] if methods else None
        return None

    def reaching_calls(self, nodes: list[cst.CSTNode], home: cst.CSTNode | None) -> list[cst.CSTNode]:
        """``nodes`` plus every call of a function (outside ``home``) that contains one of them."""
        result, seen, pending = list(nodes), set(), list(nodes)
        while pending:
            function = self.tree.enclosing(pending.pop(), (cst.FunctionDef,))
            if function is None or function is home or function in seen:
                continue
            seen.add(function)
            callers = self.index.calls_named(function.name.value)
            result += callers
            pending += callers
        return result

    def training_calls(self) -> list[cst.Call]:
        """``loss.backward()``, ``optimizer.step()``, ``model.train()`` and the like."""
        return [c for c in self.index.calls if _is_training(c)]


def _is_training(call: cst.Call) -> bool:
    if not isinstance(call.func, cst.Attribute):
        return False
    method = call.func.attr.value
    if method == "train":
        return not call.args or (isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == "True")
    if method == "step":  # optimizer.step(), not env.step(action) in a reinforcement-learning rollout
        return not call.args
    return method in names.TRAINING_METHODS


class _SelfAttributes(cst.CSTVisitor):
    def __init__(self, attribute: str) -> None:
        self.attribute, self.found = attribute, []

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if (node.attr.value == self.attribute and isinstance(node.value, cst.Name)
                and node.value.value == "self"):
            self.found.append(node)
