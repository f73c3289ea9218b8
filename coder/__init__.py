"""coder: no-code CPU inference acceleration for PyTorch scripts."""

__version__ = "0.1.0"


def patch(source: str, transform) -> str:
    """The script ``source`` patched with a transform name (see --list), or "original" for the baseline.

    Warnings (a model skipped, no model found) are issued with :mod:`warnings` as CoderWarning.
    Raises ``transforms.UnknownTransform`` and ``coder.engine.ScriptError``.
    """
    import warnings

    from coder import engine

    result = engine.patch(source, transform)
    for message in result.warnings:
        warnings.warn(message, engine.CoderWarning, stacklevel=2)
    return result.source


def inspect(source: str) -> dict:
    """Models, inference sites and loaders found in ``source`` (the --inspect --json shape)."""
    from coder import engine

    return engine.inspect(source)
