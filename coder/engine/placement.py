"""Where an inference site's ``InferenceOptimizer.get_context(model)`` goes (DESIGN section 2).

In order of preference: an existing get_context (it gains the model), a no_grad /
inference_mode / autocast ``with`` (it gains an item), a ``@torch.no_grad()`` function (its
body is wrapped, after the docstring), else the outermost loop or the smallest statement
around the call (wrapped in a new ``with``). A context never spans an ``await``: the thread
count and no_grad it sets would hold for whatever other task the event loop runs meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from coder.engine import injected, patterns
from coder.engine.parse import Script
from coder.engine.uses import Site

LOOPS = (cst.For, cst.While)


@dataclass(frozen=True)
class InContext:
    """Already inside a get_context naming the model: nothing to do."""


@dataclass(frozen=True)
class ExtendContext:
    call: cst.Call  # the existing InferenceOptimizer.get_context(...)


@dataclass(frozen=True)
class AddWithItem:
    node: cst.With


@dataclass(frozen=True)
class WrapBody:
    function: cst.FunctionDef


@dataclass(frozen=True)
class WrapStatement:
    statement: cst.BaseStatement


Placement = InContext | ExtendContext | AddWithItem | WrapBody | WrapStatement


def place(
    script: Script, site: Site, model_statement: cst.CSTNode, training: list[cst.Call], at: cst.CSTNode | None = None
) -> Placement | None:
    """Where the site's context goes (``at``: around this node instead of the call); None when it
    cannot go anywhere safe."""
    node = site.call if at is None else at
    if isinstance(script.enclosing(node, (cst.FunctionDef, cst.Lambda)), cst.Lambda):
        return None  # a lambda runs later, outside any with around its definition
    function = script.enclosing(node, (cst.FunctionDef,))
    withs = [
        a
        for a in _ancestors_in(script, node, function)
        if isinstance(a, cst.With) and not script.within(model_statement, a) and not _awaits(a)
    ]
    for node in withs:
        if (context := injected.context_call_in(node)) is not None:
            spelled = {script.code(arg.value) for arg in context.args}
            return InContext() if site.target in spelled else ExtendContext(context)
    for node in withs:
        if any(patterns.INFERENCE_CONTEXT.found(script, item.item) for item in node.items):
            return AddWithItem(node)
    if (
        function is not None
        and _wraps_whole_body(script, function)
        and not _awaits(function.body)
        and not script.within(model_statement, function)
    ):
        return WrapBody(function)
    return _statement_to_wrap(script, node, function, model_statement, training)


def generator_loop(script: Script, call: cst.Call) -> cst.For | None:
    """``frames = model(video, stream=True)`` then ``for frame in frames:``: the model runs as the
    loop pulls from the generator, so the loop is an inference site too."""
    streams = m.Call(args=[m.ZeroOrMore(), m.Arg(keyword=m.Name("stream"), value=m.Name("True")), m.ZeroOrMore()])
    assign = script.parent(call)
    statement = script.parent(assign)
    if not (
        m.matches(call, streams)
        and m.matches(assign, m.Assign(targets=[m.AssignTarget(m.Name())]))
        and isinstance(script.parent(statement), (cst.IndentedBlock, cst.Module))
    ):
        return None
    name = assign.targets[0].target.value
    body = list(script.parent(statement).body)
    return next(
        (
            s
            for s in body[body.index(statement) + 1 :]
            if m.matches(s, m.For(iter=m.Name(name) | m.Call(args=[m.Arg(m.Name(name)), m.ZeroOrMore()])))
        ),
        None,
    )


def inference_with(script: Script, node: cst.With) -> bool:
    """A ``with`` whose every item is no_grad, inference_mode or autocast."""
    return all(patterns.INFERENCE_CONTEXT.found(script, item.item) for item in node.items)


def _wraps_whole_body(script: Script, function: cst.FunctionDef) -> bool:
    """A function decorated with no_grad (or the like) whose body is an indented block."""
    decorated = any(patterns.INFERENCE_CONTEXT.found(script, d.decorator) for d in function.decorators)
    return decorated and isinstance(function.body, cst.IndentedBlock)


def _statement_to_wrap(script: Script, node: cst.CSTNode, function, model_statement, training) -> WrapStatement | None:
    statements = [
        a
        for a in _ancestors_in(script, node, function)
        if isinstance(script.parent(a), (cst.IndentedBlock, cst.Module))
    ]
    if not statements or script.within(model_statement, statements[0]) or _awaits(statements[0]):
        return None
    loops = [
        s
        for s in statements
        if isinstance(s, LOOPS)
        and not script.within(model_statement, s)
        and not _awaits(s)
        and not any(script.within(call, s) for call in training)
    ]
    return WrapStatement(loops[-1] if loops else statements[0])


def _awaits(node: cst.CSTNode) -> bool:
    """``node`` holds an ``await`` (or ``async for``/``async with``): a context around it would stay
    set while the event loop runs other tasks."""
    return bool(
        m.findall(node, m.Await() | m.For(asynchronous=m.Asynchronous()) | m.With(asynchronous=m.Asynchronous()))
    )


def _ancestors_in(script: Script, node: cst.CSTNode, function) -> list[cst.CSTNode]:
    """Ancestors of ``node``, innermost first, stopping at ``function``."""
    found = []
    for ancestor in script.ancestors(node):
        if ancestor is function:
            break
        found.append(ancestor)
    return found
