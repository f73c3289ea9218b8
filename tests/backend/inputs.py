"""Inputs and helpers shared by the backend tests (random data, nothing downloaded)."""

from __future__ import annotations

import torch

IMAGE = (3, 64, 64)  # small spatial size keeps conversions and calls quick


def images(batch: int, seed: int, shape: tuple = IMAGE) -> torch.Tensor:
    return torch.rand((batch, *shape), generator=torch.Generator().manual_seed(seed))


def image_list(seed: int, count: int = 2) -> list[torch.Tensor]:
    """What a detection model takes: a list of images (3 x 240 x 320 here)."""
    return list(images(count, seed, (3, 240, 320)))


def tokens(batch: int, seed: int, length: int = 12) -> dict:
    ids = torch.randint(0, 200, (batch, length), generator=torch.Generator().manual_seed(seed))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def settle_batchnorm(model: torch.nn.Module, inputs=lambda seed: images(8, seed)) -> torch.nn.Module:
    """Give BatchNorm real running statistics, so activations do not shrink layer by layer.

    A freshly initialised mobilenet_v3_small outputs ~1e-15 (BN in eval mode with mean 0 and
    var 1 does not normalise), and any INT8 result is then unrelated to fp32.
    """
    model.train()
    with torch.no_grad():
        for seed in range(3):
            model(inputs(1000 + seed))
    return model.eval()


def coder_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if str(w.message).startswith("coder:")]


def load_script(folder, source: str, name: str):
    """``source`` as a module of its own file, a fresh one each call (like a script's next run);
    it stays in sys.modules as ``name`` until the caller removes it."""
    import importlib.util
    import sys

    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
