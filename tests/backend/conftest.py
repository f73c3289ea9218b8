"""Real models with random weights (nothing is downloaded), built once per session."""

from __future__ import annotations

import warnings

import pytest
import torch

from tests.backend.inputs import settle_batchnorm


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
    import transformers  # a dev dependency in both lanes: missing must fail, not skip
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=200, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=128, max_position_embeddings=64)
    return transformers.BertModel(config).eval()


@pytest.fixture
def runtime_warnings():
    """Records every warning raised inside the test; ``coder_warnings`` picks coder's own."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
