"""Step 2, detect: every model, the statement after which it is ready, its inference sites, loaders.

    script ──Collected (one pass)──▶ assignments, calls, returns
           ──Builders──▶ what each assignment (or call argument) builds (builders.py, patterns.py)
           ──weigh──▶ whether a candidate coder cannot resolve is a model (evidence.py)
           ──Uses──▶ where each model is called for inference, and what trains it (uses.py)
           ──existing_optimizations──▶ the script's own ipex/jit/compile calls on it (existing.py)
           ──find_ready_point──▶ where its optimizer call goes (ready.py)

A model is bound to a name by an assignment, or at a function's parameter: when it is built
inline as an argument (``run(AutoModel.from_pretrained(...))``), or when training and
evaluation alternate and the evaluation function puts it in eval mode. A model left alone
(trained where it is evaluated, ...) is kept with the finding that says why; a script with
nothing to place gets a reason to be skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import libcst as cst
import libcst.matchers as m
from libcst.helpers import get_full_name_for_node

from coder.engine import evidence, outcome, patterns
from coder.engine.builders import Builders, Built
from coder.engine.collect import Collected, assignment_pairs, bound_name, spelled
from coder.engine.existing import (
    Existing,
    Flags,
    Product,
    existing_optimizations,
    products,
    with_written,
    wrapping_optimization,
)
from coder.engine.parse import Script
from coder.engine.ready import ReadyPoint, find_ready_point
from coder.engine.siblings import Siblings
from coder.engine.uses import Site, Uses


@dataclass
class Model:
    var: str  # the name it is bound to: "model", "self.model", "classifier"
    target: str  # what is optimized: the model itself, or "<pipeline>.model"
    position: tuple[int, int]  # (line, column) of the assignment (or the argument) that builds it
    statement: cst.BaseStatement | cst.Param  # a Param: bound at a function's parameter
    scope: str
    built: Built
    sites: list[Site] = field(default_factory=list)
    ready: ReadyPoint | None = None
    skipped: outcome.Finding | None = None  # why it is left alone
    note: outcome.Finding | None = None  # said about it, but it is optimized
    references: list[cst.CSTNode] = field(default_factory=list)
    entries: list[cst.CSTNode] = field(default_factory=list)  # calls through which it is used for inference
    existing: list[Existing] = field(default_factory=list)  # the script's own optimizations of it
    products: list[Product] = field(default_factory=list)  # what the script writes of it (exports, saves)
    source: str | None = None  # an optimized copy of another model (``traced`` of ``model``): that one
    generative_pipeline: bool = False

    @property
    def line(self) -> int:
        return self.position[0]

    @property
    def placed(self) -> bool:
        return self.skipped is None and self.ready is not None

    @property
    def generates(self) -> bool:
        """Runs text generation, whose changing shapes a traced graph cannot follow."""
        return self.generative_pipeline or any(site.generate for site in self.sites)

    @property
    def handed_over(self) -> Existing | None:
        """The script's optimization that makes an optimized copy of it: the copy is the model that runs."""
        return next(
            (e for e in self.existing if e.derived not in (None, self.var) and e.by_default and not e.keeps_original),
            None,
        )


@dataclass(frozen=True)
class Candidate:
    """A value that may be a model, and the evidence for and against it (for --inspect)."""

    var: str
    line: int
    taken: bool
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Loader:
    var: str
    line: int
    statement: cst.BaseStatement


@dataclass
class Analysis:
    script: Script
    models: list[Model]  # used for inference, or left alone with a finding
    loaders: list[Loader]
    findings: list[outcome.Finding]
    training: list[cst.Call]
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def skip_reason(self) -> outcome.Finding | None:
        """Why the script is left unchanged whatever the transform (None: there is a model to place)."""
        if self.models:
            return None
        return (outcome.NO_INFERENCE if self.findings else outcome.NO_MODEL).at()


def detect(script: Script, siblings: Siblings | None = None) -> Analysis:
    return _Detection(script, siblings).analysis()


