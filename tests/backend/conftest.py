"""Real models with random weights (nothing is downloaded), built once per module."""

from __future__ import annotations

import warnings

import pytest
import torch

IMAGE = (3, 64, 64)  # small spatial size keeps conversions and calls quick


def images(batch: int, seed: int) -> torch.Tensor:
    return torch.rand((batch, *IMAGE), generator=torch.Generator().manual_seed(seed))


def tokens(batch: int, seed: int, length: int = 12) -> dict:
    ids = torch.randint(0, 200, (batch, length), generator=torch.Generator().manual_seed(seed))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def settle_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Give BatchNorm real running statistics, so activations do not shrink layer by layer.

    A freshly initialised mobilenet_v3_small outputs ~1e-15 (BN in eval mode with mean 0 and
    var 1 does not normalise), and any INT8 result is then unrelated to fp32.
    """
    model.train()
    with torch.no_grad():
        for seed in range(3):
            model(images(8, 1000 + seed))
    return model.eval()


@pytest.fixture(scope="session")
def resnet18():
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


@pytest.fixture(scope="session")
def mobilenet():
    import torchvision

    torch.manual_seed(0)
    return settle_batchnorm(torchvision.models.mobilenet_v3_small(weights=None))


@pytest.fixture(scope="session")
def bert():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=200, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=128, max_position_embeddings=64)
    return transformers.BertModel(config).eval()


def coder_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if str(w.message).startswith("coder:")]


@pytest.fixture
def runtime_warnings():
    """Records every warning raised inside the test; ``coder_warnings`` picks coder's own."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
