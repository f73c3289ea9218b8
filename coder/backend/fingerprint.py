"""The cache key of a converted model: everything its files depend on, hashed.

- the model: its class, the source of the ``forward`` of each of its module classes, its
  ``repr`` (structure and hyper-parameters) and a fast hash of its weights and buffers;
- the transform: its label and options, and how it was calibrated (given data or the script's
  own calls; the shapes count, the values do not, so the next run's inputs still find it);
- the input signature, as the runtime's shape policy sees it (``Recipe.key``);
- the versions of coder, Python and every library the runtime uses, and the CPU's features.

The weights hash reads every byte of small tensors and an evenly spread sample of 64K
elements of larger ones, plus their shapes and dtypes: a few milliseconds for resnet50 instead
of a pass over its 100 MB. Retrained or fine-tuned weights change every sample; an edit of a
few values of a large tensor can be missed, and is then caught by the first-call parity check.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import platform

import torch

import coder
from coder.backend.cpu import this_cpu
from coder.backend.flat import CallSpec
from coder.backend.recipe import Recipe

WHOLE_TENSOR_BYTES = 1 << 18  # tensors up to 256 KB are hashed whole
SAMPLED_ELEMENTS = 1 << 16
DISTRIBUTIONS = {"intel_extension_for_pytorch": "intel-extension-for-pytorch",
                 "neural_compressor": "neural-compressor"}


def digest(*parts) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        hasher.update(repr(part).encode())
        hasher.update(b"\0")
    return hasher.hexdigest()


def model_fingerprint(model: torch.nn.Module) -> str:
    """What the model is: class, forward sources, structure and weights."""
    cls = type(model)
    return digest(f"{cls.__module__}.{cls.__qualname__}", _forward_sources(model), repr(model),
                  weights_hash(model))


def weights_hash(model: torch.nn.Module) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        if not isinstance(tensor, torch.Tensor):
            continue
        hasher.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        hasher.update(memoryview(_sample(tensor).view(torch.uint8).numpy()))
    return hasher.hexdigest()


def _sample(tensor: torch.Tensor) -> torch.Tensor:
    flat = tensor.detach().reshape(-1)
    if flat.numel() * flat.element_size() > WHOLE_TENSOR_BYTES:
        flat = flat[::flat.numel() // SAMPLED_ELEMENTS]
    return flat.contiguous()


def _forward_sources(model: torch.nn.Module) -> str:
    """The forward of every module class in the model: a class edited in the script changes it."""
    classes = {type(module) for module in model.modules()}
    return digest(*sorted(_source_of(cls) for cls in classes))


def _source_of(cls: type) -> str:
    try:
        return inspect.getsource(cls.forward)
    except (OSError, TypeError):  # built in, or defined where no source file is kept
        return f"{cls.__module__}.{cls.__qualname__}"


def library_versions(recipe: Recipe) -> dict[str, str]:
    versions = {"coder": coder.__version__, "python": platform.python_version()}
    for module in ("torch", *recipe.requires):
        try:
            versions[module] = importlib.metadata.version(DISTRIBUTIONS.get(module, module))
        except importlib.metadata.PackageNotFoundError:
            versions[module] = "?"
    return versions


def calibration_signature(calibration: list[list[torch.Tensor]], given: bool) -> tuple:
    """How a model was calibrated, as far as the key cares: who gave the data, and its shapes."""
    shapes = tuple(tuple((t.dtype, tuple(t.shape)) for t in batch) for batch in calibration)
    return ("given", shapes) if given else ("the script's calls",)


def entry_key(recipe: Recipe, fingerprint: str, call: CallSpec, tensors: list[torch.Tensor],
              calibration: tuple, criterion=None) -> str:
    """``criterion``: --max-drop's (accuracy.MaxDrop); what failed under one may pass under another."""
    cpu = this_cpu()
    extra = (repr(criterion),) if criterion is not None else ()
    return digest(recipe.label, recipe.options, fingerprint, recipe.key(call, tensors), calibration,
                  sorted(library_versions(recipe).items()), cpu.capability, sorted(cpu.features), *extra)
