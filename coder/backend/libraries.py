"""The libraries runtimes need: one table pairs each with the one line that says how to get it
(after optimum-intel's ``utils/import_utils.py``); everything else asks this table."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import sys

IPEX_STACK_HINT = (
    "needs the IPEX stack (torch 2.8 + intel-extension-for-pytorch 2.8): "
    "pip install torch==2.8.0 torchvision==0.23.0 intel-extension-for-pytorch==2.8.0"
)
ONNX_HINT = "pip install onnx onnxruntime onnxscript"

# module that must be importable -> the one line telling a user how to get it
LIBRARIES = {
    "torch": "pip install torch",
    "intel_extension_for_pytorch": IPEX_STACK_HINT,
    "onnx": ONNX_HINT,
    "onnxruntime": ONNX_HINT,
    "onnxscript": ONNX_HINT,
    "openvino": "pip install openvino",
    "nncf": "pip install openvino nncf",
    "neural_compressor": "pip install 'neural-compressor[pt]' torchao",
    "torchao": "pip install torchao",
}


def install_hint(module: str) -> str:
    return LIBRARIES.get(module.partition(".")[0], f"pip install {module}")


class MissingLibrary(ImportError):
    """A runtime library is not installed; the message is one line with the pip command."""

    def __init__(self, module: str) -> None:
        self.module = module
        super().__init__(f"{module} is not installed: {install_hint(module)}")


def has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that fails to import
        return False


def missing(modules) -> list[str]:
    """The modules among ``modules`` that are not importable here, in order."""
    return [module for module in modules if not has(module)]


def require(*modules: str) -> None:
    """Raise MissingLibrary for the first module that cannot be found."""
    absent = missing(modules)
    if absent:
        raise MissingLibrary(absent[0])


# Libraries that print harmless noise on import into every patched script's run: IPEX 2.8
# warns from C++ that it overrides an autocast kernel and logs that there is no CUDA runtime;
# Neural Compressor imports IPEX itself when present and logs its own warnings; NNCF makes torch
# log "No CUDA runtime is found".
NOISY_ON_IMPORT = {"intel_extension_for_pytorch", "neural_compressor", "nncf"}


def load(module: str):
    """Import ``module`` or raise MissingLibrary."""
    require(module)
    package = module.partition(".")[0]
    if package in NOISY_ON_IMPORT and module not in sys.modules:
        from coder.backend.isolation import held_output

        with held_output(), _logging_quiet():
            return importlib.import_module(module)
    return importlib.import_module(module)


@contextlib.contextmanager
def _logging_quiet():
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)
