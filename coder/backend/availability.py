"""Which optional libraries are importable, and the one line that says how to get one."""

from __future__ import annotations

import importlib
import importlib.util

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


def load(module: str):
    """Import ``module`` or raise MissingLibrary."""
    require(module)
    return importlib.import_module(module)
