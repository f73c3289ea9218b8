"""coder: no-code CPU inference acceleration for PyTorch scripts."""

__version__ = "0.1.0"

import importlib.abc
import importlib.util
import os
import sys

# The catalog is the repository's top-level transforms/ folder, installed as coder.transforms
# (pyproject.toml: package-dir). From a checkout on PYTHONPATH it is not inside coder/: this
# finder serves it under that name, so coder never takes a top-level name a user's module may have.
_CATALOG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "transforms")


class _CatalogFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "coder.transforms":
            return None
        return importlib.util.spec_from_file_location(
            name, os.path.join(_CATALOG, "__init__.py"), submodule_search_locations=[_CATALOG]
        )


if not os.path.isdir(os.path.join(os.path.dirname(__file__), "transforms")) and os.path.isdir(_CATALOG):
    sys.meta_path.append(_CatalogFinder())


def patch(source: str, transform) -> str:
    """The script ``source`` patched with a transform name (see --list), or "original" for the baseline.

    Findings (a model left alone, no model found) are issued with :mod:`warnings` as CoderWarning,
    as ``LINE:COLUMN: CODE message``. Raises ``coder.transforms.UnknownTransform`` and
    ``coder.engine.ScriptError``; :func:`coder.engine.patch` gives the typed outcome instead.
    """
    import warnings

    from coder import engine

    outcome = engine.patch(source, transform)
    for finding in outcome.findings:
        warnings.warn(str(finding), engine.CoderWarning, stacklevel=2)
    return outcome.source


def inspect(source: str) -> dict:
    """Models, inference sites, loaders and warnings found in ``source`` (the --inspect --json shape)."""
    from coder import engine

    return engine.inspect(source)
