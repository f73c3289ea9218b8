"""Real models with random weights (nothing is downloaded), built once per session."""

from __future__ import annotations

import warnings

import pytest
import torch

from tests.backend.inputs import images, settle_batchnorm


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
    config = transformers.BertConfig(
        vocab_size=200,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=64,
    )
    return transformers.BertModel(config).eval()


@pytest.fixture(scope="session")
def detector():
    """torchvision's Faster R-CNN (MobileNetV3 320 FPN, 3 classes, 10 boxes per image), called
    on a list of images and returning a list of dicts. Random weights give every box nearly the
    same score; the class scores are scaled up so that scores, and the boxes kept, differ."""
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

    torch.manual_seed(0)
    model = fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, num_classes=3, box_detections_per_img=10
    )
    settle_batchnorm(model.backbone, lambda seed: images(2, seed, (3, 320, 320)))
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.weight.mul_(30)
    return model.eval()


@pytest.fixture
def runtime_warnings():
    """Records every warning raised inside the test; ``coder_warnings`` picks coder's own."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
