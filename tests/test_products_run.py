"""A patched run writes what the script writes, from the model as built: an export
or a save after the model's first use gets the original model, not coder's accelerated one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """\
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
x = torch.rand(3, 4)
with torch.no_grad():
    for _ in range(3):
        y = model(x)
torch.save(model.state_dict(), "weights.pt")
torch.save(model, "model.pt")
torch.jit.save(torch.jit.trace(model, x), "traced.pt")
torch.onnx.export(model, x, "model.onnx")
print(y.shape)
"""


def test_exports_and_saves_after_inference_hold_the_original_model(tmp_path):
    (tmp_path / "script.py").write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "coder", "-o", "nano_jit_fp32", "script.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("torch.Size([3, 2])\n")  # after what torch.onnx prints
    torch.manual_seed(0)
    expected = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).eval()
    weights = torch.load(tmp_path / "weights.pt")
    assert list(weights) == list(expected.state_dict())
    assert all(torch.equal(weights[k], v) for k, v in expected.state_dict().items())
    assert type(torch.load(tmp_path / "model.pt", weights_only=False)) is torch.nn.Sequential
    x = torch.rand(3, 4)
    assert torch.allclose(torch.jit.load(tmp_path / "traced.pt")(x), expected(x))
    graph = onnx.load(tmp_path / "model.onnx").graph
    assert [node.op_type for node in graph.node if node.op_type in ("Gemm", "MatMul", "Relu")]
