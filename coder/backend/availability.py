"""Which optional libraries are importable, and the one line that says how to get one."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import sys
import tempfile

from transforms.spec import INSTALL_HINTS


class MissingLibrary(ImportError):
    """A runtime library is not installed; the message is one line with the pip command."""

    def __init__(self, module: str) -> None:
        self.module = module
        super().__init__(f"{module} is not installed: {INSTALL_HINTS.get(module, f'pip install {module}')}")


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def require(*modules: str) -> None:
    """Raise MissingLibrary for the first module that cannot be found."""
    for module in modules:
        if not has(module):
            raise MissingLibrary(module)


# Libraries that print harmless noise on import into every patched script's run: IPEX 2.8
# warns from C++ that it overrides an autocast kernel and logs that there is no CUDA runtime;
# Neural Compressor imports IPEX itself when present and logs its own warnings.
NOISY_ON_IMPORT = {"intel_extension_for_pytorch", "neural_compressor"}


def load(module: str):
    """Import ``module`` or raise MissingLibrary."""
    require(module)
    package = module.partition(".")[0]
    if package in NOISY_ON_IMPORT and module not in sys.modules:
        with _stderr_kept_unless_failing(), _logging_quiet():
            return importlib.import_module(module)
    return importlib.import_module(module)


@contextlib.contextmanager
def _stderr_kept_unless_failing():
    """Hold what is written to file descriptor 2; show it again only if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@contextlib.contextmanager
def _logging_quiet():
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)
