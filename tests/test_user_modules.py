"""coder takes no module name a user's script may have: a script beside its own transforms.py,
backend.py, engine.py, cli.py and utils.py runs under coder as under python, and --diff,
--inspect and --list run from its folder import none of them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OWN_MODULES = ("transforms", "backend", "engine", "cli", "utils")
# each module leaves a marker file when it is imported, and gives the script one value
MODULE = """\
import pathlib
pathlib.Path(__file__).with_name("imported_{name}").write_text("")
VALUE = "{name} is the user's"
"""
SCRIPT = """\
import torch
import transforms, backend, engine, cli, utils

model = torch.nn.Linear(4, 2).eval()
with torch.no_grad():
    y = model(torch.ones(1, 4))
print(transforms.VALUE, backend.VALUE, engine.VALUE, cli.VALUE, utils.VALUE)
print(tuple(y.shape))
"""


def user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    for name in OWN_MODULES:
        (folder / f"{name}.py").write_text(MODULE.format(name=name))
    (folder / "script.py").write_text(SCRIPT)
    return folder


def run(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's coder, from any folder
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def markers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("imported_*"))


def test_a_script_beside_its_own_modules_runs_as_under_python(tmp_path):
    folder = user_folder(tmp_path)
    plain = run("script.py", cwd=folder)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[0] == " ".join(f"{name} is the user's" for name in OWN_MODULES)
    for elsewhere in (folder, tmp_path):  # from the script's folder, and from another one
        patched = run("-m", "coder", "-o", "nano_jit_fp32", folder / "script.py", cwd=elsewhere)
        assert patched.returncode == 0, patched.stderr
        assert patched.stdout == plain.stdout


def test_diff_inspect_and_list_never_import_the_users_modules(tmp_path):
    folder = user_folder(tmp_path)
    for args in (
        ("-o", "nano_jit_fp32", "--diff", "script.py"),
        ("--inspect", "script.py"),
        ("--inspect", "script.py", "--json"),
        ("--list",),
        ("--list", "--json"),
    ):
        result = run("-m", "coder", *args, cwd=folder)
        assert result.returncode == 0, result.stderr
        assert markers(folder) == [], args


def test_the_catalog_is_coder_transforms_and_no_top_level_module():
    probe = (
        "import sys, coder.transforms as t, coder.cli, coder.engine, coder.backend\n"
        f"print(t.__name__, sorted(n for n in sys.modules if n.split('.')[0] in {OWN_MODULES!r}))"
    )
    result = run("-c", probe, cwd=ROOT.parent)
    assert result.stdout == "coder.transforms []\n", result.stderr


def test_an_install_has_no_top_level_package_but_coder():
    tomllib = pytest.importorskip("tomllib")
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert {name.split(".")[0] for name in setuptools["packages"]} == {"coder"}
    assert setuptools["package-dir"] == {"coder.transforms": "transforms"}
