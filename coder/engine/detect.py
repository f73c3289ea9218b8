"""Detection: every model, the statement after which it is ready, its inference sites, loaders."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from coder.engine import names
from coder.engine.classify import Built, Classifier
from coder.engine.index import Index, assignment_pairs, binding_text
from coder.engine.ready import ReadyPoint, find_ready_point
from coder.engine.tree import Tree
from coder.engine.usage import Site, Usage


@dataclass
class Model:
    var: str  # the name it is bound to: "model", "self.model", "classifier"
    target: str  # what is optimized: the model itself, or "<pipeline>.model"
    line: int
    statement: cst.BaseStatement
    scope: str
    sites: list[Site] = field(default_factory=list)
    ready: ReadyPoint | None = None
    skipped: str | None = None  # why it is left alone (said in a warning)
    references: list[cst.CSTNode] = field(default_factory=list)
    entries: list[cst.CSTNode] = field(default_factory=list)  # calls through which it is used for inference
    generative_pipeline: bool = False
    certain: bool = True

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
    tree: Tree
    models: list[Model]
    loaders: list[Loader]
    warnings: list[str]
    training: list[cst.Call]


def analyze(tree: Tree) -> Analysis:
    index = Index(tree.module)
    classifier, usage = Classifier(tree, index), Usage(tree, index)
    training = usage.training_calls()
    models = []
    for node in index.assignments:
        if _inside_model_class(tree, classifier, node):
            continue  # a layer of a model being defined, not a model a script runs
        for target, position in assignment_pairs(node):
            built = classifier.classify(node.value, position)
            if built is not None and (model := _model_at(tree, usage, node, target, built)):
                models.append(model)
    for model in models:
        _place(tree, usage, model, training)
    loaders = _loaders(tree, index)
    warnings = [f"{m.line}: {m.skipped}" for m in models if m.skipped]
    kept = [m for m in models if m.sites or m.skipped]
    if not kept:
        warnings += [f"{m.line}: '{m.var}' is built but coder sees no inference call on it"
                     for m in models if m.certain]
    return Analysis(tree, kept, loaders, warnings, training)


def _inside_model_class(tree: Tree, classifier: Classifier, node: cst.CSTNode) -> bool:
    owner = tree.enclosing(node, (cst.ClassDef,))
    return owner is not None and owner.name.value in classifier.model_classes


def _model_at(tree: Tree, usage: Usage, node, target, built: Built) -> Model | None:
    var = binding_text(target)
    if var is None:
        return None
    statement = tree.statement_of(node)
    optimized = var if built.kind == "model" else f"{var}.model"  # a pipeline's model
    model = Model(var, optimized, tree.line(node), statement, tree.scope_name(node))
    model.generative_pipeline = built.kind == "pipeline" and _generative_task(node.value)
    model.certain = built.certain
    model.sites, model.entries = _sites(tree, usage, target, model)
    trained_attribute = model.sites and isinstance(target, cst.Attribute)
    trainer = usage.training_function(model.references) if trained_attribute else None
    if trainer is not None:
        model.skipped = f"'{var}' is trained in {trainer.name.value}() (line {tree.line(trainer)}): left as it is"
    elif built.optimized_by:
        model.skipped = f"'{var}' is already optimized with {built.optimized_by}: not adding a second optimization"
    elif model.sites and (not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1):
        model.skipped = f"'{var}' is built where coder cannot add a statement after it: left as it is"
    return model


def _sites(tree: Tree, usage: Usage, target, model: Model) -> tuple[list[Site], list[cst.CSTNode]]:
    if isinstance(target, cst.Name):
        references = _live_references(tree, usage, target, model)
    else:
        owner = tree.enclosing(target, (cst.ClassDef,))
        references = usage.attribute_references(owner, target.attr.value) if owner else []
    model.references = references
    sites, entries = usage.sites(references, model.var)
    inner = model.target[len(model.var):]  # ".model" for a pipeline, "" for a model
    return [Site(s.call, s.target + inner, s.line, s.generate) for s in sites], entries


def _live_references(tree: Tree, usage: Usage, target: cst.Name, model: Model) -> list[cst.CSTNode]:
    """References after the model is built and before its name is bound to something else."""
    home = tree.scopes.get(target)
    end = _rebinding_line(tree, usage, target, model)
    return [r for r in usage.name_references(target)
            if tree.scopes.get(r) is not home or model.line < tree.line(r) < end]


def _rebinding_line(tree: Tree, usage: Usage, target: cst.Name, model: Model) -> float:
    scope = tree.scopes.get(target)
    lines = [tree.line(a.node) for a in scope.assignments[target.value]
             if isinstance(a.node, cst.Name) and a.node is not target and not _rebinds_itself(tree, a.node)
             and _encloses(tree, a.node, model.statement)]
    return min([line for line in lines if line > model.line], default=float("inf"))


def _encloses(tree: Tree, rebinding: cst.Name, statement: cst.CSTNode) -> bool:
    """The rebinding sits in the block of ``statement`` or around it (not in a sibling branch)."""
    block = tree.parent(tree.statement_of(rebinding))
    return block is not None and tree.within(statement, block)


def _rebinds_itself(tree: Tree, name: cst.Name) -> bool:
    """``model = model.to(device)`` or ``model = Wrapper(model)``: still the same model."""
    assign = tree.parent(tree.parent(name))
    value = getattr(assign, "value", None)
    while isinstance(value, cst.Call):
        inner = value.func.value if isinstance(value.func, cst.Attribute) else None
        first = value.args[0].value if value.args else None
        for candidate in (inner, first):
            if isinstance(candidate, cst.Name) and candidate.value == name.value:
                return True
        value = inner
    return False


def _place(tree: Tree, usage: Usage, model: Model, training: list[cst.Call]) -> None:
    if model.skipped or not model.sites:
        return
    result = find_ready_point(tree, usage, model, training)
    if isinstance(result, str):
        model.skipped = result
    else:
        model.ready = result


def _loaders(tree: Tree, index: Index) -> list[Loader]:
    found = []
    for node in index.assignments:
        call = node.value
        if isinstance(call, cst.Call) and any(names.is_loader(q) for q in tree.qualified(call.func)):
            for target, position in assignment_pairs(node):
                if isinstance(target, cst.Name) and position is None:
                    found.append(Loader(target.value, tree.line(node), tree.statement_of(node)))
    return found


GENERATIVE_TASKS = re.compile(r"generation|summarization|translation|text2text|conversational")


def _generative_task(call: cst.BaseExpression) -> bool:
    """A pipeline whose task runs generate(); an unknown task counts as one."""
    if not isinstance(call, cst.Call):
        return True
    task = next((a.value for a in call.args if a.keyword is None or a.keyword.value == "task"), None)
    if not isinstance(task, cst.SimpleString):
        return True
    return bool(GENERATIVE_TASKS.search(task.evaluated_value))
