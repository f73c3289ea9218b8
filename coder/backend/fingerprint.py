"""The cache key of a converted model: everything its files depend on, hashed.

- the model: what a conversion bakes in (``baked.py``): its modules' classes and code, reached
  from every ``forward`` (helper functions, module-level values, closures), every byte of its
  weights and buffers, every other attribute's value, its hooks. No call of the model is needed;
- the transform: its label and options, and how it was calibrated (given data or the script's
  own calls; the shapes count, the values do not, so the next run's inputs still find it);
- the input signature, as the runtime's shape policy sees it (``Recipe.key``);
- the versions of coder, Python and every library the runtime uses, and the CPU's features.

Not covered: what ``forward`` reads from outside Python values (environment variables, files,
the clock, random generators' state). The first-call parity check still compares the runtime
with the original model, and a loaded entry that fails it is rejected for this run only
(``cache.Entry.reject``): the key's other models keep it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform

import torch

import coder
from coder.backend.baked import Baked
from coder.backend.cpu import this_cpu
from coder.backend.flat import CallSpec
from coder.backend.messages import debug
from coder.backend.recipe import Recipe

DISTRIBUTIONS = {"intel_extension_for_pytorch": "intel-extension-for-pytorch", "neural_compressor": "neural-compressor"}


def digest(*parts) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        hasher.update(repr(part).encode())
        hasher.update(b"\0")
    return hasher.hexdigest()


def model_fingerprint(model: torch.nn.Module) -> str:
    """What the model is, as far as a conversion of it is concerned (``baked.Baked``)."""
    walked = Baked().model(model)
    if walked.opaque:
        debug(Unhashable(f"not reused by later runs: the model holds {', '.join(sorted(set(walked.opaque))[:5])}"))
    return walked.digest()


class Unhashable(Exception):
    """Part of the model that the fingerprint cannot hash: its entries count for this run only."""


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


def entry_key(
    recipe: Recipe, fingerprint: str, call: CallSpec, tensors: list[torch.Tensor], calibration: tuple, criterion=None
) -> str:
    """``criterion``: --max-drop's (accuracy.MaxDrop); what failed under one may pass under another."""
    cpu = this_cpu()
    extra = (repr(criterion),) if criterion is not None else ()
    return digest(
        recipe.label,
        recipe.options,
        fingerprint,
        recipe.key(call, tensors),
        calibration,
        sorted(library_versions(recipe).items()),
        cpu.capability,
        sorted(cpu.features),
        *extra,
    )
