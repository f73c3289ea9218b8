"""A traceback in a patched run names the user's file, the user's line numbers and the user's
source lines, run as a user would: ``python -m coder -o NAME script.py``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from coder import engine
from coder.own_lines import own_lines

ROOT = Path(__file__).resolve().parents[1]
# name: (script, the line that raises)
SCRIPTS = {
    "in_an_injected_with": (
        """\
import torch

model = torch.nn.Linear(4, 2).eval()
x = torch.ones(1, 4)
for step in range(2):
    y = model(x)
    if step == 1:
        raise RuntimeError("stopped at step 1")
""",
        8,
    ),
    "in_a_with_gaining_an_item": (
        """\
import torch

model = torch.nn.Linear(4, 2)
model.eval()
with torch.no_grad():
    y = model(torch.ones(1, 4))
    assert y.shape == (1, 3), "wrong shape"
""",
        7,
    ),
    "in_a_decorated_function": (
        '''\
import torch

model = torch.nn.Linear(4, 2).eval()


@torch.no_grad()
def predict(batch):
    """The class of each row."""
    scores = model(batch)
    return scores.argmax(1).sum().item() / 0


print(predict(torch.ones(3, 4)))
''',
        10,
    ),
}
TRANSFORMS = ("nano_jit_fp32", "nano_bf16")


def run_coder(name: str, script: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "coder", "-o", name, script.name],
        capture_output=True,
        text=True,
        cwd=script.parent,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize("case", sorted(SCRIPTS))
@pytest.mark.parametrize("name", TRANSFORMS)
def test_a_traceback_shows_the_users_line(tmp_path, case, name):
    source, line = SCRIPTS[case]
    script = tmp_path / "script.py"
    script.write_text(source)
    patched = engine.patch(source, name).source.splitlines()
    assert patched[line - 1] != source.splitlines()[line - 1]  # the patch moved the line: the test means something
    result = run_coder(name, script)
    assert result.returncode == 1
    frame = [text for text in result.stderr.splitlines() if text.startswith('  File "script.py"')][-1]
    assert frame.startswith(f'  File "script.py", line {line}, in ')
    after = result.stderr.splitlines()[result.stderr.splitlines().index(frame) + 1]
    assert after.strip() == source.splitlines()[line - 1].strip()
    assert "InferenceOptimizer" not in result.stderr


def test_injected_lines_take_their_nearest_original_neighbour():
    source, _ = SCRIPTS["in_an_injected_with"]
    patched = engine.patch(source, "nano_jit_fp32").source.splitlines()
    lines = own_lines(source, "\n".join(patched))
    by_text = {text.strip(): lines[i + 1].line for i, text in enumerate(patched)}
    assert by_text["from coder.backend import InferenceOptimizer"] == 1  # the import: the line above
    assert by_text['model = InferenceOptimizer.trace(model, accelerator="jit")'] == 3  # after the ready point
    assert by_text["with InferenceOptimizer.get_context(model):"] == 5  # a block: the statement it wraps
    assert by_text['raise RuntimeError("stopped at step 1")'] == 8


def test_a_syntax_warning_names_the_users_line_once(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        "import re\nimport torch\n\nmodel = torch.nn.Linear(4, 2).eval()\nfor _ in range(2):\n"
        '    y = model(torch.ones(1, 4))\nprint(re.findall("\\d", "a1"))\n'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "always"}
    result = subprocess.run(
        [sys.executable, "-m", "coder", "-o", "nano_jit_fp32", "script.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0 and result.stdout == "['1']\n", result.stderr
    said = [line for line in result.stderr.splitlines() if "invalid escape sequence" in line]
    assert len(said) == 1 and said[0].startswith("script.py:7: "), result.stderr
