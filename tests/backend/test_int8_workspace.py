"""Neural Compressor INT8 keeps its files to itself and each model to its own config."""

from __future__ import annotations

import pytest
import torch

from coder.backend import InferenceOptimizer
from tests.backend.inputs import coder_warnings, images

pytestmark = pytest.mark.slow


def test_two_models_quantize_in_one_process_without_files_in_the_working_folder(
    tmp_path, monkeypatch, resnet18, mobilenet, runtime_warnings
):
    monkeypatch.chdir(tmp_path)
    calibration = [images(2, seed) for seed in range(2)]
    first = InferenceOptimizer.quantize(resnet18, precision="int8", calib_data=calibration)
    second = InferenceOptimizer.quantize(mobilenet, precision="int8", calib_data=calibration)
    sample = images(2, 7)
    with InferenceOptimizer.get_context(first, second):
        first_out, second_out = first(sample), second(sample)
    with torch.no_grad():
        assert first_out.argmax(1).tolist() == resnet18(sample).argmax(1).tolist()
        assert second_out.shape == mobilenet(sample).shape
    assert coder_warnings(runtime_warnings) == []  # both converted and passed the parity check
    assert list(tmp_path.iterdir()) == []
