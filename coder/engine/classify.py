"""Which expressions build a model: factories, in-file classes and helpers, pipelines."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from coder.engine import names
from coder.engine.index import Index, assignment_pairs
from coder.engine.tree import Tree


@dataclass(frozen=True)
class Built:
    """What an expression evaluates to: a model or a pipeline, maybe already optimized."""

    kind: str  # "model" or "pipeline"
    optimized_by: str | None = None
    certain: bool = True  # False for torch.load: maybe a state dict, a model only if it is called


def strip_chain(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``factory(...).eval().to(device)`` -> ``factory(...)``."""
    while (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute)
           and expr.func.attr.value in names.CHAINABLE_METHODS):
        expr = expr.func.value
    return expr


def _defines_forward(node: cst.ClassDef) -> bool:
    """A class with a forward() method is a module even when coder cannot resolve its base."""
    return any(isinstance(s, cst.FunctionDef) and s.name.value == "forward" for s in node.body.body)


class Classifier:
    def __init__(self, tree: Tree, index: Index) -> None:
        self.tree, self.index = tree, index
        self.model_classes = self._model_classes()
        self.helpers: dict[str, dict[int | None, Built]] = {}
        for _ in range(3):  # helpers calling helpers
            self.helpers = {name: found for name, defs in index.functions.items()
                            if (found := self._returned_models(defs[-1]))}

    def classify(self, expr: cst.BaseExpression, position: int | None = None) -> Built | None:
        expr = strip_chain(expr)
        if isinstance(expr, (cst.Tuple, cst.List)):
            inside = position is not None and position < len(expr.elements)
            return self.classify(expr.elements[position].value) if inside else None
        if not isinstance(expr, cst.Call):
            return None
        if position is not None:
            return self._local_helper(expr, position)
        return self._built_by_call(expr)

    def _built_by_call(self, call: cst.Call) -> Built | None:
        qualified = self.tree.qualified(call.func)
        if any(names.is_model_factory(q) for q in qualified) or self._dynamic_factory(call.func):
            return Built("model", certain=not any(names.is_uncertain(q) for q in qualified))
        if any(names.is_pipeline(q) for q in qualified):
            return Built("pipeline")
        if compiled := next(filter(None, map(names.compiled_factory_label, qualified)), None):
            return Built("model", compiled)
        label = next(filter(None, map(names.optimizer_label, qualified)), None)
        if label and call.args:
            inner = self.classify(call.args[0].value)
            return Built(inner.kind, label) if inner else None
        if isinstance(call.func, cst.Name) and call.func.value in self.model_classes:
            return Built("model")
        return self._local_helper(call, None)

    def _local_helper(self, call: cst.Call, position: int | None) -> Built | None:
        if isinstance(call.func, cst.Name):
            return self.helpers.get(call.func.value, {}).get(position)
        return None

    def _dynamic_factory(self, func: cst.BaseExpression) -> bool:
        """``models.__dict__[name](...)`` and ``getattr(models, name)(...)``."""
        if isinstance(func, cst.Subscript) and isinstance(func.value, cst.Attribute):
            owner = func.value
            return owner.attr.value == "__dict__" and self._is_namespace(owner.value)
        if isinstance(func, cst.Call) and isinstance(func.func, cst.Name) and func.func.value == "getattr":
            return bool(func.args) and self._is_namespace(func.args[0].value)
        return False

    def _is_namespace(self, expr: cst.BaseExpression) -> bool:
        return any(names.is_model_namespace(q) for q in self.tree.qualified(expr))

    def _model_classes(self) -> set[str]:
        found: set[str] = set()
        for _ in range(3):  # classes deriving from classes of the file
            found = {name for name, node in self.index.classes.items()
                     if _defines_forward(node) or any(self._is_model_base(base.value, found) for base in node.bases)}
        return found

    def _is_model_base(self, base: cst.BaseExpression, known: set[str]) -> bool:
        if isinstance(base, cst.Name) and base.value in known:
            return True
        return any(names.is_model_base(q) for q in self.tree.qualified(base))

    def _returned_models(self, function: cst.FunctionDef) -> dict[int | None, Built]:
        found: dict[int | None, Built] = {}
        for node in self.index.returns_in.get(function, ()):
            if node.value is None:
                continue
            if isinstance(node.value, cst.Tuple):
                returned = [(i, element.value) for i, element in enumerate(node.value.elements)]
            else:
                returned = [(None, node.value)]
            for position, value in returned:
                built = self._returned_value(function, value)
                if built:
                    found[position] = built
        return found

    def _returned_value(self, function: cst.FunctionDef, value: cst.BaseExpression) -> Built | None:
        if not isinstance(value, cst.Name):
            return self.classify(value)
        for node in self.index.assignments_in.get(function, ()):
            for target, position in assignment_pairs(node):
                if isinstance(target, cst.Name) and target.value == value.value:
                    if built := self.classify(node.value, position):
                        return built
        return None
