"""Black-style golden cases: each fixtures/<case>/input.py patched with each name must equal
fixtures/<case>/<name>.py (no such file: unchanged), parse, and not change when patched again."""

import ast
from pathlib import Path

import pytest

from coder import engine, transforms

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "input.py").is_file())
# every name of the catalog on this case; on every case, one name per kind of edit the catalog
# makes (trace or quantize, with or without IPEX, each accelerator): the catalog's names differ
# only in the arguments of one call, which the full case checks name by name
FULL_CASES = ("resnet_no_grad",)
REPRESENTATIVE = (
    "nano_jit_fp32",
    "nano_bf16_ipex",
    "nano_jit_bf16_ipex",
    "nano_int8",
    "nano_onnxruntime_fp32",
    "nano_openvino_int8",
)


def names_for(case: str) -> list[str]:
    return transforms.names() if case in FULL_CASES else list(REPRESENTATIVE)


def pairs() -> list[tuple[str, str]]:
    return [(case, name) for case in CASES for name in names_for(case)]


def read_input(case: str) -> str:
    return input_path(case).read_text(encoding="utf-8")


def input_path(case: str) -> Path:
    """The script; the other .py files of its folder that are not goldens are its sibling modules."""
    return FIXTURES / case / "input.py"


def golden_path(case: str, name: str) -> Path:
    """The expected output; absent when the script must come out unchanged."""
    return FIXTURES / case / f"{name}.py"


@pytest.mark.parametrize("case,name", pairs())
def test_golden(case, name, update_goldens):
    source = read_input(case)
    patched = engine.patch(source, name, path=str(input_path(case))).source
    golden = golden_path(case, name)
    if update_goldens:
        _update(golden, source, patched)
    expected = golden.read_text(encoding="utf-8") if golden.exists() else source
    assert patched == expected


@pytest.mark.parametrize("case,name", pairs())
def test_golden_parses_and_is_stable(case, name):
    golden = golden_path(case, name)
    patched = golden.read_text(encoding="utf-8") if golden.exists() else read_input(case)
    ast.parse(patched)
    assert engine.patch(patched, name, path=str(input_path(case))).source == patched


def test_enough_cases_and_goldens():
    assert len(CASES) >= 25
    assert set(FULL_CASES) <= set(CASES)
    changed = [c for c in CASES if any(golden_path(c, n).exists() for n in names_for(c))]
    assert len(changed) >= 20


def _update(golden, source: str, patched: str) -> None:
    if patched == source:
        golden.unlink(missing_ok=True)
    else:
        golden.write_text(patched, encoding="utf-8")
