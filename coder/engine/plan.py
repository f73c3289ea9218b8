"""Step 3, plan: from an analysis and a transform's optimizer call to the edits, one field per kind.

One optimizer call per model, after its ready point (or after the INT8 calibration loader), and
one get_context per inference site. The script's own optimizations of a model (existing.py) are
replaced by the transform's call: a call wrapping the model as built is unwrapped, one
reassigning it is taken out (the transform's call takes its place when it stands at the ready
point), an optimized copy (``traced = torch.jit.trace(model, x)``) gets the transform's call
instead. With ``keep_existing``, and for the baseline, they are kept: such a model is left alone
(C101), or (baseline) measured as the script optimizes it. Nodes are those of the parsed tree;
the transform looks them up as it walks it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m

from coder.engine import injected, outcome
from coder.engine.detect import Analysis, Loader, Model
from coder.engine.existing import Existing
from coder.engine.injected import BASELINE, OptimizerCall
from coder.engine.placement import (
    AddWithItem,
    ExtendContext,
    InContext,
    WrapBody,
    WrapStatement,
    generator_loop,
    inference_with,
    place,
)

CALIBRATION_NAMES = re.compile(r"val|test|calib|eval", re.IGNORECASE)
# ``if args.jit:`` (no else): it does nothing once its block is taken out (as a with of no_grad does)
FLAG = m.Name() | m.Attribute(value=m.Name())
FLAG_IF = m.If(test=FLAG | m.UnaryOperation(operator=m.Not(), expression=FLAG), orelse=None)


def _targets() -> defaultdict:
    return defaultdict(list)


@dataclass
class Plan:
    """The edits, each a node of the tree with the code or the models it gets."""

    calls_after: dict[cst.BaseStatement, list[str]] = field(default_factory=_targets)  # optimizer calls inserted
    calls_before: dict[cst.BaseStatement, list[str]] = field(default_factory=_targets)  # ... above a statement
    replaced: dict[cst.BaseStatement, list[str]] = field(default_factory=_targets)  # replaced, or taken out
    replaced_calls: dict[cst.Call, str | cst.BaseExpression] = field(default_factory=dict)  # a call replaced
    with_items: dict[cst.With, list[str]] = field(default_factory=_targets)  # a `with` gains get_context(...)
    context_args: dict[cst.Call, list[str]] = field(default_factory=_targets)  # a get_context(...) gains models
    bodies: dict[cst.FunctionDef, list[str]] = field(default_factory=_targets)  # a function's body is wrapped
    wrapped: dict[cst.BaseStatement, list[str]] = field(default_factory=_targets)  # a statement is wrapped
    originals: set[cst.BaseExpression] = field(default_factory=set)  # a model written after coder's call
    warnings: list[outcome.Finding] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.edited_nodes()

    def edited_nodes(self) -> list[cst.CSTNode]:
        return [
            *self.calls_after,
            *self.calls_before,
            *self.replaced,
            *self.replaced_calls,
            *self.with_items,
            *self.context_args,
            *self.bodies,
            *self.wrapped,
            *self.originals,
        ]

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


def make_plan(analysis: Analysis, call: OptimizerCall, keep_existing: bool = False) -> Plan:
    plan = Plan(warnings=list(analysis.findings))
    for model in analysis.models:
        if model.placed and _optimized(analysis, call, model, plan, keep_existing):
            _plan_contexts(analysis, model, plan)
    return plan


def _optimized(analysis: Analysis, call: OptimizerCall, model: Model, plan: Plan, keep_existing: bool) -> bool:
    """Plan the model's optimizer call; False when the model is left as it is (no get_context either)."""
    plan.warnings += [model.note] if model.note else []
    if model.built.compiled and (keep_existing or not call.takes_script_module):  # torch.jit.load
        plan.warnings.append(outcome.ALREADY_OPTIMIZED.at(model.position, var=model.var, label=model.built.compiled))
        return False
    if (kept := _kept_as_the_script_optimizes(call, model, keep_existing)) is not None:
        plan.warnings += kept
        return False
    if model.source is not None:
        _plan_copy(analysis, call, model, plan)
        return True
    if call.name != BASELINE:
        _replace_existing(analysis, call, model, plan)
    if _plan_optimizer_call(analysis, call, model, plan):
        _hand_over_originals(analysis, model, plan)
    return True


