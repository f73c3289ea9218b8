"""Where an inference site gets ``InferenceOptimizer.get_context(model)`` (DESIGN section 2)."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from coder.engine import names
from coder.engine.tree import Tree
from coder.engine.usage import Site

LOOPS = (cst.For, cst.While)


@dataclass(frozen=True)
class Placement:
    """``how`` is "done", "extend" (a get_context call), "item" (a with), "body" (a function), "wrap"."""

    how: str
    node: cst.CSTNode | None = None


def place(tree: Tree, site: Site, model_statement: cst.CSTNode, training: list[cst.Call]) -> Placement | None:
    """Where the site's context goes; None when it cannot go anywhere safe."""
    if isinstance(tree.enclosing(site.call, (cst.FunctionDef, cst.Lambda)), cst.Lambda):
        return None  # a lambda runs later, outside any with around its definition
    function = tree.enclosing(site.call, (cst.FunctionDef,))
    withs = [a for a in _ancestors_in(tree, site.call, function) if isinstance(a, cst.With)]
    for node in withs:
        if (context := _context_call(node)) is not None and not tree.within(model_statement, node):
            spelled = {tree.code(arg.value) for arg in context.args}
            return Placement("done") if site.target in spelled else Placement("extend", context)
    for node in withs:
        if _is_inference_with(tree, node) and not tree.within(model_statement, node):
            return Placement("item", node)
    if function is not None and _decorated_no_grad(tree, function) and not tree.within(model_statement, function):
        return Placement("body", function)
    return _statement_to_wrap(tree, site, function, model_statement, training)


def _statement_to_wrap(tree: Tree, site: Site, function, model_statement, training) -> Placement | None:
    statements = [a for a in _ancestors_in(tree, site.call, function)
                  if isinstance(tree.parent(a), (cst.IndentedBlock, cst.Module))]
    if not statements or tree.within(model_statement, statements[0]):
        return None
    loops = [s for s in statements if isinstance(s, LOOPS) and not tree.within(model_statement, s)
             and not any(tree.within(call, s) for call in training)]
    return Placement("wrap", loops[-1] if loops else statements[0])


def _ancestors_in(tree: Tree, node: cst.CSTNode, function) -> list[cst.CSTNode]:
    """Ancestors of ``node``, innermost first, stopping at ``function``."""
    found = []
    for ancestor in tree.ancestors(node):
        if ancestor is function:
            break
        found.append(ancestor)
    return found


def _context_call(node: cst.With) -> cst.Call | None:
    for item in node.items:
        call = item.item
        if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                and call.func.attr.value == "get_context"
                and isinstance(call.func.value, cst.Name) and call.func.value.value == names.OPTIMIZER_CLASS):
            return call
    return None


def _is_inference_with(tree: Tree, node: cst.With) -> bool:
    return any(_is_inference_context(tree, item.item) for item in node.items)


def _is_inference_context(tree: Tree, expr: cst.BaseExpression) -> bool:
    func = expr.func if isinstance(expr, cst.Call) else expr
    qualified = tree.qualified(func)
    if "torch.set_grad_enabled" in qualified:
        args = expr.args if isinstance(expr, cst.Call) else ()
        return bool(args) and isinstance(args[0].value, cst.Name) and args[0].value.value == "False"
    return any(names.is_inference_context(q) for q in qualified)


def _decorated_no_grad(tree: Tree, function: cst.FunctionDef) -> bool:
    return any(_is_inference_context(tree, d.decorator) for d in function.decorators)