class _Detection:
    def __init__(self, script: Script, siblings: Siblings | None) -> None:
        self.script, self.collected = script, Collected(script.view)
        self.builders = Builders(script, self.collected, siblings)
        self.uses, self.flags = Uses(script, self.collected), Flags(script, self.collected)
        self.candidates: list[Candidate] = []

    def analysis(self) -> Analysis:
        models = self._bound_models() + self._imported_models() + self._inline_models()
        models += [copy for model in list(models) if (copy := self._copy_run(model)) is not None]
        models = [self._placed(model) if model.sites and not model.skipped else model for model in models]
        findings = [m.skipped for m in models if m.skipped]
        kept = [m for m in models if m.sites or m.skipped]
        if not kept:
            findings += [outcome.NEVER_CALLED.at(m.position, var=m.var) for m in models if m.built.certain]
        candidates = sorted(self.candidates, key=lambda c: (c.line, c.var))
        return Analysis(self.script, kept, self._loaders(), findings, self.uses.training, candidates)

    # --- models bound to a name

    def _bound_models(self) -> list[Model]:
        models = []
        for node in self.collected.assignments:
            owner = self.script.enclosing(node, (cst.ClassDef,))
            if owner is not None and self.builders.is_model_class(owner):
                continue  # a layer of a model being defined, not a model a script runs
            for target, position in assignment_pairs(node):
                built = self.builders.built_by(node.value, position)
                var = bound_name(target)
                if built is not None and var is not None and not _same_model_again(node.value, var):
                    model = self._model_at(node, target, var, built)
                    taken = self._if_taken(model, node.value) or self._holding_a_module(model, node, target)
                    taken = [self._through_module_method(t, node, target) for t in taken]
                    models += taken if any(m.sites for m in taken) else (self._unknown_holder(model) or taken)
        return models

    def _through_module_method(self, model: Model, node, target) -> Model:
        """A model run only through a method that runs one of its modules (``clip.get_image_features(
        **inputs)``): that module is optimized, and those calls are the inference sites."""
        if model.sites or model.built.pipeline is not None:
            return model
        methods = [c.func.attr.value for r in model.references if (c := self._method_call(r)) is not None]
        method = next((name for name in patterns.MODULE_OF_METHOD if name in methods), None)
        if method is None:
            return model
        built = replace(model.built, pipeline=patterns.MODULE_OF_METHOD[method], methods=(method,))
        return self._model_at(node, target, model.var, built)

    def _unknown_holder(self, model: Model) -> list[Model]:
        """A torch object (moved, or put in eval mode) that the script runs only through a library
        method (``obj.to(device); obj.predict(x)``), with nothing showing which module it holds:
        left as it is, with a finding that says why."""
        built = model.built
        if built.certain or built.not_model is not None or model.sites:
            return []
        methods = [c for r in model.references if (c := self._method_call(r)) is not None]
        ran = [c for c in methods if c.func.attr.value in patterns.LIBRARY_METHODS]
        torch_clue = any(
            patterns.MODULE_METHOD.found(self.script, c) or patterns.DEVICE_METHOD.found(self.script, c)
            for c in methods
        )
        if not (ran and torch_clue):
            return []
        model.skipped = outcome.HELD_MODULE_UNKNOWN.at(model.position, var=model.var, method=ran[0].func.attr.value)
        return [model]

    def _method_call(self, reference: cst.CSTNode) -> cst.Call | None:
        """``obj.method(...)`` for a reference to ``obj``."""
        attribute = self.script.parent(reference)
        call = self.script.parent(attribute) if isinstance(attribute, cst.Attribute) else None
        return call if isinstance(call, cst.Call) and call.func is attribute else None

    def _holding_a_module(self, model: Model, node, target) -> list[Model]:
        """An object coder does not know, run through its call or a library method (``predictor(img)``,
        ``engine.predict(img)``), one of whose attributes the script uses as a torch module
        (``predictor.model.eval()``): that module is optimized in place, the object kept."""
        built = model.built
        if built.certain or built.not_model is not None or built.pipeline is not None:
            return []
        runs = [r for r in model.references if self._runs_object(r)]
        held = next(filter(None, map(self._module_attribute, model.references)), None) if runs else None
        if held is None:
            return []
        holder = Built(f"{built.builder} (holding .{held})", pipeline=held, methods=patterns.LIBRARY_METHODS)
        found = self._model_at(node, target, model.var, holder)
        self.candidates.append(
            Candidate(
                model.var,
                model.line,
                True,
                (
                    f"built by {built.builder}: +0",
                    f"its attribute .{held} is used as a torch module: the module it holds",
                ),
            )
        )
        return [found] if found.sites else []

    def _runs_object(self, reference: cst.CSTNode) -> bool:
        """``obj(x)`` or ``obj.predict(x)``."""
        parent = self.script.parent(reference)
        if isinstance(parent, cst.Call) and parent.func is reference:
            return True
        call = self.script.parent(parent) if isinstance(parent, cst.Attribute) else None
        return isinstance(call, cst.Call) and call.func is parent and parent.attr.value in patterns.LIBRARY_METHODS

    def _module_attribute(self, reference: cst.CSTNode) -> str | None:
        """``model`` for ``obj.model.eval()`` (a torch-module method called on an attribute of ``obj``)."""
        attribute = self.script.parent(reference)
        method = self.script.parent(attribute) if isinstance(attribute, cst.Attribute) else None
        call = self.script.parent(method) if isinstance(method, cst.Attribute) else None
        if isinstance(call, cst.Call) and call.func is method and patterns.MODULE_METHOD.found(self.script, call):
            return attribute.attr.value
        return None

    def _if_taken(self, model: Model, value: cst.BaseExpression) -> list[Model]:
        """The model, if it is one: a known builder's, or a candidate with enough evidence."""
        if model.built.certain:
            verdict = evidence.Verdict((evidence.Clue(f"built by {model.built.builder}", model.built.prior),))
        else:
            verdict = evidence.weigh(self.script, model.built, model.var, value, self.uses.reached(model.references))
        if model.sites or model.built.certain:
            self.candidates.append(Candidate(model.var, model.line, verdict.taken, tuple(map(str, verdict.clues))))
        return [model] if verdict.taken else []

    def _model_at(self, node, target, var: str, built: Built) -> Model:
        statement = self.script.statement_of(node)
        optimized = patterns.held_target(var, built.pipeline) if built.pipeline else var
        model = Model(var, optimized, self.script.position(node), statement, self.script.scope_name(node), built)
        model.generative_pipeline = built.pipeline == "model" and patterns.GENERATIVE_PIPELINE.found(
            self.script, node.value
        )
        model.references = self._references(target, model)
        model.sites, model.entries = self._sites(model)
        model.products = products(self.script, model.references)
        model.existing = with_written(self._existing(model, self.script.parent(statement)), model.products)
        model.skipped = self._left_alone(model, target)
        return model

    def _existing(self, model: Model, block: cst.CSTNode) -> list[Existing]:
        found = existing_optimizations(self.script, self.flags, model, block)
        if model.built.wrapped is None:
            return found
        return [wrapping_optimization(self.script, model.built.wrapped, model.statement), *found]

    def _left_alone(self, model: Model, target) -> outcome.Finding | None:
        """Why the model is left as it is, known from how it is built and trained (None: it is not)."""
        in_a_class = model.sites and isinstance(target, cst.Attribute)
        trainer = self.uses.training_function(model.references) if in_a_class else None
        if trainer is not None:
            return outcome.TRAINED_IN_METHOD.at(
                model.position, var=model.var, method=trainer.name.value, line=self.script.line(trainer)
            )
        one_statement = isinstance(model.statement, cst.SimpleStatementLine) and len(model.statement.body) == 1
        if model.sites and not one_statement:
            return outcome.NO_ROOM_AFTER.at(model.position, var=model.var)
        return None

    def _references(self, target, model: Model) -> list[cst.CSTNode]:
        if isinstance(target, cst.Name):
            return self._live_references(target, model)
        owner = self.script.enclosing(target, (cst.ClassDef,))
        return self.uses.attribute_references(owner, target.attr.value) if owner else []

    def _sites(self, model: Model) -> tuple[list[Site], list[cst.CSTNode]]:
        sites, entries = self.uses.sites(model.references, model.var, methods=model.built.methods)
        inner = model.target[len(model.var) :]  # ".model" for a pipeline, "" for a model
        return [Site(s.call, s.target + inner, s.line, s.generate) for s in sites], entries

    def _live_references(self, target: cst.Name, model: Model) -> list[cst.CSTNode]:
        """References after the model is built and before its name is bound to something else."""
        home = self.script.scope(target)
        end = self._rebinding_line(target, model)
        return [
            r
            for r in self.uses.name_references(target)
            if self.script.scope(r) is not home or model.line < self.script.line(r) < end
        ]

    def _rebinding_line(self, target: cst.Name, model: Model) -> float:
        scope = self.script.scope(target)
        lines = [
            self.script.line(a.node)
            for a in scope.assignments[target.value]
            if isinstance(a.node, cst.Name)
            and a.node is not target
            and not self._rebinds_itself(a.node)
            and self._encloses(a.node, model.statement)
        ]
        return min([line for line in lines if line > model.line], default=float("inf"))

    def _encloses(self, rebinding: cst.Name, statement: cst.CSTNode) -> bool:
        """The rebinding sits in the block of ``statement`` or around it (not in a sibling branch)."""
        block = self.script.parent(self.script.statement_of(rebinding))
        return block is not None and self.script.within(statement, block)

    def _rebinds_itself(self, name: cst.Name) -> bool:
        """``model = model.to(device)`` or ``model = Wrapper(model)``: still the same model."""
        value = getattr(self.script.parent(self.script.parent(name)), "value", None)
        while isinstance(value, cst.Call):
            inner = value.func.value if isinstance(value.func, cst.Attribute) else None
            first = value.args[0].value if value.args else None
            if any(isinstance(c, cst.Name) and c.value == name.value for c in (inner, first)):
                return True
            value = inner
        return False

    # --- models a sibling module builds, imported by name

    def _imported_models(self) -> list[Model]:
        """``from model import model``: the instance a module next to the script builds at its top
        level; optimized in the script, after the import (and the script's own set-up of it)."""
        models = []
        for node in m.findall(self.script.view, m.ImportFrom(names=m.DoNotCare())):
            for alias in node.names if not isinstance(node.names, cst.ImportStar) else ():
                var = alias.evaluated_alias or alias.evaluated_name
                qualified = self._imported_name(node, alias)
                described = self.builders.siblings.describe_instance(qualified) if "." not in var else None
                if described is not None:
                    models.append(self._imported_model(node, alias, var, Built(described)))
        return models

    @staticmethod
    def _imported_name(node: cst.ImportFrom, alias: cst.ImportAlias) -> str:
        module = get_full_name_for_node(node.module) if node.module is not None else ""
        return f"{'.' * len(node.relative)}{module}.{alias.evaluated_name}"

    def _imported_model(self, node: cst.ImportFrom, alias: cst.ImportAlias, var: str, built: Built) -> Model:
        statement = self.script.statement_of(node)
        model = Model(var, var, self.script.position(alias), statement, self.script.scope_name(node), built)
        model.references = self.uses.import_references(node, var)
        model.sites, model.entries = self._sites(model)
        model.products = products(self.script, model.references)
        model.existing = with_written(self._existing(model, self.script.parent(statement)), model.products)
        model.skipped = self._left_alone(model, alias)
        if model.sites or model.skipped:
            self.candidates.append(Candidate(var, model.line, True, (f"built by {built.builder}: +2",)))
        return model

    # --- models bound at a parameter, and optimized copies

    def _inline_models(self) -> list[Model]:
        """Models built inline as an argument of the script's function: bound at its parameter
        (unless the function returns it, or something made of it: it builds, not runs, a model)."""
        models, seen = [], set()
        for call in self.collected.calls:
            for arg in call.args if self.uses.callee(call) is not None else ():
                built = self.builders.built_by(arg.value) if isinstance(arg.value, cst.Call) and not arg.star else None
                param = self.uses.parameter_for(call, arg) if built and built.certain and not built.wrapped else None
                if param is not None and param not in seen and not self._returns_from(param):
                    seen.add(param)
                    models.append(self._param_model(param, built, self.script.position(arg)))
        return models

    def _returns_from(self, param: cst.Param) -> bool:
        """``return backbone``, ``return backbone, head``, ``return nn.Sequential(backbone, head)``."""
        function = self.script.enclosing(param, (cst.FunctionDef,))
        name = m.Name(param.name.value)
        handed_on = name | m.Tuple(elements=[m.ZeroOrMore(), m.Element(name), m.ZeroOrMore()])
        return any(
            r.value is not None and (m.matches(r.value, handed_on) or m.findall(r.value, m.Arg(name)))
            for r in self.collected.returns_in.get(function, ())
        )

    def _param_model(self, param: cst.Param, built: Built, position: tuple[int, int]) -> Model:
        var = param.name.value
        target = patterns.held_target(var, built.pipeline) if built.pipeline else var
        model = Model(var, target, position, param, self.script.scope_name(param), built)
        model.references = self.uses.name_references(param)
        model.sites, model.entries = self._sites(model)
        function = self.script.enclosing(param, (cst.FunctionDef,))
        model.products = products(self.script, model.references)
        model.existing = with_written(self._existing(model, function.body), model.products)
        return model

    def _copy_run(self, source: Model) -> Model | None:
        """The optimized copy the script runs (``traced = torch.jit.trace(model, x)``). A copy it
        only writes (``traced.save(path)``), or never calls, is a product of the model, not an
        optimization; one it writes and runs stays as the script makes it."""
        made = source.handed_over
        copy = self._derived(source, made) if made is not None else None
        if copy is None or (copy.sites and not copy.products):
            return copy
        if copy.sites:
            copy.existing[0] = replace(made, written=True)
            return copy
        source.existing.remove(made)
        source.products.append(Product(made.call, made.call.args[0].value, made.line))
        source.existing = with_written(source.existing, source.products)  # ipex.optimize before the trace
        return None

    def _derived(self, source: Model, made: Existing) -> Model:
        """``traced = torch.jit.trace(model, x)``: the optimized copy, the model the script runs."""
        assign = made.statement.body[0]
        model = self._model_at(assign, assign.targets[0].target, made.derived, source.built)
        model.existing.insert(0, made)
        model.source = source.target
        return model

    # --- ready points

    def _placed(self, model: Model) -> Model:
        found = find_ready_point(self.script, self.uses, model)
        if isinstance(found, outcome.Finding) and found.code == outcome.TRAINED_AND_EVALUATED.code:
            if (moved := self._into_evaluation(model, model.entries)) is not None:
                return moved
        elif isinstance(found, ReadyPoint) and (moved := self._into_helper(model)) is not None:
            return moved
        if isinstance(found, outcome.Finding):
            model.skipped = found
        else:
            model.ready = found
        return model

    def _into_helper(self, model: Model) -> Model | None:
        """Every inference goes through one function of the script that puts the model in eval
        mode itself (``evaluate(model, images)``): the model is optimized there, after its
        ``.eval()``, never before it (nor before training that runs before the call)."""
        if isinstance(model.statement, cst.Param) or model.existing or model.source is not None:
            return None
        functions = {id(self.uses.callee(e)) if isinstance(e, cst.Call) else None for e in model.entries}
        if len(functions) != 1 or None in functions:
            return None
        moved = self._into_evaluation(model, model.entries[:1])
        if moved is not None:
            moved.note = None
        return moved

    def _into_evaluation(self, model: Model, entries: list[cst.CSTNode]) -> Model | None:
        """Training and evaluation alternate: the model bound at the evaluation function's
        parameter, optimized there after its ``.eval()`` (each evaluation then optimizes the
        weights as they are, and training never sees an optimized model)."""
        for entry in entries:
            function = self.uses.callee(entry) if isinstance(entry, cst.Call) else None
            param = self._parameter_taking(entry, model.var) if function is not None else None
            if param is None or self.uses.trains_in(function) or not _sets_eval(function, param.name.value):
                continue
            moved = self._param_model(param, model.built, model.position)
            found = find_ready_point(self.script, self.uses, moved)
            if isinstance(found, ReadyPoint):
                moved.ready = found
                moved.note = outcome.OPTIMIZED_AT_EACH_EVALUATION.at(
                    model.position, var=model.var, function=function.name.value, line=found.line
                )
                return moved
        return None

    def _parameter_taking(self, call: cst.Call, var: str) -> cst.Param | None:
        arg = next((a for a in call.args if m.matches(a.value, m.Name(var))), None)
        return self.uses.parameter_for(call, arg) if arg is not None else None

    def _loaders(self) -> list[Loader]:
        found = []
        for node in self.collected.assignments:
            if patterns.DATA_LOADER.found(self.script, node.value):
                for target, position in assignment_pairs(node):
                    if isinstance(target, cst.Name) and position is None:
                        found.append(Loader(target.value, self.script.line(node), self.script.statement_of(node)))
        return found


def _same_model_again(value: cst.BaseExpression, var: str) -> bool:
    """``model = model.cuda()``, ``model = model.to(device).eval()``: the model it was, prepared."""
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
        value = value.func.value
    return spelled(value) == var


def _sets_eval(function: cst.FunctionDef, var: str) -> bool:
    """``var.eval()`` is called in ``function``."""
    return bool(m.findall(function, m.Call(func=m.Attribute(value=m.Name(var), attr=m.Name("eval")))))
