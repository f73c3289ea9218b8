"""What an expression builds: a model, a pipeline, a candidate for one, or something that is not one.

Factories, pipelines, optimizers and known non-models are recognised by their qualified names
(patterns.py); the script's own model classes and helper functions through the scope of the
name called; the script's sibling modules by reading them (siblings.py). Anything else that is
called or indexed is a candidate with no weight of its own: evidence.py weighs its uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from coder.engine import injected, patterns
from coder.engine.collect import Collected, assignment_pairs
from coder.engine.parse import Script
from coder.engine.siblings import Siblings

CERTAIN = 2  # the weight of evidence that makes a model (evidence.THRESHOLD): a known model builder has it alone


@dataclass(frozen=True)
class Wrapping:
    """``model = torch.compile(build())``: the script's optimizing call around the model as built."""

    label: str
    call: cst.Call
    inner: cst.BaseExpression


@dataclass(frozen=True)
class Built:
    builder: str  # what builds it, as --inspect names it
    prior: int = CERTAIN  # evidence weight of the builder alone (torch.load: 1, an unknown call: 0)
    pipeline: str | None = None  # a pipeline or library object: the path of its torch module ("model", "unet")
    wrapped: Wrapping | None = None  # built inside the script's own optimizing call
    compiled: str | None = None  # loaded already compiled (torch.jit.load): only a runtime that takes it
    not_model: str | None = None  # built by a library that never gives a model: "a tokenizer"
    methods: tuple[str, ...] = ()  # inference methods besides calling it (SentenceTransformer.encode)

    @property
    def certain(self) -> bool:
        return self.prior >= CERTAIN and self.not_model is None


