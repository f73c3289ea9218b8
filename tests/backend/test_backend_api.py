"""Calibration data forms, the metric gate, optimize/get_best_model, save/load, multi-instance."""

from __future__ import annotations

import pytest
import torch

from coder.auto.result import Status
from coder.backend import InferenceOptimizer
from coder.backend.parity import TOLERANCE, relative_error
from coder.backend.wrapper import VERIFY_CALLS
from tests.backend.inputs import coder_warnings, images, tokens

FAST = ["nano_jit_fp32", "nano_bf16", "nano_onnxruntime_fp32", "nano_onnxruntime_int8_qlinear"]


def image_loader(batches: int = 2, batch: int = 2):
    data = torch.utils.data.TensorDataset(images(batches * batch, 7), torch.randint(0, 1000, (batches * batch,)))
    return torch.utils.data.DataLoader(data, batch_size=batch)


def test_dataloader_of_pairs_calibrates_right_away(resnet18):
    model = InferenceOptimizer.quantize(
        resnet18, precision="int8", accelerator="onnxruntime", calib_data=image_loader()
    )
    assert model.accelerated and len(model.calibration) == 2
    x = images(3, 1)
    with torch.no_grad():
        assert relative_error(model(x), resnet18(x)) <= TOLERANCE["int8"]


def test_hugging_face_dicts_calibrate(bert):
    batches = [dict(tokens(2, seed), labels=torch.zeros(2)) for seed in range(2)]
    model = InferenceOptimizer.quantize(bert, precision="int8", accelerator="openvino", calib_data=batches)
    assert model.accelerated
    with torch.no_grad():
        out = model(**tokens(2, 5))
    assert relative_error(out.last_hidden_state, bert(**tokens(2, 5)).last_hidden_state) <= TOLERANCE["int8"]


def test_without_calib_data_the_first_call_is_already_int8(resnet18, runtime_warnings):
    model = InferenceOptimizer.quantize(resnet18, precision="int8", accelerator="onnxruntime")
    x = images(1, 0)
    with torch.no_grad():
        got = model(x)
    assert model.accelerated and model.story.converted and model.story.calls == 1
    assert relative_error(got, resnet18(x)) <= TOLERANCE["int8"]
    assert not torch.equal(got, resnet18(x))  # INT8 output, not the original's
    [note] = coder_warnings(runtime_warnings)  # said once: one sample is too few for reliable ranges
    assert note.startswith("coder: nano_onnxruntime_int8_qlinear: calibrated on 1 sample from the script's own calls")


def test_the_first_k_calls_recalibrate_when_their_inputs_are_new(resnet18):
    model = InferenceOptimizer.quantize(resnet18, precision="int8", accelerator="onnxruntime", calib_calls=3)
    assert model.warmup_calls == 3 + VERIFY_CALLS - 1
    with torch.no_grad():
        model(images(1, 0))
        [first] = model._runtimes.values()
        model(images(1, 1))
        assert model._runtimes[next(iter(model._runtimes))] is first
        model(images(1, 2))
    [recalibrated] = model._runtimes.values()
    assert recalibrated is not first and recalibrated.calibrated_on == 3 and model.accelerated


def test_a_loop_on_one_input_is_quantized_once(resnet18):
    model = InferenceOptimizer.quantize(resnet18, precision="int8", accelerator="onnxruntime", calib_calls=3)
    x = images(1, 0)
    with torch.no_grad():
        model(x)
        [first] = model._runtimes.values()
        for _ in range(4):
            model(x)
    assert list(model._runtimes.values()) == [first] and first.calibrated_on == 1


def top1(output, target):
    return (output.argmax(-1) == target).float().mean()


def test_metric_gate_rejects_a_drop_beyond_the_criterion(resnet18, runtime_warnings):
    # INT8 with a metric searches (tests/backend/test_tuning.py); BF16 is one config, checked
    x = images(4, 3)
    with torch.no_grad():
        reference = resnet18(x)  # the original scores 0 by construction

    def error(output, target):
        return (output - target).abs().max()

    exact = {"absolute": 0.0, "higher_is_better": False}
    model = InferenceOptimizer.quantize(
        resnet18, precision="bf16", calib_data=[(x, reference)], metric=error, accuracy_criterion=exact
    )
    assert "metric" in model.fallback_reason
    assert len(coder_warnings(runtime_warnings)) == 1


def test_optimize_prints_the_table_and_picks_the_fastest(resnet18, capsys):
    optimizer = InferenceOptimizer()
    results = optimizer.optimize(resnet18, image_loader(1, 1), latency_sample_num=3, includes=FAST)
    table = capsys.readouterr().out
    assert all(name in table for name in ["original", *FAST]) and "speedup" in table and "first call s" in table
    best, name = optimizer.get_best_model()
    # the same rows as -o auto: a transform not faster than the original is "slower than the original here"
    fastest = min((r for r in results if r.status == Status.SUCCESSFUL), key=lambda r: r.latency_ms)
    assert name == fastest.method and best is fastest.optimized
    assert optimizer.get_best_model(accelerator="onnxruntime")[1].startswith("nano_onnxruntime")


def test_save_and_load_rebuild_the_same_runtime(resnet18, tmp_path):
    model = InferenceOptimizer.quantize(
        resnet18, precision="int8", accelerator="onnxruntime", calib_data=image_loader()
    )
    InferenceOptimizer.save(model, tmp_path / "saved")
    import torchvision

    loaded = InferenceOptimizer.load(tmp_path / "saved", model=torchvision.models.resnet18(weights=None))
    x = images(2, 4)
    with torch.no_grad():
        assert relative_error(loaded(x), model(x)) <= TOLERANCE["fp32"]
    assert loaded.accelerated and loaded.recipe == model.recipe


def test_save_and_load_a_plain_model(resnet18, tmp_path):
    InferenceOptimizer.save(InferenceOptimizer.trace(resnet18), tmp_path)
    loaded = InferenceOptimizer.load(tmp_path)
    x = images(1, 0)
    with torch.no_grad():
        assert torch.equal(loaded(x), resnet18(x))


def test_multi_instance_keeps_input_order(resnet18):
    model = InferenceOptimizer.trace(resnet18, accelerator="onnxruntime")
    multi = InferenceOptimizer.to_multi_instance(model, num_processes=2)
    try:
        inputs = [images(1, seed) for seed in range(4)]
        outputs = multi(inputs)
    finally:
        multi.close()
    with torch.no_grad():
        for x, out in zip(inputs, outputs):
            assert relative_error(out, resnet18(x)) <= TOLERANCE["fp32"]


def test_unknown_arguments_are_rejected(resnet18):
    with pytest.raises(ValueError, match="accelerator"):
        InferenceOptimizer.trace(resnet18, accelerator="tensorrt")
    with pytest.raises(ValueError, match="precision"):
        InferenceOptimizer.quantize(resnet18, precision="fp8")
