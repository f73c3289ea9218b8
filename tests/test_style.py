"""The code is formatted and linted by ruff, with the settings of pyproject.toml's [tool.ruff]."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None,
    reason="ruff is not installed in this environment (the dev extra installs it: pip install -e '.[dev]')",
)


@pytest.mark.parametrize(
    "command, fix",
    [(("format", "--check"), "python -m ruff format ."), (("check",), "python -m ruff check --fix .")],
    ids=["format", "lint"],
)
def test_ruff_finds_nothing(command, fix):
    argv = [sys.executable, "-m", "ruff", *command, "--no-cache", "."]
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, (
        f"ruff {' '.join(command)} failed ({fix} fixes most):\n{result.stdout}{result.stderr}"
    )
