"""The script's own optimizations of a model: ipex.optimize, torch.jit, torch.compile, quantize_dynamic...

``-o NAME`` replaces them with NAME's call (plan.py), so that NAME is measured against the
script as it was; ``--keep-existing`` leaves such a model as the script optimizes it; the
baseline ("original", for ``-o auto``) keeps them and measures what the script did. An
optimization that only runs behind a flag that is off by default (``if args.compile: model =
torch.compile(model)``), or behind a condition coder cannot read, is left where it is and does
not decide the default path.

What the script writes (``torch.onnx.export(model, ...)``, ``torch.save``, ``save_pretrained``,
``torch.jit.save(torch.jit.trace(model, x), ...)``: its products) is never taken out, and it is
handed the model as built: a product before the model's first use moves the ready point after
it (ready.py), a later one gets ``InferenceOptimizer.original(model)`` (plan.py). Only a step
whose result the script then calls for inference counts as an existing optimization; one whose
result is written, or never called, is part of a product.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import libcst as cst
import libcst.matchers as m

from coder.engine import injected, patterns
from coder.engine.collect import Collected, spelled
from coder.engine.parse import Script

DERIVED_COPIES = {"quantize_dynamic"}  # give a new model and leave the original as it was


@dataclass(frozen=True)
class Existing:
    label: str  # "ipex.optimize", as messages name it
    call: cst.Call
    statement: cst.BaseStatement  # the statement holding the call
    line: int
    derived: str | None = None  # ``traced = torch.jit.trace(model, x)``: the name of the optimized model
    inner: cst.BaseExpression | None = None  # ``model = torch.compile(build())``: the model as built
    by_default: bool = True  # False: behind a flag that is off by default, or a condition coder cannot read
    removable: bool = True  # alone on its line (``model = opt(model, ...)``, ``opt(model)``): can be taken out
    written: bool = False  # what it makes is written by the script (a product): it stays, and so does the model

    @property
    def keeps_original(self) -> bool:
        """``quantized = quantize_dynamic(model, ...)``: the script compares an INT8 copy with the original."""
        return self.derived is not None and self.label in DERIVED_COPIES

    @property
    def by_coder(self) -> bool:
        """``traced = InferenceOptimizer.trace(model)``: a copy coder already made (patching again)."""
        return self.label == injected.OPTIMIZER

    def named(self) -> str:
        return self.label if self.inner is not None else f"{self.label} (line {self.line})"


class Flags:
    """What a script's flags are by default: argparse options and module-level constants."""

    def __init__(self, script: Script, collected: Collected) -> None:
        self.script = script
        self.options = dict(filter(None, (_option_default(call) for call in collected.calls)))
        self.constants = {
            _bound(node): _truth(node.value)
            for node in collected.assignments_in.get(None, ())
            if _bound(node) is not None
        }

    def value(self, test: cst.BaseExpression) -> bool | None:
        """The truth of ``test`` when the script runs with its defaults (None: coder cannot tell)."""
        if m.matches(test, m.UnaryOperation(operator=m.Not())):
            inner = self.value(test.expression)
            return None if inner is None else not inner
        if isinstance(test, cst.Attribute):
            return self.options.get(test.attr.value)
        if isinstance(test, cst.Name):
            return self.constants.get(test.value)
        return None

    def on_default_path(self, statement: cst.CSTNode, block: cst.CSTNode) -> bool:
        """Every ``if`` between ``statement`` and ``block`` takes, by default, the branch holding it."""
        child = statement
        for ancestor in self.script.ancestors(statement):
            if ancestor is block:
                return True
            if isinstance(ancestor, cst.If) and child is not ancestor.test:
                in_body = child is ancestor.body
                if self.value(ancestor.test) is not in_body:
                    return False
            child = ancestor
        return True


def existing_optimizations(script: Script, flags: Flags, model, block: cst.CSTNode) -> list[Existing]:
    """The script's optimizing calls that take ``model`` (its references) as their first argument."""
    found = []
    for call, _ in calls_taking(script, model.references):
        label = patterns.label_of(script, call, patterns.OPTIMIZERS)
        if label is None and injected.is_optimizer_call(call):
            label = injected.OPTIMIZER
        existing = _existing(script, flags, model.var, call, label, block) if label else None
        if existing is not None and (existing.derived or not existing.by_coder):  # coder's own call: ready.patched
            found.append(existing)
    return found


@dataclass(frozen=True)
class Product:
    """A call that writes the model somewhere, or builds what is written."""

    call: cst.Call
    model: cst.BaseExpression  # the model as the call takes it; given InferenceOptimizer.original(...) if needed
    line: int


def products(script: Script, references: list[cst.CSTNode]) -> list[Product]:
    """``torch.onnx.export(model, ...)``, ``torch.save(model.state_dict(), ...)``,
    ``model.save_pretrained(...)``, ``torch.jit.save(torch.jit.trace(model, x), ...)``."""
    found = []
    for reference in references:
        model = _unwrapped_original(script, reference)
        holder = script.parent(model)
        if isinstance(holder, cst.Attribute) and holder.value is model:
            call = script.parent(holder)
            if not (isinstance(call, cst.Call) and call.func is holder):
                continue
            if holder.attr.value in patterns.WRITING_METHODS:  # model.save_pretrained(path)
                found.append(Product(call, model, script.line(call)))
                continue
            if holder.attr.value != "state_dict":
                continue
            holder = script.parent(call)  # torch.save(model.state_dict(), path)
        if (call := _first_argument_of(script, holder)) is not None and _writes(script, call):
            found.append(Product(call, model, script.line(call)))
    return found


