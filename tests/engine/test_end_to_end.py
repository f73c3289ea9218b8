"""Patched fixtures run end to end as a user runs them: ``python -m coder -o NAME fixture.py``,
on small real models, against the real coder.backend (no mocks)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def in_a_scratch_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runtimes may write work files (nc_workspace/) into the cwd


def run(*args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)


def patched_run(case: str, name: str, *script_args: str) -> subprocess.CompletedProcess:
    result = run("-m", "coder", "-o", name, str(FIXTURES / case / "input.py"), *script_args)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def original_run(case: str) -> str:
    return run(str(FIXTURES / case / "input.py")).stdout


@pytest.mark.parametrize(
    "case,name",
    [
        ("custom_module_decorated", "nano_jit_fp32"),  # a class of the file, @torch.no_grad() body wrapped
        ("bert_tiny_config", "nano_onnxruntime_fp32"),  # transformers model, keyword inputs, ModelOutput
    ],
)
def test_fp32_patched_script_prints_what_the_original_prints(case, name):
    assert patched_run(case, name).stdout == original_run(case)


def test_self_model_in_a_class_with_openvino():
    lines = patched_run("self_model_class", "nano_openvino_fp32").stdout.splitlines()
    assert len(lines) == 1 and len(eval(lines[0])) == 2


def test_int8_calibrates_on_the_loader_after_training():
    assert patched_run("train_then_eval", "nano_int8").stdout.startswith("accuracy: ")


@pytest.mark.ipex
def test_demo_transform_with_script_arguments():
    result = patched_run("resnet_main_argparse", "nano_jit_bf16_ipex", "--steps", "1", "--image-size", "32")
    assert result.stdout.startswith("top-1: [") and "latency:" in result.stdout


@pytest.mark.parametrize("name", ["nano_bf16", "nano_jit_fp32"])  # applied / only get_context (a warning)
def test_generate_keeps_working(name):
    result = patched_run("gpt2_tiny_generate", name)
    assert len(eval(result.stdout)[0]) == 10
    assert ("generate() cannot use" in result.stderr) == (name == "nano_jit_fp32")


def test_a_single_layer_runs_optimized():
    assert patched_run("single_linear_layer", "nano_jit_fp32").stdout.startswith("tensor([[")


def test_training_and_evaluation_in_turn_optimizes_each_evaluation():
    result = patched_run("train_validate_each_epoch", "nano_jit_fp32")
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["epoch 0", "epoch 1", "epoch 2"]
    assert "C204" in result.stderr
