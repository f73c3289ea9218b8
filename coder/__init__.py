"""coder: no-code CPU inference acceleration for PyTorch scripts."""

__version__ = "0.1.0"


def patch(source: str, transform) -> str:
    """The script ``source`` patched with a transform name (see --list), or "original" for the baseline.

    Findings (a model left alone, no model found) are issued with :mod:`warnings` as CoderWarning,
    as ``LINE:COLUMN: CODE message``. Raises ``transforms.UnknownTransform`` and
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
