"""The catalog of named transforms: declarative data, no torch import.

Each entry in :mod:`coder.transforms.catalog` names one optimization as a call on
``coder.backend.InferenceOptimizer``. Everything else (the engine, the CLI,
``--list``, ``-o auto``) reads the catalog through the helpers below.
"""

import dataclasses

from coder.backend.cpu import Cpu
from coder.backend.libraries import IPEX_STACK_HINT
from coder.backend.runtimes import Options

from .catalog import CATALOG
from .spec import Transform, UnknownTransform

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
    return {
        "name": entry.name,
        "available": hint is None and verdict.kind != "unsupported",
        "verdict": verdict.kind,
        "reason": verdict.reason,
        "install": hint,
    }


def alternative(entry: Transform, cpu: Cpu) -> str | None:
    """For an IPEX transform, the nearest one that can run here without IPEX: the same call
    without ``use_ipex``, else (when that call changes nothing) its TorchScript form."""
    if not entry.options.use_ipex:
        return None
    without_ipex = dataclasses.replace(entry.options, use_ipex=False)
    for options in (without_ipex, dataclasses.replace(without_ipex, accelerator="jit")):
        name = name_for(entry.method, options)
        if name and status(BY_NAME[name], cpu)["available"]:
            return name
    return None


__all__ = [
    "CATALOG",
    "IPEX_STACK_HINT",
    "Transform",
    "UnknownTransform",
    "alternative",
    "get",
    "name_for",
    "names",
    "status",
]
