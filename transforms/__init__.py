"""The catalog of named transforms: declarative data, no torch import.

Each entry in :mod:`transforms.catalog` names one optimization as a call on
``coder.backend.InferenceOptimizer``. Everything else (the engine, the CLI,
``--list``, ``-o auto``) reads the catalog through the helpers below.
"""

from coder.backend.cpu import Cpu
from coder.backend.libraries import IPEX_STACK_HINT
from coder.backend.runtimes import Options
from transforms.catalog import CATALOG
from transforms.spec import Transform, UnknownTransform

BY_NAME = {entry.name: entry for entry in CATALOG}


def names() -> list[str]:
    return [entry.name for entry in CATALOG]


def get(name: str) -> Transform:
    """The entry called ``name``; raises UnknownTransform with close matches."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise UnknownTransform(name, names()) from None


def name_for(method: str, options: Options) -> str | None:
    """The name of the entry that makes this call, if one does."""
    return next((entry.name for entry in CATALOG if entry.method == method and entry.options == options), None)


def status(entry: Transform, cpu: Cpu) -> dict:
    """Whether ``entry`` can run here: ``--list --json`` gives one of these per transform."""
    verdict = entry.verdict(cpu)
    hint = entry.install_hint()
    return {"name": entry.name, "available": hint is None and verdict.kind != "unsupported",
            "verdict": verdict.kind, "reason": verdict.reason, "install": hint}


__all__ = ["CATALOG", "IPEX_STACK_HINT", "Transform", "UnknownTransform", "get", "name_for", "names", "status"]
