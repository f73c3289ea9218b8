"""The ready point: the statement after which a model is built, prepared and trained, and not yet used."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from coder.engine import names
from coder.engine.tree import BOUNDARIES, Tree
from coder.engine.usage import Usage


@dataclass(frozen=True)
class ReadyPoint:
    after: cst.BaseStatement  # the optimizer call goes right after this statement
    line: int  # last line of that statement
    patched: bool  # the script already optimizes this model with InferenceOptimizer
    window: tuple[cst.BaseStatement, ...] = ()  # statements after it and before the first use


def find_ready_point(tree: Tree, usage: Usage, model, training: list[cst.Call]) -> ReadyPoint | str:
    """The ready point of ``model``, or why there is none (a warning)."""
    if label := _optimized_elsewhere(tree, model):
        return f"'{model.var}' is already optimized with {label}: not adding a second optimization"
    statement = model.statement
    while True:
        result, used = _scan_block(tree, usage, model, training, statement)
        owner = _conditional_owner(tree, statement)
        if used or owner is None:
            return result
        statement = owner  # built in an if/try/with and used after it: look from there


def _scan_block(tree: Tree, usage: Usage, model, training, statement) -> tuple[ReadyPoint | str, bool]:
    """The ready point among the statements following ``statement`` in its block, and whether the
    model is used for inference in that block."""
    body = list(tree.parent(statement).body)
    start = next(i for i, s in enumerate(body) if s is statement)
    home = tree.enclosing(statement, (cst.FunctionDef,))
    inference = _positions(tree, body, usage.reaching_calls(model.entries, home), start)
    trained = _positions(tree, body, usage.reaching_calls(training, home), start)
    first_use = min(inference, default=_rebinding_index(body, start, model.var))
    if first_use in trained:
        return (f"'{model.var}' is trained and used for inference in the same statement "
                f"(line {tree.line(body[first_use])}): left as it is"), True
    preparing = [i for i in range(start + 1, first_use) if i in trained or _prepares(body[i], model.var)]
    ready = max([start] + preparing)
    after = body[ready]
    window = tuple(body[ready + 1:first_use])
    return ReadyPoint(after, _last_line(tree, after), _patched(tree, model), window), bool(inference)


def _conditional_owner(tree: Tree, statement: cst.CSTNode) -> cst.CSTNode | None:
    """The if/try/with statement whose block holds ``statement`` (None for loops, functions, module)."""
    block = tree.parent(statement)
    if not isinstance(block, cst.IndentedBlock):
        return None
    owner = tree.statement_of(tree.parent(block))
    return owner if isinstance(owner, CONDITIONAL) else None


def _positions(tree: Tree, body: list, nodes: list[cst.CSTNode], start: int) -> set[int]:
    """Indexes of the statements of ``body`` (after ``start``) that run one of ``nodes``."""
    where = {id(statement): i for i, statement in enumerate(body)}
    found = set()
    for node in nodes:
        for ancestor in [node, *tree.ancestors(node)]:
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
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    return any(isinstance(small, cst.Assign) and any(_spells(t.target, var) for t in small.targets)
               for small in statement.body)


def _prepares(statement: cst.BaseStatement, var: str) -> bool:
    """``model.eval()``, ``model.to(device)``, ``model = model.to(device)``, ``model = Wrap(model)``,
    or an ``if``/``try``/``with`` holding one (``if args.checkpoint: model.load_state_dict(...)``)."""
    if isinstance(statement, CONDITIONAL):
        return any(_prepares(inner, var) for inner in _nested_statements(statement))
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if isinstance(small, cst.Expr):
        return _prepares_call(small.value, var)
    if isinstance(small, (cst.Assign, cst.AugAssign, cst.AnnAssign)) and _sets_attribute_of(small, var):
        return True  # model.config.use_cache = False
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and _spells(small.targets[0].target, var):
        value = small.value
        return _prepares_call(value, var) or (isinstance(value, cst.Call) and bool(value.args)
                                               and _spells(value.args[0].value, var))
    return False


CONDITIONAL = (cst.If, cst.Try, cst.With)


def _nested_statements(statement: cst.BaseStatement) -> list[cst.BaseStatement]:
    blocks = [statement.body, getattr(statement, "orelse", None), getattr(statement, "finalbody", None)]
    blocks += [handler.body for handler in getattr(statement, "handlers", ())]
    found = []
    for block in filter(None, blocks):
        inner = getattr(block, "body", ())
        found += inner if isinstance(inner, (list, tuple)) else [inner]
    return found


def _sets_attribute_of(small, var: str) -> bool:
    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
    for target in targets:
        while isinstance(target, (cst.Attribute, cst.Subscript)):
            target = target.value
            if _spells(target, var):
                return True
    return False


def _prepares_call(expr: cst.BaseExpression, var: str) -> bool:
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        if expr.func.attr.value not in names.PREPARING_METHODS:
            return False
        expr = expr.func.value
        if _spells(expr, var):
            return True
    return False


def _spells(expr: cst.BaseExpression, var: str) -> bool:
    if isinstance(expr, cst.Name):
        return expr.value == var
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        return f"{expr.value.value}.{expr.attr.value}" == var
    return False


def _argument_calls(tree: Tree, model) -> list[cst.Call]:
    """Calls that receive the model as their first argument."""
    calls = []
    for reference in model.references:
        arg = tree.parent(reference)
        if isinstance(arg, cst.Attribute) and arg.value is reference:  # pipeline.model
            reference, arg = arg, tree.parent(arg)
        call = tree.parent(arg) if isinstance(arg, cst.Arg) else None
        if isinstance(call, cst.Call) and call.args and call.args[0] is arg:
            calls.append(call)
    return calls


def _optimized_elsewhere(tree: Tree, model) -> str | None:
    for call in _argument_calls(tree, model):
        label = next(filter(None, map(names.optimizer_label, tree.qualified(call.func))), None)
        if label:
            return f"{label} (line {tree.line(call)})"
    return None


def _patched(tree: Tree, model) -> bool:
    return any(_is_optimizer_call(tree, call) for call in _argument_calls(tree, model))


def _is_optimizer_call(tree: Tree, call: cst.Call) -> bool:
    func = call.func
    return (isinstance(func, cst.Attribute) and func.attr.value != "get_context"
            and tree.code(func.value) == names.OPTIMIZER_CLASS)


def _last_line(tree: Tree, statement: cst.BaseStatement) -> int:
    return tree.line(statement) + tree.code(statement).count("\n")
