"""Step 3, plan: from an analysis and a transform's optimizer call to the edits, one field per kind.

One optimizer call per model, after its ready point (or after the INT8 calibration loader), and
one get_context per inference site. Nodes are those of the parsed tree; the transform looks
them up as it walks it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import libcst as cst

from coder.engine import outcome
from coder.engine.detect import Analysis, Loader, Model
from coder.engine.injected import OptimizerCall
from coder.engine.placement import AddWithItem, ExtendContext, InContext, WrapBody, WrapStatement, place

CALIBRATION_NAMES = re.compile(r"val|test|calib|eval", re.IGNORECASE)


def _targets() -> defaultdict:
    return defaultdict(list)


@dataclass
class Plan:
    """The edits, each a node of the tree with the code or the models it gets."""

    calls_after: dict[cst.BaseStatement, list[str]] = field(default_factory=_targets)  # optimizer calls inserted
    with_items: dict[cst.With, list[str]] = field(default_factory=_targets)  # a `with` gains get_context(...)
    context_args: dict[cst.Call, list[str]] = field(default_factory=_targets)  # a get_context(...) gains models
    bodies: dict[cst.FunctionDef, list[str]] = field(default_factory=_targets)  # a function's body is wrapped
    wrapped: dict[cst.BaseStatement, list[str]] = field(default_factory=_targets)  # a statement is wrapped
    warnings: list[outcome.Finding] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.calls_after or self.with_items or self.context_args or self.bodies or self.wrapped)

    def edited_nodes(self) -> list[cst.CSTNode]:
        return [*self.calls_after, *self.with_items, *self.context_args, *self.bodies, *self.wrapped]

    def add_context(self, placement, target: str) -> None:
        match placement:
            case ExtendContext(call):
                _add_once(self.context_args[call], target)
            case AddWithItem(node):
                _add_once(self.with_items[node], target)
            case WrapBody(function):
                _add_once(self.bodies[function], target)
            case WrapStatement(statement):
                _add_once(self.wrapped[statement], target)


def _add_once(targets: list[str], target: str) -> None:
    if target not in targets:
        targets.append(target)


def make_plan(analysis: Analysis, call: OptimizerCall) -> Plan:
    plan = Plan(warnings=list(analysis.findings))
    for model in analysis.models:
        if model.placed:
            _plan_optimizer_call(analysis, call, model, plan)
            _plan_contexts(analysis, model, plan)
    return plan


def _plan_optimizer_call(analysis: Analysis, call: OptimizerCall, model: Model, plan: Plan) -> None:
    if model.ready.patched:
        return
    if call.traces_graph and model.generates:
        plan.warnings.append(outcome.GENERATES.at(model.position, var=model.var, transform=call.name))
        return
    loader, after = _calibration_loader(analysis, model) if call.calibrates else (None, model.ready.after)
    # alternatives (try/except) that become ready at one place get one call
    _add_once(plan.calls_after[after], call.assignment(model.target, loader))


def _plan_contexts(analysis: Analysis, model: Model, plan: Plan) -> None:
    for site in model.sites:
        placement = place(analysis.script, site, model.statement, analysis.training)
        if placement is None:
            plan.warnings.append(outcome.NO_SAFE_CONTEXT.at(analysis.script.position(site.call)))
        elif not isinstance(placement, InContext):
            plan.add_context(placement, site.target)


def _calibration_loader(analysis: Analysis, model: Model) -> tuple[str | None, cst.CSTNode]:
    """A DataLoader for INT8 calibration, and the statement after which the optimizer call goes.

    A loader defined before the ready point, in a block that encloses it; else one defined between
    the ready point and the first use, the call then moving down to just after that loader.
    """
    script, ready = analysis.script, model.ready
    before = [loader for loader in analysis.loaders if loader.line <= ready.line
              and script.within(ready.after, script.parent(loader.statement))]
    if chosen := _preferred(script, before, model):
        return chosen.var, ready.after
    if chosen := _preferred(script, [l for l in analysis.loaders if l.statement in ready.window], model):
        return chosen.var, chosen.statement
    return None, ready.after


def _preferred(script, loaders: list[Loader], model: Model) -> Loader | None:
    """The loader the model's inference iterates over, else a validation-like one, else the last."""
    iterated = {_iterated_name(script, site.call) for site in model.sites}
    for choice in ([l for l in loaders if l.var in iterated],
                   [l for l in loaders if CALIBRATION_NAMES.search(l.var)], loaders):
        if choice:
            return choice[-1]
    return None


def _iterated_name(script, node: cst.CSTNode) -> str | None:
    loop = next((a for a in script.ancestors(node) if isinstance(a, cst.For)), None)
    return loop.iter.value if loop is not None and isinstance(loop.iter, cst.Name) else None
