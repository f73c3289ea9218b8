"""The script's own modules, next to it: does a name imported from one build a model?

``from model import Net`` or ``from models.experimental import attempt_load`` name a file of the
script's project (``model.py``, ``models/experimental.py``, or a package's ``__init__.py``). When
that file is there, it is parsed like the script and asked the same questions: is ``Net`` a class
deriving from nn.Module (directly or through other classes), does ``attempt_load`` return a model.
A name the file itself imports is followed once more. When the file is not there (the script
was copied alone), the evidence of the script's own uses decides instead (evidence.py).
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
from libcst.helpers import get_full_name_for_node

MAX_BYTES = 1_000_000  # a generated or vendored file this large is not read


class Siblings:
    """The modules of one folder (the script's), each parsed at most once."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._parsed: dict[Path, tuple | None] = {}

    def describe(self, qualified: str, base: Path | None = None) -> str | None:
        """``"Net (model.py)"`` when ``qualified`` ("model.Net") names a model class, or a function
        returning a model, in a module of the folder (``base``: the package a relative name is in)."""
        module, _, name = qualified.rpartition(".")
        if self.folder is None or not module.strip("."):
            return None
        path = self._file_of(module, base)
        return self._describe_in(path, name) if path is not None else None

    def describe_instance(self, qualified: str) -> str | None:
        """``"model (model.py)"`` when ``qualified`` ("model.model") names a model that a module of the
        folder builds at its top level (``model = Net()``)."""
        module, _, name = qualified.rpartition(".")
        path = self._file_of(module, None) if self.folder is not None and module.strip(".") else None
        found = self._analysed(path) if path is not None else None
        if found is None:
            return None
        script, builders = found
        for node in script.view.body:
            for small in node.body if isinstance(node, cst.SimpleStatementLine) else ():
                if _assigns(small, name) and (built := builders.built_by(small.value)) and built.certain:
                    return f"{name} ({path.relative_to(self.folder).as_posix()})"
        return None

    def _file_of(self, module: str, base: Path | None) -> Path | None:
        relative = module.startswith(".")
        folder = (base or self.folder) if relative else self.folder
        parts = module.lstrip(".").split(".")
        candidates = [folder.joinpath(*parts).with_suffix(".py"), folder.joinpath(*parts, "__init__.py")]
        return next((c for c in candidates if c.is_file()), None)

    def _describe_in(self, path: Path, name: str) -> str | None:
        found = self._analysed(path)
        if found is None:
            return None
        script, builders = found
        shown = f"{name} ({path.relative_to(self.folder).as_posix()})"
        for node in script.view.body:
            if _defines(node, name):
                return shown if _builds_a_model(builders, node) else None
            if (imported := _imported_as(node, name)) is not None:
                return self.describe(imported, path.parent)
        return None

    def _analysed(self, path: Path):
        """(Script, Builders) of a module of the folder; None when it cannot be read (or is being read)."""
        if path not in self._parsed:
            self._parsed[path] = None  # while it is being read: an import cycle finds nothing
            self._parsed[path] = _analyse(path, self)
        return self._parsed[path]


def _analyse(path: Path, siblings: Siblings):
    from coder.engine.builders import Builders
    from coder.engine.collect import Collected
    from coder.engine.outcome import ScriptError
    from coder.engine.parse import parse

    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        script = parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ScriptError):
        return None
    return script, Builders(script, Collected(script.view), siblings)


def _assigns(small: cst.BaseSmallStatement, name: str) -> bool:
    """``name = ...`` (one target)."""
    return (
        isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Name)
        and small.targets[0].target.value == name
    )


def _defines(node: cst.CSTNode, name: str) -> bool:
    return isinstance(node, (cst.ClassDef, cst.FunctionDef)) and node.name.value == name


def _builds_a_model(builders, node: cst.ClassDef | cst.FunctionDef) -> bool:
    if isinstance(node, cst.ClassDef):
        return builders.is_model_class(node)
    return builders.returns_a_model(node)


def _imported_as(node: cst.CSTNode, name: str) -> str | None:
    """``".net.Net"`` when ``node`` is ``from .net import Net`` (or ``... import Net as name``)."""
    if not isinstance(node, cst.SimpleStatementLine):
        return None
    for small in node.body:
        if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
            module = "." * len(small.relative) + (get_full_name_for_node(small.module) if small.module else "")
            for alias in small.names:
                if (alias.evaluated_alias or alias.evaluated_name) == name:
                    return f"{module}.{alias.evaluated_name}"
    return None
