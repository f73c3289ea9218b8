"""The ready point: the statement after which a model is built, prepared and trained, and not yet used."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from coder.engine import injected, outcome, patterns
from coder.engine.collect import spelled, spelled_as
from coder.engine.parse import BOUNDARIES, Script
from coder.engine.uses import Uses

CONDITIONAL = (cst.If, cst.Try, cst.With)


@dataclass(frozen=True)
class ReadyPoint:
    after: cst.BaseStatement  # the optimizer call goes right after this statement
    line: int  # last line of that statement
    patched: bool  # the script already optimizes this model with InferenceOptimizer
    window: tuple[cst.BaseStatement, ...] = ()  # statements after it and before the first use


def find_ready_point(script: Script, uses: Uses, model) -> ReadyPoint | outcome.Finding:
    """The ready point of ``model``, or why there is none (a finding)."""
    if optimized := _optimized_elsewhere(script, model):
        label, call = optimized
        return outcome.ALREADY_OPTIMIZED.at(model.position, var=model.var, label=f"{label} (line {script.line(call)})")
    statement = model.statement
    while True:
        result, used = _scan_block(script, uses, model, statement)
        owner = _conditional_owner(script, statement)
        if used or owner is None:
            return result
        statement = owner  # built in an if/try/with and used after it: look from there


def _scan_block(script: Script, uses: Uses, model, statement) -> tuple[ReadyPoint | outcome.Finding, bool]:
    """The ready point among the statements following ``statement`` in its block, and whether the
    model is used for inference in that block."""
    body = list(script.parent(statement).body)
    start = next(i for i, s in enumerate(body) if s is statement)
    home = script.enclosing(statement, (cst.FunctionDef,))
    inference = _positions(script, body, uses.reaching_calls(model.entries, home), start)
    trained = _positions(script, body, uses.reaching_calls(uses.training, home), start)
    first_use = min(inference, default=_rebinding_index(body, start, model.var))
    if first_use in trained:
        line = script.line(body[first_use])
        return outcome.TRAINED_AND_EVALUATED.at(model.position, var=model.var, line=line), True
    preparing = [i for i in range(start + 1, first_use) if i in trained or _prepares(body[i], model.var)]
    ready = max([start] + preparing)
    after, window = body[ready], tuple(body[ready + 1:first_use])
    return ReadyPoint(after, script.last_line(after), _patched(script, model), window), bool(inference)


def _conditional_owner(script: Script, statement: cst.CSTNode) -> cst.CSTNode | None:
    """The if/try/with statement whose block holds ``statement`` (None for loops, functions, module)."""
    block = script.parent(statement)
    if not isinstance(block, cst.IndentedBlock):
        return None
    owner = script.statement_of(script.parent(block))
    return owner if isinstance(owner, CONDITIONAL) else None


def _positions(script: Script, body: list, nodes: list[cst.CSTNode], start: int) -> set[int]:
    """Indexes of the statements of ``body`` (after ``start``) that run one of ``nodes``."""
    where = {id(statement): i for i, statement in enumerate(body)}
    found = set()
    for node in nodes:
        for ancestor in [node, *script.ancestors(node)]:
            if id(ancestor) in where:
                if where[id(ancestor)] > start:
                    found.add(where[id(ancestor)])
                break
            if isinstance(ancestor, BOUNDARIES) and ancestor is not node:
                break
    return found


def _rebinding_index(body: list, start: int, var: str) -> int:
    for i in range(start + 1, len(body)):
        if _binds(body[i], var) and not _prepares(body[i], var):
            return i
    return len(body)


def _binds(statement: cst.BaseStatement, var: str) -> bool:
    """A statement assigning ``var`` (``model = ...``, also ``a = model = ...`` and ``x = 1; model = ...``)."""
    binding = m.Assign(targets=[m.ZeroOrMore(), m.AssignTarget(target=spelled_as(var)), m.ZeroOrMore()])
    return m.matches(statement, m.SimpleStatementLine(body=[m.ZeroOrMore(), binding, m.ZeroOrMore()]))


def _prepares(statement: cst.BaseStatement, var: str) -> bool:
    """``model.eval()``, ``model.to(device)``, ``model = model.to(device)``, ``model = Wrap(model)``,
    ``model.config.x = ...``, or an ``if``/``try``/``with`` holding one
    (``if args.checkpoint: model.load_state_dict(...)``)."""
    if isinstance(statement, CONDITIONAL):
        return any(_prepares(inner, var) for inner in _nested_statements(statement))
    if not m.matches(statement, m.SimpleStatementLine(body=[m.DoNotCare()])):
        return False
    small = statement.body[0]
    if m.matches(small, m.Expr()):
        return _prepares_call(small.value, var)
    if m.matches(small, m.Assign() | m.AugAssign() | m.AnnAssign()) and _sets_attribute_of(small, var):
        return True
    wrapped = m.Call(args=[m.Arg(value=spelled_as(var)), m.ZeroOrMore()])  # model = Wrap(model, ...)
    if m.matches(small, m.Assign(targets=[m.AssignTarget(target=spelled_as(var))])):
        return _prepares_call(small.value, var) or m.matches(small.value, wrapped)
    return False


def _nested_statements(statement: cst.BaseStatement) -> list[cst.BaseStatement]:
    blocks = [statement.body, getattr(statement, "orelse", None), getattr(statement, "finalbody", None)]
    blocks += [handler.body for handler in getattr(statement, "handlers", ())]
    found = []
    for block in filter(None, blocks):
        inner = getattr(block, "body", ())
        found += inner if isinstance(inner, (list, tuple)) else [inner]
    return found


def _sets_attribute_of(small: cst.Assign | cst.AugAssign | cst.AnnAssign, var: str) -> bool:
    """``model.config.use_cache = False``, ``model.weights[0] = ...``."""
    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
    for target in targets:
        while isinstance(target, (cst.Attribute, cst.Subscript)):
            target = target.value
            if spelled(target) == var:
                return True
    return False


def _prepares_call(expr: cst.BaseExpression, var: str) -> bool:
    """``model.eval()``, ``model.to(device).eval()``: preparing methods called on ``var``."""
    while isinstance(expr, cst.Call) and m.matches(expr, patterns.PREPARING_CALL.matcher):
        expr = expr.func.value
        if spelled(expr) == var:
            return True
    return False


def _calls_taking(script: Script, model) -> list[cst.Call]:
    """Calls that receive the model (or a pipeline's model) as their first argument."""
    calls = []
    for reference in model.references:
        arg = script.parent(reference)
        if isinstance(arg, cst.Attribute) and arg.value is reference:  # pipeline.model
            reference, arg = arg, script.parent(arg)
        call = script.parent(arg) if isinstance(arg, cst.Arg) else None
        if isinstance(call, cst.Call) and call.args and call.args[0] is arg:
            calls.append(call)
    return calls


def _optimized_elsewhere(script: Script, model) -> tuple[str, cst.Call] | None:
    for call in _calls_taking(script, model):
        if label := patterns.label_of(script, call, patterns.OPTIMIZERS):
            return label, call
    return None


def _patched(script: Script, model) -> bool:
    return any(injected.is_optimizer_call(call) for call in _calls_taking(script, model))
