"""The ready point: the statement after which a model is built, prepared and trained, and not yet used."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from coder.engine import outcome, patterns
from coder.engine.collect import spelled, spelled_as
from coder.engine.existing import is_patched
from coder.engine.parse import BOUNDARIES, Script
from coder.engine.uses import Uses

CONDITIONAL = (cst.If, cst.Try, cst.With)


@dataclass(frozen=True)
class ReadyPoint:
    after: cst.BaseStatement | None  # the optimizer call goes right after this statement
    line: int  # last line of that statement (for ``before``: the line above it)
    patched: bool  # the script already optimizes this model with InferenceOptimizer
    window: tuple[cst.BaseStatement, ...] = ()  # statements after it and before the first use
    before: cst.BaseStatement | None = None  # a parameter used at once: the call goes above this statement


def find_ready_point(script: Script, uses: Uses, model) -> ReadyPoint | outcome.Finding:
    """The ready point of ``model``, or why there is none (a finding)."""
    if isinstance(model.statement, cst.Param):
        return _in_function(script, uses, model)
    statement = model.statement
    while True:
        body = list(script.parent(statement).body)
        result, used = _scan_block(script, uses, model, body, body.index(statement))
        owner = _conditional_owner(script, statement)
        if used or owner is None:
            return result
        statement = owner  # built in an if/try/with and used after it: look from there


def _in_function(script: Script, uses: Uses, model) -> ReadyPoint | outcome.Finding:
    """A model bound at a parameter: ready in the function's body, after its docstring."""
    function = script.enclosing(model.statement, (cst.FunctionDef,))
    if not isinstance(function.body, cst.IndentedBlock):
        return outcome.NO_ROOM_AFTER.at(model.position, var=model.var)
    body = list(function.body.body)
    start = 0 if function.get_docstring(clean=False) is not None else -1
    return _scan_block(script, uses, model, body, start)[0]


def _scan_block(script: Script, uses: Uses, model, body: list, start: int) -> tuple[ReadyPoint | outcome.Finding, bool]:
    """The ready point among the statements of ``body`` following ``start``, and whether the model
    is used for inference in that block."""
    home = script.enclosing(body[0], (cst.FunctionDef,))
    inference = _positions(script, body, uses.reaching_calls(model.entries, home), start)
    trained = _positions(script, body, uses.reaching_calls(uses.training, home), start)
    # what the script writes before the first use is written before coder's call: it gets the model as built
    optimized = _positions(script, body, [e.call for e in model.existing] + [p.call for p in model.products], start)
    first_use = min(inference, default=_rebinding_index(body, start, model.var))
    if first_use in trained:
        line = script.line(body[first_use])
        return outcome.TRAINED_AND_EVALUATED.at(model.position, var=model.var, line=line), True
    preparing = [
        i
        for i in range(start + 1, first_use)
        if i in trained or i in optimized or any(_prepares(body[i], spelling) for spelling in _spellings(model))
    ]
    return _ready_at(script, model, body, max([start] + preparing), first_use), bool(inference)


def _spellings(model) -> list[str]:
    """``predictor``, ``predictor.model``, ``predictor.model.backbone``: the model, and what holds it."""
    parts = model.target[len(model.var) :].split(".")
    return [model.var + ".".join(parts[:n]) for n in range(1, len(parts) + 1)]


def _ready_at(script: Script, model, body: list, ready: int, first_use: int) -> ReadyPoint:
    """After ``body[ready]`` (-1: above the first statement), before ``body[first_use]``."""
    patched = is_patched(script, model.references)
    if ready < 0:
        return ReadyPoint(None, script.line(body[0]) - 1, patched, tuple(body[:first_use]), before=body[0])
    after = body[ready]
    return ReadyPoint(after, script.last_line(after), patched, tuple(body[ready + 1 : first_use]))


def _conditional_owner(script: Script, statement: cst.CSTNode) -> cst.CSTNode | None:
    """The if/try/with statement whose block holds ``statement`` (None for loops, functions, module)."""
    block = script.parent(statement)
    if not isinstance(block, cst.IndentedBlock):
        return None
    owner = script.statement_of(script.parent(block))
    return owner if isinstance(owner, CONDITIONAL) else None


def _positions(script: Script, body: list, nodes: list[cst.CSTNode], start: int) -> set[int]:
    """Indexes of the statements of ``body`` (after ``start``) that run one of ``nodes`` (a ``def``
    holding one does not run it: the statements calling the function do, see Uses.reaching_calls)."""
    where = {id(statement): i for i, statement in enumerate(body)}
    found = set()
    for node in nodes:
        for ancestor in [node, *script.ancestors(node)]:
            if isinstance(ancestor, BOUNDARIES) and ancestor is not node:
                break
            if id(ancestor) in where:
                if where[id(ancestor)] > start:
                    found.add(where[id(ancestor)])
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
    if _reads(small, var):
        return True
    if m.matches(small, m.Expr()):
        return _prepares_call(small.value, var)
    if m.matches(small, m.Assign() | m.AugAssign() | m.AnnAssign()) and _sets_attribute_of(small, var):
        return True
    wrapped = m.Call(args=[m.Arg(value=spelled_as(var)), m.ZeroOrMore()])  # model = Wrap(model, ...)
    if m.matches(small, m.Assign(targets=[m.AssignTarget(target=spelled_as(var))])):
        return _prepares_call(small.value, var) or m.matches(small.value, wrapped)
    return False


def _reads(small: cst.BaseSmallStatement, var: str) -> bool:
    """``config = resolve_model_data_config(model)``: a library reads the model's attributes as it is
    set up (the model it reads is the original, before the optimizer call)."""
    return bool(m.findall(small, m.Call(args=[m.ZeroOrMore(), m.Arg(value=spelled_as(var)), m.ZeroOrMore()])))


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
