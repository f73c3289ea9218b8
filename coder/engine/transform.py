"""Step 4, transform: apply a plan to the parsed tree; the patched script is ``module.code``.

One ``leave_*`` per kind of edit: an existing get_context call gains models, or one of the
script's optimizing calls is replaced (``leave_Call``), a ``with`` gains an item
(``leave_With``), a decorated function's body is wrapped (``leave_FunctionDef``); a statement of
any kind is wrapped in a new ``with``, preceded or followed by an optimizer call, or replaced
(``on_leave``, as statements come in many node types); a model the script writes after
coder's call is handed over as ``InferenceOptimizer.original(model)`` (``on_leave``). Whatever
writes ``InferenceOptimizer`` asks AddImportsVisitor for its import.

The transformer is handed the plan's nodes, so it walks the tree it was given instead of the
copy ``Codemod.transform_module`` would make (and only down to the edited nodes: on a large
script most statements are not touched).
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext, ContextAwareTransformer
from libcst.codemod.visitors import AddImportsVisitor

from coder.engine import injected
from coder.engine.parse import Script
from coder.engine.plan import Plan

# a line of imports or a docstring: what AddImportsVisitor reads before the first other statement
LEADING = m.SimpleStatementLine(
    body=[m.AtLeastN(m.Import() | m.ImportFrom() | m.Expr(m.SimpleString() | m.ConcatenatedString()), n=1)]
)


class ApplyPlan(ContextAwareTransformer):
    """The plan's edits, each at the node the plan names."""

    def __init__(self, context: CodemodContext, script: Script, plan: Plan) -> None:
        super().__init__(context)
        self.plan = plan
        self._on_the_way = {a for node in plan.edited_nodes() for a in [node, *script.ancestors(node)]}

    def on_visit(self, node: cst.CSTNode) -> bool:
        return (node in self._on_the_way or isinstance(node, cst.Module)) and super().on_visit(node)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if (replacement := self.plan.replaced_calls.get(original_node)) is not None:
            return self._replacement(replacement)
        if (targets := self.plan.context_args.get(original_node)) is None:
            return updated_node
        extra = [cst.Arg(cst.parse_expression(t)) for t in targets]
        return updated_node.with_changes(args=[*updated_node.args, *extra])

    def leave_With(self, original_node: cst.With, updated_node: cst.With) -> cst.With:
        if (targets := self.plan.with_items.get(original_node)) is None:
            return updated_node
        self._import_optimizer()
        return updated_node.with_changes(items=[*updated_node.items, cst.WithItem(injected.context_call(targets))])

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        if (targets := self.plan.bodies.get(original_node)) is None:
            return updated_node
        self._import_optimizer()
        return _with_body_wrapped(updated_node, targets)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):
        updated_node = super().on_leave(original_node, updated_node)
        if original_node in self.plan.originals:  # the script writes the model after coder's call
            self._import_optimizer()
            return injected.original_call(updated_node)
        if (statements := self.plan.replaced.get(original_node)) is not None:
            return self._replaced_statement(updated_node, statements)
        if (targets := self.plan.wrapped.get(original_node)) is not None:
            self._import_optimizer()
            updated_node = _with_block([updated_node], targets)
        before, after = self.plan.calls_before.get(original_node, []), self.plan.calls_after.get(original_node, [])
        if before or after:
            self._import_optimizer()
            return cst.FlattenSentinel(
                [*map(cst.parse_statement, before), updated_node, *map(cst.parse_statement, after)]
            )
        return updated_node

    def _replacement(self, replacement: str | cst.BaseExpression) -> cst.BaseExpression:
        if isinstance(replacement, cst.BaseExpression):
            return replacement
        self._import_optimizer()
        return cst.parse_expression(replacement)

    def _replaced_statement(self, statement: cst.BaseStatement, replacements: list[str]):
        """The statement's replacements (which take over its comments), or nothing at all."""
        if not replacements:
            return cst.RemoveFromParent()
        self._import_optimizer()
        new = [cst.parse_statement(code) for code in replacements]
        return cst.FlattenSentinel([new[0].with_changes(leading_lines=statement.leading_lines), *new[1:]])

    def _import_optimizer(self) -> None:
        AddImportsVisitor.add_needed_import(self.context, injected.IMPORT_FROM, injected.OPTIMIZER)


def _with_block(statements: list[cst.BaseStatement], targets: list[str]) -> cst.With:
    """``with InferenceOptimizer.get_context(...):`` around ``statements``, taking over the comments
    and blank lines above the first."""
    first, rest = statements[0], statements[1:]
    body = cst.IndentedBlock(body=[first.with_changes(leading_lines=()), *rest])
    return cst.With(items=[cst.WithItem(injected.context_call(targets))], body=body, leading_lines=first.leading_lines)


def _with_body_wrapped(function: cst.FunctionDef, targets: list[str]) -> cst.FunctionDef:
    """The body after the docstring inside a new ``with``."""
    statements = list(function.body.body)
    docstring = statements[:1] if function.get_docstring(clean=False) is not None else []
    rest = statements[len(docstring) :]
    if not rest:
        return function
    return function.with_changes(body=function.body.with_changes(body=[*docstring, _with_block(rest, targets)]))


def apply(script: Script, plan: Plan) -> str:
    """The patched script: the code of the transformed tree."""
    return script.write(transformed(script, plan))


def transformed(script: Script, plan: Plan) -> cst.Module:
    """The plan applied to the parsed tree, with the import it needs."""
    context = CodemodContext()
    module = script.module.visit(ApplyPlan(context, script, plan))
    return _with_requested_imports(module, context)


def _with_requested_imports(module: cst.Module, context: CodemodContext) -> cst.Module:
    """Run AddImportsVisitor on the statements it reads (the leading docstring and imports, and
    the statement after them): on the whole module it would walk, and copy, every node."""
    end = _after_leading_imports(module)
    # AddImportsVisitor parses the import with the module's config, which LibCST refuses when the
    # detected indent holds a form feed; the statements taken back are written with ``module``'s.
    indent = module.default_indent.replace("\f", "") or "    "
    head = module.with_changes(body=module.body[:end], default_indent=indent)
    head = AddImportsVisitor(context).transform_module(head)
    return module.with_changes(body=[*head.body, *module.body[end:]])


def _after_leading_imports(module: cst.Module) -> int:
    """Index just past the first statement that is neither imports nor a docstring."""
    index = next((i for i, s in enumerate(module.body) if not m.matches(s, LEADING)), len(module.body))
    return index + 1
