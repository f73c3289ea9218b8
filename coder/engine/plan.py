"""From an analysis and a recipe to the edits: one optimizer call per model, one context per site."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import libcst as cst

from coder.engine.context import place
from coder.engine.detect import Analysis, Model
from coder.engine.recipe import Recipe

CALIBRATION_NAMES = re.compile(r"val|test|calib|eval", re.IGNORECASE)


@dataclass
class Plan:
    inserts: dict[cst.CSTNode, list[str]] = field(default_factory=lambda: defaultdict(list))
    items: dict[cst.CSTNode, list[str]] = field(default_factory=lambda: defaultdict(list))
    extends: dict[cst.CSTNode, list[str]] = field(default_factory=lambda: defaultdict(list))
    bodies: dict[cst.CSTNode, list[str]] = field(default_factory=lambda: defaultdict(list))
    wraps: dict[cst.CSTNode, list[str]] = field(default_factory=lambda: defaultdict(list))
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.inserts or self.items or self.extends or self.bodies or self.wraps)

    def add(self, how: str, node: cst.CSTNode, target: str) -> None:
        edits = {"item": self.items, "extend": self.extends, "body": self.bodies, "wrap": self.wraps}[how]
        if target not in edits[node]:
            edits[node].append(target)


def make_plan(analysis: Analysis, recipe: Recipe) -> Plan:
    plan = Plan(warnings=list(analysis.warnings))
    training = analysis.training
    for model in analysis.models:
        if model.placed:
            _plan_optimizer_call(analysis, recipe, model, plan)
            _plan_contexts(analysis, model, plan, training)
    return plan


def _plan_optimizer_call(analysis: Analysis, recipe: Recipe, model: Model, plan: Plan) -> None:
    if model.ready.patched:
        return
    if recipe.traces_graph and model.generates:
        plan.warnings.append(f"{model.line}: '{model.var}' generates text: {recipe.name} captures a fixed graph, "
                             f"which generate() cannot use; adding only InferenceOptimizer.get_context")
        return
    loader, after = _calibration_loader(analysis, model) if recipe.calibrates else (None, model.ready.after)
    call = f"{model.target} = {recipe.build(model.target, loader)}"
    if call not in plan.inserts[after]:  # alternatives (try/except) that become ready at one place
        plan.inserts[after].append(call)


def _plan_contexts(analysis: Analysis, model: Model, plan: Plan, training: list[cst.Call]) -> None:
    for site in model.sites:
        placement = place(analysis.tree, site, model.statement, training)
        if placement is None:
            plan.warnings.append(f"{site.line}: no safe place for InferenceOptimizer.get_context around this call (a lambda, or the statement that builds the model): it runs without it")
        elif placement.how != "done":
            plan.add(placement.how, placement.node, site.target)


def _calibration_loader(analysis: Analysis, model: Model) -> tuple[str | None, cst.CSTNode]:
    """A DataLoader for INT8 calibration, and the statement after which the optimizer call goes.

    A loader defined before the ready point, in a block that encloses it; else one defined between
    the ready point and the first use, the call then moving down to just after that loader.
    """
    tree, ready = analysis.tree, model.ready
    before = [loader for loader in analysis.loaders if loader.line <= ready.line
              and tree.within(ready.after, tree.parent(loader.statement))]
    if chosen := _preferred(tree, before, model):
        return chosen.var, ready.after
    if chosen := _preferred(tree, [l for l in analysis.loaders if l.statement in ready.window], model):
        return chosen.var, chosen.statement
    return None, ready.after


def _preferred(tree, loaders: list, model: Model):
    """The loader the model's inference iterates over, else a validation-like one, else the last."""
    iterated = {_iterated_name(tree, site.call) for site in model.sites}
    for choice in ([l for l in loaders if l.var in iterated],
                   [l for l in loaders if CALIBRATION_NAMES.search(l.var)], loaders):
        if choice:
            return choice[-1]
    return None


def _iterated_name(tree, node: cst.CSTNode) -> str | None:
    loop = next((a for a in tree.ancestors(node) if isinstance(a, cst.For)), None)
    return loop.iter.value if loop is not None and isinstance(loop.iter, cst.Name) else None