def _unwrapped_original(script: Script, reference: cst.CSTNode) -> cst.CSTNode:
    """``InferenceOptimizer.original(model)`` (written by coder before) stands for ``model``."""
    arg = script.parent(reference)
    call = script.parent(arg) if isinstance(arg, cst.Arg) else None
    return call if call is not None and injected.is_original_call(call) else reference


def _first_argument_of(script: Script, holder: cst.CSTNode) -> cst.Call | None:
    call = script.parent(holder) if isinstance(holder, cst.Arg) else None
    return call if isinstance(call, cst.Call) and call.args and call.args[0] is holder else None


def _writes(script: Script, call: cst.Call) -> bool:
    """A writer, or an optimizing call whose result goes straight into one (``trace(...).save(p)``)."""
    if patterns.MODEL_WRITER.found(script, call):
        return True
    if patterns.label_of(script, call, patterns.OPTIMIZERS) is None:
        return False
    holder = script.parent(call)
    if isinstance(holder, cst.Attribute) and holder.attr.value in patterns.WRITING_METHODS:
        return True
    writer = _first_argument_of(script, holder)
    return writer is not None and patterns.MODEL_WRITER.found(script, writer)


def with_written(existing: list[Existing], written: list[Product]) -> list[Existing]:
    """The optimizations, knowing what the script writes: one inside a product
    (``torch.jit.save(torch.jit.trace(model, x), path)``) is none; one reassigning the model
    before a product (``model = ipex.optimize(model)``) makes what is written."""
    last = max((product.line for product in written), default=0)
    inside = {id(product.call) for product in written}
    return [
        replace(e, written=True) if e.derived is None and e.line < last else e
        for e in existing
        if id(e.call) not in inside
    ]


def wrapping_optimization(script: Script, wrapping, statement: cst.BaseStatement) -> Existing:
    """``model = torch.compile(build())``: the optimizing call the model is built in."""
    return Existing(wrapping.label, wrapping.call, statement, script.line(wrapping.call), inner=wrapping.inner)


def _existing(script: Script, flags: Flags, var: str, call: cst.Call, label: str, block) -> Existing:
    statement = script.statement_of(call)
    target = _assigned_to(statement, call)
    derived = target if target is not None and target != var else None
    alone = target is not None or m.matches(
        statement, m.SimpleStatementLine(body=[m.Expr(m.MatchIfTrue(lambda value: value is call))])
    )
    return Existing(
        label, call, statement, script.line(call), derived, None, flags.on_default_path(statement, block), alone
    )


def calls_taking(script: Script, references: list[cst.CSTNode]) -> list[tuple[cst.Call, cst.CSTNode]]:
    """Calls that receive a model (or the module a pipeline or library object holds, ``pipe.model``,
    ``st[0].auto_model``) as their first argument."""
    calls = []
    for reference in references:
        arg = script.parent(reference)
        while isinstance(arg, (cst.Attribute, cst.Subscript)) and arg.value is reference:  # pipe.model, st[0].x
            reference, arg = arg, script.parent(arg)
        call = script.parent(arg) if isinstance(arg, cst.Arg) else None
        if isinstance(call, cst.Call) and call.args and call.args[0] is arg:
            calls.append((call, reference))
    return calls


def is_patched(script: Script, references: list[cst.CSTNode]) -> bool:
    """The script already optimizes this model with InferenceOptimizer (coder's own call)."""
    return any(injected.is_optimizer_call(call) for call, _ in calls_taking(script, references))


def _assigned_to(statement: cst.CSTNode, call: cst.Call) -> str | None:
    """The name ``call``'s result is bound to when it is the whole value of a one-target assignment."""
    single = m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget()])])
    if not m.matches(statement, single) or statement.body[0].value is not call:
        return None
    return spelled(statement.body[0].targets[0].target)


def _option_default(call: cst.Call) -> tuple[str, bool | None] | None:
    """(dest, default truth) of ``parser.add_argument("--compile", action="store_true")``."""
    if not m.matches(call.func, m.Attribute(attr=m.Name("add_argument"))):
        return None
    names = [a.value.evaluated_value for a in call.args if a.keyword is None and isinstance(a.value, cst.SimpleString)]
    keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    long = [n for n in names if n.startswith("--")] or [n for n in names if n.startswith("-")]
    dest = keywords.get("dest")
    name = dest.evaluated_value if isinstance(dest, cst.SimpleString) else (long[0].lstrip("-") if long else None)
    if not name:
        return None
    if "default" in keywords:
        return name.replace("-", "_"), _truth(keywords["default"])
    action = keywords.get("action")
    return name.replace("-", "_"), isinstance(action, cst.SimpleString) and action.evaluated_value == "store_false"


def _truth(value: cst.BaseExpression) -> bool | None:
    """The truth of a literal (None for anything else)."""
    if isinstance(value, cst.Name) and value.value in ("True", "False", "None"):
        return value.value == "True"
    if isinstance(value, (cst.Integer, cst.SimpleString)):
        return bool(value.evaluated_value)
    return None


def _bound(node: cst.Assign | cst.AnnAssign) -> str | None:
    targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
    return targets[0].value if len(targets) == 1 and isinstance(targets[0], cst.Name) else None
