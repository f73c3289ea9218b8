"""The catalog of named transforms: declarative data, no torch import.

Each entry in :mod:`transforms.catalog` names one optimization as a call on
``coder.backend.InferenceOptimizer``. Everything else (the engine, the CLI,
``--list``, ``-o auto``) reads the catalog through the helpers below.
"""

from transforms.catalog import CATALOG
from transforms.spec import IPEX_STACK_HINT, Transform, UnknownTransform

BY_NAME = {entry.name: entry for entry in CATALOG}


def names() -> list[str]:
    return [entry.name for entry in CATALOG]


def get(name: str) -> Transform:
    """The entry called ``name``; raises UnknownTransform with close matches."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise UnknownTransform(name, names()) from None


__all__ = ["CATALOG", "IPEX_STACK_HINT", "Transform", "UnknownTransform", "get", "names"]
