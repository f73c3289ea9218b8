"""What to inject for a model: a named transform of the catalog, or the plain baseline trace."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import transforms

BASELINE = "original"


@dataclass(frozen=True)
class Recipe:
    """Builds the optimizer call for a model (source text of the model, of a loader or None)."""

    name: str
    build: Callable[[str, str | None], str]
    calibrates: bool = False  # INT8: pass a loader as calib_data when one is in reach
    traces_graph: bool = True  # captures a fixed graph: unsafe for a model used with .generate()


def recipe_for(transform: str | transforms.Transform | Recipe) -> Recipe:
    """A recipe from a catalog name, a Transform, "original" or a Recipe; raises UnknownTransform."""
    if isinstance(transform, Recipe):
        return transform
    if transform == BASELINE:
        return Recipe(BASELINE, lambda model, loader: f"InferenceOptimizer.trace({model})", traces_graph=False)
    entry = transforms.get(transform) if isinstance(transform, str) else transform
    return Recipe(entry.name, lambda model, loader: _call(entry, model, loader), entry.is_int8,
                  entry.is_int8 or entry.kwargs.get("accelerator") is not None)


def _call(entry: transforms.Transform, model: str, loader: str | None) -> str:
    return entry.call_source(model, calib_data=loader) if entry.is_int8 and loader else entry.call_source(model)
