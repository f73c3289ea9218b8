"""--max-drop end to end on the bundled example (random-weight resnet18; every image comes out as
one class there, so its relative error is what is judged: nano_bf16 measures ~0.005 and
nano_int8_dynamic, which quantizes only fc, ~0.011)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coder import cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "coder" / "examples" / "resnet_inference.py"
SMALL = ("--batch-size", "2", "--steps", "1")


def coder(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "coder", *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )


def coder_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("coder:")]


@pytest.mark.parametrize("value", ["-0.1", "1.5", "abc"])
def test_a_bad_value_is_one_line_and_exit_2(value, capsys):
    assert cli.main(["-o", "nano_bf16", "--max-drop", value, str(EXAMPLE)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("coder: Invalid value for --max-drop: ")


def test_help_shows_an_example(capsys):
    cli.main(["--help"])
    assert "-o nano_int8 --max-drop 0.01 script.py" in capsys.readouterr().out


@pytest.mark.slow
def test_a_tight_value_rejects_the_transform_and_runs_the_original():
    done = coder("-o", "nano_bf16", "--max-drop", "0.001", EXAMPLE, *SMALL)
    assert done.returncode == 0 and "top-1 classes: [238, 238]" in done.stdout
    first = coder_lines(done.stderr)[0]
    assert first.startswith("coder: nano_bf16 not used (relative error ") and "> --max-drop 0.001)" in first


@pytest.mark.slow
def test_a_loose_value_accepts_the_transform():
    done = coder("-o", "nano_int8_dynamic", "--max-drop", "0.5", EXAMPLE, *SMALL)
    assert done.returncode == 0
    assert [line for line in coder_lines(done.stderr) if "not used" in line] == []
    assert "coder: nano_int8_dynamic: converted in" in done.stderr


@pytest.mark.slow
def test_auto_shows_the_rows_over_it_and_never_picks_them(tmp_path):
    report = tmp_path / "auto.json"
    done = coder(
        "-o",
        "auto",
        "--only",
        "nano_bf16,nano_int8_dynamic",
        "--exclude",
        "original",
        "--max-drop",
        "0.008",
        "--calls",
        "3",
        "--json",
        report,
        EXAMPLE,
        *SMALL,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    results = {r["method"]: r for r in data["results"]}
    assert results["nano_int8_dynamic"]["status"] == "over --max-drop"
    assert "> --max-drop 0.008" in results["nano_int8_dynamic"]["reason"]
    assert results["nano_bf16"]["status"] in ("successful", "slower than the original here")
    assert data["best"] in (None, "nano_bf16")
    assert "over --max-drop" in done.stdout
