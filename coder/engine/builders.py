"""What an expression builds: a model or a pipeline, maybe already optimized.

Factories, pipelines and optimizers are recognised by their qualified names (patterns.py); the
script's own model classes and helper functions are found through the scope of the name called.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from coder.engine import patterns
from coder.engine.collect import Collected, assignment_pairs
from coder.engine.parse import Script


@dataclass(frozen=True)
class Built:
    pipeline: bool = False  # a transformers pipeline: its ``.model`` is what gets optimized
    optimized_by: str | None = None  # already compiled or optimized (named in the warning)
    certain: bool = True  # False for torch.load: maybe a state dict, a model only if it is called


MODEL = Built()


class Builders:
    def __init__(self, script: Script, collected: Collected) -> None:
        self.script, self.collected = script, collected
        self._returned: dict[cst.FunctionDef, dict[int | None, Built]] = {}
        self._model_class: dict[cst.ClassDef, bool] = {}

    def built_by(self, expr: cst.BaseExpression, position: int | None = None) -> Built | None:
        """What ``expr`` builds; ``position``: the element of a tuple it returns that is assigned."""
        while patterns.CHAINED_PREPARATION.found(self.script, expr):  # build().eval().to(device)
            expr = expr.func.value
        if isinstance(expr, (cst.Tuple, cst.List)):
            inside = position is not None and position < len(expr.elements)
            return self.built_by(expr.elements[position].value) if inside else None
        if not isinstance(expr, cst.Call):
            return None
        return self._built_by_call(expr) if position is None else self._returned_by_helper(expr, position)

    def _built_by_call(self, call: cst.Call) -> Built | None:
        if self._is(call, patterns.CHECKPOINT_LOAD):
            return Built(certain=False)
        if self._is(call, patterns.MODEL_FACTORY) or self._is(call, patterns.MODEL_LOOKUP):
            return MODEL
        if self._is(call, patterns.PIPELINE):
            return Built(pipeline=True)
        if self._is(call, patterns.COMPILED_MODEL_LOAD):
            return Built(optimized_by=patterns.label_of(self.script, call, patterns.COMPILED_LOADERS))
        if self._is(call, patterns.OPTIMIZING_CALL) and call.args:
            inner = self.built_by(call.args[0].value)
            label = patterns.label_of(self.script, call, patterns.OPTIMIZERS)
            return Built(inner.pipeline, label) if inner else None
        if any(self.is_model_class(c) for c in self._defined(call.func, cst.ClassDef)):
            return MODEL
        return self._returned_by_helper(call, None)

    def _is(self, call: cst.Call, pattern: patterns.Pattern) -> bool:
        return pattern.found(self.script, call)

    def is_model_class(self, node: cst.ClassDef) -> bool:
        """Derives from nn.Module or PreTrainedModel, defines forward(), or derives from such a class of the file."""
        if node not in self._model_class:
            self._model_class[node] = False  # while it is being worked out (a cycle of bases)
            self._model_class[node] = patterns.MODEL_CLASS.found(self.script, node) or any(
                self.is_model_class(c) for base in node.bases for c in self._defined(base.value, cst.ClassDef))
        return self._model_class[node]

    def _returned_by_helper(self, call: cst.Call, position: int | None) -> Built | None:
        helpers = self._defined(call.func, cst.FunctionDef)
        return self._models_returned(helpers[-1]).get(position) if helpers else None

    def _defined(self, expr: cst.BaseExpression, kind: type) -> list:
        """The definitions of ``kind`` a called name refers to, through its scope, in script order."""
        return [d for d in self.script.definitions(expr) if isinstance(d, kind)] if isinstance(expr, cst.Name) else []

    def _models_returned(self, function: cst.FunctionDef) -> dict[int | None, Built]:
        """What a helper returns, by position in the tuple it returns (None: the value itself)."""
        if function not in self._returned:
            self._returned[function] = {}  # while it is being worked out (recursive helpers)
            self._returned[function] = self._returns_of(function)
        return self._returned[function]

    def _returns_of(self, function: cst.FunctionDef) -> dict[int | None, Built]:
        found: dict[int | None, Built] = {}
        for node in self.collected.returns_in.get(function, ()):
            if node.value is None:
                continue
            elements = node.value.elements if isinstance(node.value, cst.Tuple) else None
            returned = list(enumerate(e.value for e in elements)) if elements is not None else [(None, node.value)]
            for position, value in returned:
                if built := self._returned_value(function, value):
                    found[position] = built
        return found

    def _returned_value(self, function: cst.FunctionDef, value: cst.BaseExpression) -> Built | None:
        if not isinstance(value, cst.Name):
            return self.built_by(value)
        for node in self.collected.assignments_in.get(function, ()):
            for target, position in assignment_pairs(node):
                if isinstance(target, cst.Name) and target.value == value.value:
                    if built := self.built_by(node.value, position):
                        return built
        return None
