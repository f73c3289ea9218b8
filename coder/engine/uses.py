"""Where a model is used: inference sites (also through the functions it is passed to) and training.

Names are followed through LibCST's scopes: the reads of a variable, the function a called name
is bound to, the calls of a function.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from coder.engine import patterns
from coder.engine.collect import Collected
from coder.engine.parse import Script


@dataclass(frozen=True)
class Site:
    """One inference call; ``target`` is how the model is spelled at that call."""

    call: cst.Call
    target: str
    line: int
    generate: bool


def self_attribute(name: str) -> m.Attribute:
    """``self.<name>``."""
    return m.Attribute(value=m.Name("self"), attr=m.Name(name))


class Uses:
    def __init__(self, script: Script, collected: Collected) -> None:
        self.script = script
        self.training = [c for c in collected.calls if patterns.TRAINING_CALL.found(script, c)]
        self._steps = [c for c in self.training if patterns.TRAINING_STEP.found(script, c)]

    def name_references(self, name: cst.Name | cst.Param) -> list[cst.CSTNode]:
        """Every read of the variable bound at ``name`` (an assignment target or a parameter), in script order."""
        node = name.name if isinstance(name, cst.Param) else name
        scope = self.script.scope(name)
        if scope is None:
            return []
        for assignment in scope.assignments[node.value]:
            if getattr(assignment, "node", None) is name:
                return sorted((access.node for access in assignment.references), key=self.script.position)
        return []

    def import_references(self, node: cst.Import | cst.ImportFrom, name: str) -> list[cst.CSTNode]:
        """Every read of ``name`` as ``node`` imports it, in script order."""
        scope = self.script.scope(node)
        for assignment in scope.assignments[name] if scope is not None else ():
            if getattr(assignment, "node", None) is node:
                return sorted((access.node for access in assignment.references), key=self.script.position)
        return []

    def attribute_references(self, owner: cst.ClassDef, attribute: str) -> list[cst.CSTNode]:
        """Every ``self.<attribute>`` inside a class."""
        return m.findall(owner, self_attribute(attribute))

    def sites(
        self, references: list[cst.CSTNode], target: str, seen: set | None = None, methods: tuple[str, ...] = ()
    ) -> tuple[list[Site], list[cst.Call]]:
        """Inference sites reached from ``references``, and the calls through which they are reached
        (``methods``: inference methods of this model besides generate() and forward())."""
        seen = set() if seen is None else seen
        sites: list[Site] = []
        entries: list[cst.Call] = []
        for node in references:
            parent = self.script.parent(node)
            site = (
                self._called(node, parent, target)
                or self._method_site(node, parent, target, methods)
                or self._thread_site(node, parent, target)
                or self._runner_site(node, parent, target)
            )
            if site:
                sites.append(site)
                entries.append(site.call)
            elif isinstance(parent, cst.Arg) and (passed := self._through_argument(parent, seen)):
                sites += passed
                entries.append(self.script.parent(parent))
        return sites, entries

    def reached(self, references: list[cst.CSTNode], seen: set | None = None) -> list[cst.CSTNode]:
        """``references`` and, through the script's functions they are passed to, their parameters' references."""
        seen = set() if seen is None else seen
        found = list(references)
        for node in references:
            arg = self.script.parent(node)
            call = self.script.parent(arg) if isinstance(arg, cst.Arg) else None
            param = self.parameter_for(call, arg) if isinstance(call, cst.Call) else None
            if param is not None and param not in seen:
                seen.add(param)
                found += self.reached(self.name_references(param), seen)
        return found

    def _called(self, node: cst.CSTNode, parent: cst.CSTNode, target: str) -> Site | None:
        """``model(x)``, unless it is a training step's forward pass."""
        if isinstance(parent, cst.Call) and parent.func is node and not self._in_training_step(parent):
            return Site(parent, target, self.script.line(parent), False)
        return None

    def _method_site(
        self, node: cst.CSTNode, parent: cst.CSTNode, target: str, methods: tuple[str, ...]
    ) -> Site | None:
        """``model.generate(...)``, ``model.forward(...)``, or one of ``methods``."""
        call = self.script.parent(parent) if isinstance(parent, cst.Attribute) and parent.value is node else None
        if not (isinstance(call, cst.Call) and call.func is parent):
            return None
        if not (patterns.INFERENCE_METHOD.found(self.script, call) or parent.attr.value in methods):
            return None
        return Site(call, target, self.script.line(call), parent.attr.value == "generate")

    def _runner_site(self, node: cst.CSTNode, parent: cst.CSTNode, target: str) -> Site | None:
        """``inference_detector(model, image)``: a library function that runs the model it is given."""
        call = self.script.parent(parent) if isinstance(parent, cst.Arg) and parent.value is node else None
        if isinstance(call, cst.Call) and call.args[0] is parent and patterns.LIBRARY_RUNNER.found(self.script, call):
            return Site(call, target, self.script.line(call), False)
        return None

    def _thread_site(self, node: cst.CSTNode, parent: cst.CSTNode, target: str) -> Site | None:
        """``Thread(target=model.generate, ...)``: the model runs where the thread is started."""
        arg = self.script.parent(parent) if isinstance(parent, cst.Attribute) and parent.value is node else None
        thread = self.script.parent(arg) if isinstance(arg, cst.Arg) else None
        if not (
            m.matches(arg, m.Arg(keyword=m.Name("target")))
            and isinstance(thread, cst.Call)
            and patterns.THREAD.found(self.script, thread)
        ):
            return None
        start = self._started(thread) or thread
        return Site(start, target, self.script.line(start), parent.attr.value == "generate")

    def _started(self, thread: cst.Call) -> cst.Call | None:
        """``thread.start()`` for ``thread = Thread(...)``, or ``Thread(...).start()``."""
        holder = self.script.parent(thread)
        if isinstance(holder, cst.Attribute) and holder.attr.value == "start":
            return self.script.parent(holder)
        target = holder.targets[0].target if m.matches(holder, m.Assign(targets=[m.AssignTarget(m.Name())])) else None
        for reference in self.name_references(target) if target is not None else ():
            method = self.script.parent(reference)
            call = self.script.parent(method)
            if m.matches(method, m.Attribute(attr=m.Name("start"))) and isinstance(call, cst.Call):
                return call
        return None

    def _in_training_step(self, call: cst.Call) -> bool:
        """A forward pass in a loop (or function) that also runs backward() or step(): training."""
        step = self.script.enclosing(call, (cst.For, cst.While, cst.FunctionDef))
        return step is not None and any(self.script.within(c, step) for c in self._steps)

    def trains_in(self, function: cst.FunctionDef) -> bool:
        """``function`` runs backward() or step()."""
        return any(self.script.within(c, function) for c in self._steps)

    def training_function(self, references: list[cst.CSTNode]) -> cst.FunctionDef | None:
        """A function that refers to the model and runs backward() or step()."""
        for reference in references:
            function = self.script.enclosing(reference, (cst.FunctionDef,))
            if function is not None and self.trains_in(function):
                return function
        return None

    def _through_argument(self, arg: cst.Arg, seen: set) -> list[Site]:
        call = self.script.parent(arg)
        param = self.parameter_for(call, arg) if isinstance(call, cst.Call) else None
        if param is None or param in seen:
            return []
        seen.add(param)
        return self.sites(self.name_references(param), param.name.value, seen)[0]

    def parameter_for(self, call: cst.Call, arg: cst.Arg) -> cst.Param | None:
        """The parameter of the script's function ``call`` runs that receives ``arg``."""
        function = self.callee(call)
        if function is None or arg.star:
            return None
        params = list(function.params.posonly_params) + list(function.params.params)
        if arg.keyword is not None:
            matches = [p for p in params + list(function.params.kwonly_params) if p.name.value == arg.keyword.value]
            return matches[0] if matches else None
        offset = 1 if isinstance(call.func, cst.Attribute) else 0  # self.method(model): skip self
        position = [a for a in call.args if a.keyword is None].index(arg) + offset
        return params[position] if position < len(params) else None

    def callee(self, call: cst.Call) -> cst.FunctionDef | None:
        """The function of the script a call runs: the one its name is bound to, or a method of
        the class around a ``self.<method>(...)`` call."""
        if isinstance(call.func, cst.Name):
            functions = [d for d in self.script.definitions(call.func) if isinstance(d, cst.FunctionDef)]
            return functions[0] if len(functions) == 1 else None
        if m.matches(call.func, m.Attribute(value=m.Name("self"))):
            owner = self.script.enclosing(call, (cst.ClassDef,))
            return _method(owner, call.func.attr.value) if owner is not None else None
        return None

    def reaching_calls(self, nodes: list[cst.CSTNode], home: cst.CSTNode | None) -> list[cst.CSTNode]:
        """``nodes`` plus every call of a function (other than ``home``) that contains one of them."""
        result, seen, pending = list(nodes), set(), list(nodes)
        while pending:
            function = self.script.enclosing(pending.pop(), (cst.FunctionDef,))
            if function is None or function is home or function in seen:
                continue
            seen.add(function)
            callers = self.callers(function)
            result += callers
            pending += callers
        return result

    def callers(self, function: cst.FunctionDef) -> list[cst.Call]:
        """Calls of ``function``: through a name bound to it, or as ``self.<name>(...)`` in its class."""
        scope = self.script.scope(function)
        bindings = [a for a in scope.assignments[function.name.value] if a.node is function] if scope else []
        names = [access.node for binding in bindings for access in binding.references]
        owner = self.script.parent(self.script.parent(function))
        if isinstance(owner, cst.ClassDef):
            names += m.findall(owner, self_attribute(function.name.value))
        calls = [self.script.parent(n) for n in names]
        calls = [c for c, n in zip(calls, names) if isinstance(c, cst.Call) and c.func is n]
        return sorted(calls, key=self.script.position)


def _method(owner: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    return next((s for s in owner.body.body if m.matches(s, m.FunctionDef(name=m.Name(name)))), None)
