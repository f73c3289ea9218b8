"""Step 2, detect: every model, the statement after which it is ready, its inference sites, loaders.

    script ──Collected (one pass)──▶ assignments, calls, returns
           ──Builders──▶ which assignments bind a model (builders.py, patterns.py)
           ──Uses──▶ where each model is called for inference, and what trains it (uses.py)
           ──find_ready_point──▶ where its optimizer call goes (ready.py)

A model left alone (already optimized, trained where it is evaluated, ...) is kept with the
finding that says why; a script with nothing to place gets a reason to be skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from coder.engine import outcome, patterns
from coder.engine.builders import Built, Builders
from coder.engine.collect import Collected, assignment_pairs, bound_name
from coder.engine.parse import Script
from coder.engine.ready import ReadyPoint, find_ready_point
from coder.engine.uses import Site, Uses


@dataclass
class Model:
    var: str  # the name it is bound to: "model", "self.model", "classifier"
    target: str  # what is optimized: the model itself, or "<pipeline>.model"
    position: tuple[int, int]  # (line, column) of the assignment that builds it
    statement: cst.BaseStatement
    scope: str
    sites: list[Site] = field(default_factory=list)
    ready: ReadyPoint | None = None
    skipped: outcome.Finding | None = None  # why it is left alone
    references: list[cst.CSTNode] = field(default_factory=list)
    entries: list[cst.CSTNode] = field(default_factory=list)  # calls through which it is used for inference
    generative_pipeline: bool = False
    certain: bool = True

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

    @property
    def skip_reason(self) -> outcome.Finding | None:
        """Why the script is left unchanged whatever the transform (None: there is a model to place)."""
        if self.models:
            return None
        return (outcome.NO_INFERENCE if self.findings else outcome.NO_MODEL).at()


def detect(script: Script) -> Analysis:
    collected = Collected(script.view)
    builders, uses = Builders(script, collected), Uses(script, collected)
    models = _models(script, collected, builders, uses)
    for model in models:
        if model.sites and not model.skipped:
            _place(script, uses, model)
    findings = [m.skipped for m in models if m.skipped]
    kept = [m for m in models if m.sites or m.skipped]
    if not kept:
        findings += [outcome.NEVER_CALLED.at(m.position, var=m.var) for m in models if m.certain]
    return Analysis(script, kept, _loaders(script, collected), findings, uses.training)


def _models(script: Script, collected: Collected, builders: Builders, uses: Uses) -> list[Model]:
    models = []
    for node in collected.assignments:
        owner = script.enclosing(node, (cst.ClassDef,))
        if owner is not None and builders.is_model_class(owner):
            continue  # a layer of a model being defined, not a model a script runs
        for target, position in assignment_pairs(node):
            built = builders.built_by(node.value, position)
            if built is not None and (var := bound_name(target)) is not None:
                models.append(_model_at(script, uses, node, target, var, built))
    return models


def _model_at(script: Script, uses: Uses, node, target, var: str, built: Built) -> Model:
    statement = script.statement_of(node)
    optimized = f"{var}.model" if built.pipeline else var
    model = Model(var, optimized, script.position(node), statement, script.scope_name(node), certain=built.certain)
    model.generative_pipeline = built.pipeline and patterns.GENERATIVE_PIPELINE.found(script, node.value)
    model.sites, model.entries = _sites(script, uses, target, model)
    model.skipped = _left_alone(script, uses, model, target, built)
    return model


def _left_alone(script: Script, uses: Uses, model: Model, target, built: Built) -> outcome.Finding | None:
    """Why the model is left as it is, known from how it is built and trained (None: it is not)."""
    trainer = uses.training_function(model.references) if model.sites and isinstance(target, cst.Attribute) else None
    if trainer is not None:
        return outcome.TRAINED_IN_METHOD.at(model.position, var=model.var, method=trainer.name.value,
                                            line=script.line(trainer))
    if built.optimized_by:
        return outcome.ALREADY_OPTIMIZED.at(model.position, var=model.var, label=built.optimized_by)
    one_statement = isinstance(model.statement, cst.SimpleStatementLine) and len(model.statement.body) == 1
    if model.sites and not one_statement:
        return outcome.NO_ROOM_AFTER.at(model.position, var=model.var)
    return None


def _sites(script: Script, uses: Uses, target, model: Model) -> tuple[list[Site], list[cst.CSTNode]]:
    if isinstance(target, cst.Name):
        references = _live_references(script, uses, target, model)
    else:
        owner = script.enclosing(target, (cst.ClassDef,))
        references = uses.attribute_references(owner, target.attr.value) if owner else []
    model.references = references
    sites, entries = uses.sites(references, model.var)
    inner = model.target[len(model.var):]  # ".model" for a pipeline, "" for a model
    return [Site(s.call, s.target + inner, s.line, s.generate) for s in sites], entries


def _live_references(script: Script, uses: Uses, target: cst.Name, model: Model) -> list[cst.CSTNode]:
    """References after the model is built and before its name is bound to something else."""
    home = script.scope(target)
    end = _rebinding_line(script, target, model)
    return [r for r in uses.name_references(target)
            if script.scope(r) is not home or model.line < script.line(r) < end]


def _rebinding_line(script: Script, target: cst.Name, model: Model) -> float:
    scope = script.scope(target)
    lines = [script.line(a.node) for a in scope.assignments[target.value]
             if isinstance(a.node, cst.Name) and a.node is not target and not _rebinds_itself(script, a.node)
             and _encloses(script, a.node, model.statement)]
    return min([line for line in lines if line > model.line], default=float("inf"))


def _encloses(script: Script, rebinding: cst.Name, statement: cst.CSTNode) -> bool:
    """The rebinding sits in the block of ``statement`` or around it (not in a sibling branch)."""
    block = script.parent(script.statement_of(rebinding))
    return block is not None and script.within(statement, block)


def _rebinds_itself(script: Script, name: cst.Name) -> bool:
    """``model = model.to(device)`` or ``model = Wrapper(model)``: still the same model."""
    value = getattr(script.parent(script.parent(name)), "value", None)
    while isinstance(value, cst.Call):
        inner = value.func.value if isinstance(value.func, cst.Attribute) else None
        first = value.args[0].value if value.args else None
        if any(isinstance(c, cst.Name) and c.value == name.value for c in (inner, first)):
            return True
        value = inner
    return False


def _place(script: Script, uses: Uses, model: Model) -> None:
    found = find_ready_point(script, uses, model)
    if isinstance(found, outcome.Finding):
        model.skipped = found
    else:
        model.ready = found


def _loaders(script: Script, collected: Collected) -> list[Loader]:
    found = []
    for node in collected.assignments:
        if patterns.DATA_LOADER.found(script, node.value):
            for target, position in assignment_pairs(node):
                if isinstance(target, cst.Name) and position is None:
                    found.append(Loader(target.value, script.line(node), script.statement_of(node)))
    return found