class Builders:
    def __init__(self, script: Script, collected: Collected, siblings: Siblings | None = None) -> None:
        self.script, self.collected = script, collected
        self.siblings = siblings or Siblings(None)
        self._returned: dict[cst.FunctionDef, dict[int | None, Built]] = {}
        self._model_class: dict[cst.ClassDef, bool] = {}

    def built_by(self, expr: cst.BaseExpression, position: int | None = None) -> Built | None:
        """What ``expr`` builds; ``position``: the element of a tuple it returns that is assigned."""
        while patterns.CHAINED_PREPARATION.found(self.script, expr):  # build().eval().to(device)
            expr = expr.func.value
        if isinstance(expr, (cst.Tuple, cst.List)):
            inside = position is not None and position < len(expr.elements)
            return self.built_by(expr.elements[position].value) if inside else None
        if isinstance(expr, cst.Subscript) and position is None:  # checkpoint["model"]
            return Built(f"an item of {self.script.code(expr.value)}", prior=0)
        if not isinstance(expr, cst.Call):
            return None
        if position is not None and (held := self._held_in_tuple(expr, position)) is not None:
            return held
        return self._built_by_call(expr) if position is None else self._returned_by_helper(expr, position)

    def _held_in_tuple(self, call: cst.Call, position: int) -> Built | None:
        """``model, preprocess = clip.load(...)``: the library object at ``position`` of the tuple."""
        name = self._name(call)
        at, path, runs = patterns.HELD_IN_TUPLE.get(name, (None, None, ()))
        return Built(name, pipeline=path, methods=runs) if at == position else None

    def _built_by_call(self, call: cst.Call) -> Built | None:
        if injected.is_optimizer_call(call):  # ``model = InferenceOptimizer.trace(model)``: still that model
            return None
        known = self._known(call)
        if known is not None:
            return known
        if self._is(call, patterns.OPTIMIZING_CALL) and call.args:
            return self._wrapped(call)
        if classes := [c for c in self._defined(call.func, cst.ClassDef) if self.is_model_class(c)]:
            if all(self._is(c, patterns.WEIGHTLESS_MODULE) for c in classes):
                return Built(
                    f"class {self.script.code(call.func)}", prior=0, not_model="a module without parameters or buffers"
                )
            return Built(f"class {self.script.code(call.func)}")
        if (classes := self._defined(call.func, cst.ClassDef)) and all(_plain(c) for c in classes):
            return Built(f"class {self.script.code(call.func)}", prior=0, not_model="a plain class of the script")
        if (returned := self._returned_by_helper(call, None)) is not None:
            return returned
        return self._from_elsewhere(call)

    def _known(self, call: cst.Call) -> Built | None:
        """Builders known by their qualified names."""
        name = self._name(call)
        if self._is(call, patterns.CHECKPOINT_LOAD):
            return Built("torch.load", prior=1)
        if self._is(call, patterns.HUB_AUTOSHAPE):
            return Built(name, pipeline="model")
        if self._is(call, patterns.LIBRARY_OBJECT):
            path, runs = patterns.held_module(name)
            return Built(name, pipeline=path, methods=runs)
        if self._is(call, patterns.MODEL_FACTORY) or self._is(call, patterns.MODEL_LOOKUP):
            return Built(name)
        if self._is(call, patterns.PIPELINE):
            return Built(name, pipeline="model")
        if self._is(call, patterns.DIFFUSION_PIPELINE):
            return Built(name, pipeline=patterns.denoiser_of(name))
        if self._is(call, patterns.COMPILED_MODEL_LOAD):
            return Built(name, compiled=patterns.label_of(self.script, call, patterns.COMPILED_LOADERS))
        return None

    def _wrapped(self, call: cst.Call) -> Built | None:
        """``torch.compile(build())``: what the innermost call builds, wrapped by the outermost."""
        inner = self.built_by(call.args[0].value)
        if inner is None or not inner.certain:
            return None
        label = patterns.label_of(self.script, call, patterns.OPTIMIZERS)
        wrapped = Wrapping(label, call, inner.wrapped.inner if inner.wrapped else call.args[0].value)
        return Built(inner.builder, pipeline=inner.pipeline, wrapped=wrapped, methods=inner.methods)

    def _from_elsewhere(self, call: cst.Call) -> Built:
        """A call coder cannot see into: a non-model, a sibling module's model, or a candidate."""
        name = self._name(call)
        if self._is(call, patterns.NOT_A_MODEL):
            return Built(name, prior=0, not_model=patterns.non_model_kind(name))
        if (described := self._sibling(call)) is not None:
            return Built(described)
        return Built(name, prior=0)

    def _sibling(self, call: cst.Call) -> str | None:
        return next(filter(None, map(self.siblings.describe, self.script.qualified(call.func))), None)

    def _name(self, call: cst.Call) -> str:
        """The qualified name of what is called (its code when it has none)."""
        return next(iter(self.script.qualified(call.func)), None) or self.script.code(call.func)

    def _is(self, call: cst.Call, pattern: patterns.Pattern) -> bool:
        return pattern.found(self.script, call)

    def is_model_class(self, node: cst.ClassDef) -> bool:
        """Derives from nn.Module or PreTrainedModel, defines forward(), or derives from such a class
        of the file or of a sibling module."""
        if node not in self._model_class:
            self._model_class[node] = False  # while it is being worked out (a cycle of bases)
            self._model_class[node] = patterns.MODEL_CLASS.found(self.script, node) or any(
                self._is_model_base(base.value) for base in node.bases
            )
        return self._model_class[node]

    def _is_model_base(self, base: cst.BaseExpression) -> bool:
        if any(self.is_model_class(c) for c in self._defined(base, cst.ClassDef)):
            return True
        return any(self.siblings.describe(name) for name in self.script.qualified(base))

    def returns_a_model(self, function: cst.FunctionDef) -> bool:
        return any(built.certain for built in self._models_returned(function).values())

    def _returned_by_helper(self, call: cst.Call, position: int | None) -> Built | None:
        helpers = self._defined(call.func, cst.FunctionDef)
        return self._models_returned(helpers[-1]).get(position) if helpers else None

    def _defined(self, expr: cst.BaseExpression, kind: type) -> list:
        """The definitions of ``kind`` a called name refers to, through its scope, in script order."""
        return [d for d in self.script.definitions(expr) if isinstance(d, kind)] if isinstance(expr, cst.Name) else []

    def _models_returned(self, function: cst.FunctionDef) -> dict[int | None, Built]:
        """What a helper returns that is (or may well be) a model, by position in the tuple it
        returns (None: the value itself)."""
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
                if (built := self._returned_value(function, value)) is not None:
                    found[position] = built
        return found

    def _returned_value(self, function: cst.FunctionDef, value: cst.BaseExpression) -> Built | None:
        if not isinstance(value, cst.Name):
            return self._weighty(self.built_by(value))
        for node in self.collected.assignments_in.get(function, ()):
            for target, position in assignment_pairs(node):
                if isinstance(target, cst.Name) and target.value == value.value:
                    if (built := self._weighty(self.built_by(node.value, position))) is not None:
                        return built
        return None

    @staticmethod
    def _weighty(built: Built | None) -> Built | None:
        """What a helper passes on to its callers: a model, or what torch.load gives (not a candidate
        that only the evidence of the helper's own uses could make a model)."""
        return built if built is not None and built.prior > 0 and built.not_model is None else None


def _plain(node: cst.ClassDef) -> bool:
    """``class Runner:`` or ``class Runner(object):``: an object of the script, not a torch module (a
    model it holds on ``self`` is found where it is assigned)."""
    return all(isinstance(base.value, cst.Name) and base.value.value == "object" for base in node.bases)
