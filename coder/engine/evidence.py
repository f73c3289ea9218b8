"""Weighing a candidate whose builder coder cannot resolve: the evidence its uses leave.

A value built by a known model factory is a model. One built by something else (a third-party
factory, a lookup table, ``torch.load``, an item of a checkpoint, a class imported from a file
that is not there) is a model when its uses say so: torch-module methods called on it
(``.eval()``, ``.load_state_dict()``, ``.parameters()``: 2 each), moving it (``.to()``,
``.cuda()``: 1), being called on a tensor or with ``**inputs`` (2; called on anything else: 1).
Two make a model. What tokenizers, optimizers and datasets are used for (``.decode()``,
``.step()``, ``len()``, indexing, iterating) rules a candidate out, and so does a name that says
what it is (``tokenizer``, ``val_loader``). Each clue counts once, however often it is seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from coder.engine import patterns
from coder.engine.builders import Built
from coder.engine.parse import Script

THRESHOLD = 2
RULES_OUT = -1  # the weight of a clue that makes a candidate no model, whatever else is seen
NAME_WORDS = re.compile(r"[a-z]+|[A-Z][a-z]*")


@dataclass(frozen=True)
class Clue:
    what: str  # "built by torch.load", ".eval()", "called on a tensor"
    weight: int
    line: int | None = None

    def __str__(self) -> str:
        sign = "rules it out" if self.weight == RULES_OUT else f"+{self.weight}"
        return f"{self.what}{f' (line {self.line})' if self.line else ''}: {sign}"


@dataclass(frozen=True)
class Verdict:
    clues: tuple[Clue, ...]

    @property
    def taken(self) -> bool:
        weights = [clue.weight for clue in self.clues]
        return RULES_OUT not in weights and sum(weights) >= THRESHOLD


def weigh(script: Script, built: Built, var: str, value: cst.BaseExpression, references: list[cst.CSTNode]) -> Verdict:
    """The verdict on a candidate bound to ``var`` from ``value``, used at ``references``."""
    clues = [_builder_clue(built), *_name_clues(built, var), *_chain_clues(script, value)]
    clues += [clue for reference in references for clue in _use_clues(script, reference)]
    return Verdict(_first_of_each(clues))


def _builder_clue(built: Built) -> Clue:
    if built.not_model is not None:
        return Clue(f"built by {built.builder}, {built.not_model}", RULES_OUT)
    return Clue(f"built by {built.builder}", built.prior)


def _name_clues(built: Built, var: str) -> list[Clue]:
    """A candidate's name that says what it is not (only for builders coder does not know;
    ``loss_net``, ``opt_model`` also say what they are)."""
    words = {word.lower() for word in NAME_WORDS.findall(var.split(".")[-1])}
    if built.certain or built.not_model or words & patterns.MODEL_WORDS or not words & patterns.NOT_MODEL_WORDS:
        return []
    return [Clue(f"its name '{var}'", RULES_OUT)]


def _chain_clues(script: Script, value: cst.BaseExpression) -> list[Clue]:
    """``build().to(device).eval()``: the methods called on the value as it is built."""
    clues = []
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
        clues += _method_clues(script, value)
        value = value.func.value
    return clues


def _use_clues(script: Script, reference: cst.CSTNode) -> list[Clue]:
    parent = script.parent(reference)
    if isinstance(parent, cst.Attribute) and parent.value is reference:
        call = script.parent(parent)
        return _method_clues(script, call) if isinstance(call, cst.Call) and call.func is parent else []
    if isinstance(parent, cst.Call) and parent.func is reference:
        return [_call_clue(script, parent)]
    if isinstance(parent, cst.Subscript) and parent.value is reference:
        return [Clue("indexed", RULES_OUT, script.line(parent))]
    if isinstance(parent, cst.For) and parent.iter is reference:
        return [Clue("iterated over", RULES_OUT, script.line(parent))]
    user = script.parent(parent) if isinstance(parent, cst.Arg) else None
    if isinstance(user, cst.Call) and patterns.NOT_MODEL_USE.found(script, user):
        return [Clue(f"passed to {script.code(user.func)}()", RULES_OUT, script.line(user))]
    return []


def _method_clues(script: Script, call: cst.Call) -> list[Clue]:
    method, line = call.func.attr.value, script.line(call)
    for pattern, weight in (
        (patterns.MODULE_METHOD, 2),
        (patterns.DEVICE_METHOD, 1),
        (patterns.NOT_MODEL_METHOD, RULES_OUT),
    ):
        if pattern.found(script, call):
            return [Clue(f".{method}()", weight, line)]
    return []


def _call_clue(script: Script, call: cst.Call) -> Clue:
    line = script.line(call)
    if any(arg.star == "**" for arg in call.args):
        return Clue("called with **inputs", 2, line)
    if any(is_tensor(script, arg.value) for arg in call.args):
        return Clue("called on a tensor", 2, line)
    return Clue("called", 1, line)


def is_tensor(script: Script, expr: cst.BaseExpression, depth: int = 3) -> bool:
    """``torch.rand(...)``, ``image.unsqueeze(0)``, ``batch[0]``, a name assigned one of those, or a
    loop variable over a DataLoader."""
    if depth == 0:
        return False
    if isinstance(expr, cst.Subscript):
        return is_tensor(script, expr.value, depth - 1)
    if isinstance(expr, cst.Name):
        return any(_binds_a_tensor(script, binding, depth - 1) for binding in script.definitions(expr))
    return patterns.TENSOR.found(script, expr)


def _binds_a_tensor(script: Script, binding: cst.CSTNode, depth: int) -> bool:
    owner = next((a for a in script.ancestors(binding) if isinstance(a, (cst.Assign, cst.For, cst.BaseSuite))), None)
    if isinstance(owner, cst.Assign):
        values = owner.value.elements if isinstance(owner.value, cst.Tuple) else [owner.value]
        return any(is_tensor(script, getattr(v, "value", v), depth) for v in values)
    if isinstance(owner, cst.For) and script.within(binding, owner.target):
        return _iterates_a_loader(script, owner.iter)
    return False


def _iterates_a_loader(script: Script, iterable: cst.BaseExpression) -> bool:
    """``loader``, ``enumerate(loader)``, ``tqdm(loader)``, with ``loader`` bound to a DataLoader."""
    if isinstance(iterable, cst.Call) and iterable.args:
        iterable = iterable.args[0].value
    if not isinstance(iterable, cst.Name):
        return False
    return any(
        isinstance(owner := script.parent(script.parent(b)), cst.Assign)
        and patterns.DATA_LOADER.found(script, owner.value)
        for b in script.definitions(iterable)
    )


def _first_of_each(clues: list[Clue]) -> tuple[Clue, ...]:
    """Each clue once (the first place it is seen), in the order found."""
    seen, kept = set(), []
    for clue in clues:
        if clue.what not in seen:
            seen.add(clue.what)
            kept.append(clue)
    return tuple(kept)