def _kept_as_the_script_optimizes(call: OptimizerCall, model: Model, keep_existing: bool) -> list | None:
    """The warnings for a model left as the script optimizes it (None: coder optimizes it)."""
    if (made := model.handed_over) is not None:  # the optimized copy is the model that runs
        return [_already(model, made)] if keep_existing and not made.by_coder else []
    if written := [e for e in model.existing if e.written and e.by_default]:  # the script writes what it makes
        return [_already(model, written[0])]
    late = any(e.line > model.ready.line for e in model.existing)  # the baseline's call could not follow them
    if model.existing and (keep_existing or (call.name == BASELINE and late)):
        return [_already(model, model.existing[0])] if model.source is None else []
    return None


def _already(model: Model, existing: Existing) -> outcome.Finding:
    return outcome.ALREADY_OPTIMIZED.at(model.position, var=model.var, label=existing.named())


def _replace_existing(analysis: Analysis, call: OptimizerCall, model: Model, plan: Plan) -> None:
    """Take the script's own optimizations of the model out (those on the default path)."""
    replaced = []
    for existing in model.existing:
        if existing.keeps_original:  # an INT8 copy the script compares with the original: left alone
            position = analysis.script.position(existing.statement)
            plan.warnings.append(outcome.ALREADY_OPTIMIZED.at(position, var=existing.derived, label=existing.named()))
        elif existing.by_default:
            _take_out(analysis, existing, plan)
            replaced.append(existing.named())
    if replaced:
        plan.warnings.append(
            outcome.REPLACED_OPTIMIZATION.at(
                model.position, var=model.var, label=", ".join(replaced), transform=call.name
            )
        )


def _take_out(analysis: Analysis, existing: Existing, plan: Plan) -> None:
    if existing.inner is not None:  # model = torch.compile(build()): model = build()
        plan.replaced_calls[existing.call] = existing.inner
    elif existing.removable:
        _remove(analysis, existing.statement, plan)
    else:  # model = opt(model).eval(): model = model.eval()
        plan.replaced_calls[existing.call] = existing.call.args[0].value


def _remove(analysis: Analysis, statement: cst.BaseStatement, plan: Plan) -> None:
    """Take ``statement`` out, and the ``with torch.no_grad():`` or ``if flag:`` around it when
    nothing is left in it."""
    plan.replaced.setdefault(statement, [])
    script = analysis.script
    block = script.parent(statement)
    owner = script.parent(block) if isinstance(block, cst.IndentedBlock) else None
    if owner is None or not all(plan.replaced.get(s) == [] for s in block.body):
        return
    if (isinstance(owner, cst.With) and inference_with(script, owner)) or m.matches(owner, FLAG_IF):
        _remove(analysis, owner, plan)


def _plan_copy(analysis: Analysis, call: OptimizerCall, model: Model, plan: Plan) -> None:
    """``traced = torch.jit.trace(model, x)``: the copy is made with the transform's call instead
    (the baseline measures the copy as the script makes it)."""
    made = model.existing[0]
    if made.by_coder or model.ready.patched:
        return
    if call.name == BASELINE:
        _plan_optimizer_call(analysis, call, model, plan)
        return
    loader = _calibration_loader(analysis, model)[0] if call.calibrates else None
    plan.replaced_calls[made.call] = call.build(model.source, loader)
    for existing in model.existing[1:]:
        if existing.by_default:
            _take_out(analysis, existing, plan)
    labels = ", ".join(e.named() for e in model.existing if e.by_default)
    plan.warnings.append(
        outcome.REPLACED_OPTIMIZATION.at(model.position, var=model.source, label=labels, transform=call.name)
    )


