"""The environment `make test` builds: the CLI basics and every runtime working together."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import coder
from coder import transforms
from coder.backend.cpu import this_cpu

HAS_IPEX = importlib.util.find_spec("intel_extension_for_pytorch") is not None

ROOT = Path(__file__).resolve().parents[1]
VENV_SCRIPT = ROOT / "requirements" / "venv.sh"


def run(*argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, **kwargs)


def test_version_names_the_package_version():
    result = run(sys.executable, "-m", "coder", "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"coder {coder.__version__}"


def test_list_shows_every_transform_with_its_availability():
    listing = run(sys.executable, "-m", "coder", "--list").stdout
    for entry in transforms.CATALOG:
        assert entry.name in listing and entry.description in listing
    assert listing.count("[ready, ") == sum(
        transforms.status(entry, this_cpu())["available"] for entry in transforms.CATALOG
    )


@pytest.mark.skipif(HAS_IPEX, reason="checks the lane without IPEX")
def test_ipex_names_say_in_one_line_they_need_the_ipex_stack():
    lines = run(sys.executable, "-m", "coder", "--list").stdout.splitlines()
    for entry in transforms.CATALOG:
        line = next(line for line in lines if line.split()[0] == entry.name)
        status = lines[lines.index(line) + 1]
        needs_ipex = "needs the IPEX stack (torch 2.8 + intel-extension-for-pytorch" in status
        unsupported = entry.verdict(this_cpu()).kind == "unsupported"
        assert needs_ipex == (entry.kwargs.get("use_ipex", False) and not unsupported)


@pytest.mark.ipex
def test_full_stack_has_every_transform_available():
    assert [entry.name for entry in transforms.CATALOG if entry.missing()] == []


RUNTIME_SMOKE = """
import torch, torchvision
{ipex}
import onnx, onnxruntime, openvino, nncf, neural_compressor
model = torchvision.models.resnet18(weights=None).eval()
x = torch.rand(1, 3, 64, 64)
with torch.no_grad():
    traced = torch.jit.freeze(torch.jit.trace(model, x))
    assert torch.allclose(traced(x), model(x), atol=1e-4)
ov_model = openvino.Core().compile_model(openvino.convert_model(model, example_input=x), "CPU")
assert ov_model(x.numpy())[0].shape == (1, 1000)
print("ok", torch.__version__)
"""


def test_runtimes_import_and_run_together_in_one_process():
    ipex = "import intel_extension_for_pytorch as ipex; ipex.optimize(torch.nn.Linear(4, 4).eval())" if HAS_IPEX else ""
    result = run(sys.executable, "-c", RUNTIME_SMOKE.format(ipex=ipex), timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok")


def venv_check(env_dir: Path) -> str:
    args = ["--check", str(env_dir), "requirements/ipex.txt", "all,ipex,dev"]
    return run("bash", str(VENV_SCRIPT), *args).stdout.strip()


def extras() -> dict[str, list[str]]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def requirements_of(extra: str, table: dict[str, list[str]]) -> list[str]:
    """What ``pip install coder[extra]`` asks for, the extras it names expanded."""
    found = []
    for requirement in table[extra]:
        inner = requirement.partition("coder[")[2].rstrip("]")
        found += [r for name in inner.split(",") for r in requirements_of(name, table)] if inner else [requirement]
    return found


def test_coder_all_never_pins_torch_and_coder_ipex_pins_it_to_2_8():
    table = extras()
    pinned = [r for r in requirements_of("all", table) if r.split("=")[0].split("<")[0].split(">")[0] == "torch"]
    assert pinned == [] and "intel-extension-for-pytorch==2.8.*" not in requirements_of("all", table)
    assert "torch==2.8.*" in requirements_of("ipex", table)
    makefile = (ROOT / "Makefile").read_text()
    assert "requirements/ipex.txt all,ipex,dev" in makefile and "requirements/latest.txt all,dev" in makefile


def test_half_built_environment_is_detected_for_rebuild(tmp_path):
    env_dir = tmp_path / "venv"
    (env_dir / "bin").mkdir(parents=True)
    os.symlink(sys.executable, env_dir / "bin" / "python")
    assert venv_check(env_dir) == "rebuild"  # no stamp: the install never finished
    wanted = run("bash", str(VENV_SCRIPT), "--hash", str(env_dir), "requirements/ipex.txt", "all,ipex,dev").stdout
    (env_dir / ".coder-stack").write_text(wanted)
    assert venv_check(env_dir) == "ready"
    (env_dir / ".coder-stack").write_text("an older lock\n")
    assert venv_check(env_dir) == "rebuild"


def test_a_run_with_no_tests_fails_as_ci_requires(tmp_path):
    result = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path))
    assert result.returncode != 0