def _plan_optimizer_call(analysis: Analysis, call: OptimizerCall, model: Model, plan: Plan) -> bool:
    """Plan the model's optimizer call; False when none is added."""
    if model.ready.patched:
        return False
    if call.traces_graph and model.generates:
        plan.warnings.append(outcome.GENERATES.at(model.position, var=model.var, transform=call.name))
        return False
    loader, after = _calibration_loader(analysis, model) if call.calibrates else (None, model.ready.after)
    assignment = call.assignment(model.target, loader)
    if after is None:
        _add_once(plan.calls_before[model.ready.before], assignment)
    elif after in plan.replaced:  # the ready point is an optimization taken out: the call takes its place
        _add_once(plan.replaced[after], assignment)
    else:  # alternatives (try/except) that become ready at one place get one call
        _add_once(plan.calls_after[after], assignment)
    return True


def _hand_over_originals(analysis: Analysis, model: Model, plan: Plan) -> None:
    """What the script writes after coder's call is written from the model as built."""
    script = analysis.script
    home = script.enclosing(model.statement, (cst.FunctionDef, cst.Lambda))
    for product in model.products:
        before = (
            product.line <= model.ready.line and script.enclosing(product.call, (cst.FunctionDef, cst.Lambda)) is home
        )
        if not before and not injected.is_original_call(product.model):
            plan.originals.add(product.model)


def _plan_contexts(analysis: Analysis, model: Model, plan: Plan) -> None:
    for site in model.sites:
        placement = place(analysis.script, site, model.statement, analysis.training)
        if placement is None:
            plan.warnings.append(outcome.NO_SAFE_CONTEXT.at(analysis.script.position(site.call)))
        elif not isinstance(placement, InContext):
            plan.add_context(placement, site.target)
        if (loop := generator_loop(analysis.script, site.call)) is not None:  # the frames of a stream
            pulled = place(analysis.script, site, model.statement, analysis.training, at=loop.body)
            if pulled is not None and not isinstance(pulled, InContext):
                plan.add_context(pulled, site.target)


def _calibration_loader(analysis: Analysis, model: Model) -> tuple[str | None, cst.CSTNode]:
    """A DataLoader for INT8 calibration, and the statement after which the optimizer call goes.

    A loader defined before the ready point, in a block that encloses it; else one defined between
    the ready point and the first use, the call then moving down to just after that loader.
    """
    script, ready = analysis.script, model.ready
    if (iterated := _iterated_parameter(script, model)) is not None:
        return iterated, ready.after
    here = ready.after or ready.before
    before = [
        loader
        for loader in analysis.loaders
        if loader.line <= ready.line and script.within(here, script.parent(loader.statement))
    ]
    if chosen := _preferred(script, before, model):
        return chosen.var, ready.after
    if chosen := _preferred(script, [loader for loader in analysis.loaders if loader.statement in ready.window], model):
        return chosen.var, chosen.statement
    return None, ready.after


def _preferred(script, loaders: list[Loader], model: Model) -> Loader | None:
    """The loader the model's inference iterates over, else a validation-like one, else the last."""
    iterated = {_iterated_name(script, site.call) for site in model.sites}
    for choice in (
        [loader for loader in loaders if loader.var in iterated],
        [loader for loader in loaders if CALIBRATION_NAMES.search(loader.var)],
        loaders,
    ):
        if choice:
            return choice[-1]
    return None


def _iterated_parameter(script, model: Model) -> str | None:
    """A model bound at a parameter, run in a loop over another parameter (``for x, y in val_loader``):
    the batches the function is given."""
    if not isinstance(model.statement, cst.Param):
        return None
    function = script.enclosing(model.statement, (cst.FunctionDef,))
    params = {p.name.value for p in (*function.params.posonly_params, *function.params.params)}
    return next((name for site in model.sites if (name := _iterated_name(script, site.call)) in params), None)


def _iterated_name(script, node: cst.CSTNode) -> str | None:
    """``loader`` in ``for x in loader``, ``enumerate(loader)``, ``tqdm(loader)``."""
    loop = next((a for a in script.ancestors(node) if isinstance(a, cst.For)), None)
    iterable = loop.iter if loop is not None else None
    if isinstance(iterable, cst.Call) and iterable.args and not m.matches(iterable.func, m.Name("range")):
        iterable = iterable.args[0].value
    return iterable.value if isinstance(iterable, cst.Name) else None
