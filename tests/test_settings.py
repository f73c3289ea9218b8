"""coder/settings.py: every CODER_* variable's good and bad values (from the table itself), one line
per bad value and the default serving, on/off the same everywhere, no CODER_* read elsewhere,
docs/SETTINGS.md in step with the table; and the users' reproductions as real runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import fields
from pathlib import Path

import pytest

from coder import settings
from coder.backend import budget, cache, isolation, speed

ROOT = Path(__file__).resolve().parents[1]
GOOD = [(v, text, want) for v in settings.VARIABLES for text, want in v.good]
BAD = [(v, text) for v in settings.VARIABLES for text in v.bad]
VARIABLE = {v.name: v for v in settings.VARIABLES}


def refused_line(variable: settings.Variable, text: str) -> str:
    return f"coder: {variable.name}={text} ignored (expected {variable.accepted}): using {variable.default_text}"


def test_one_entry_per_field_in_order():
    assert [v.field for v in settings.VARIABLES] == [f.name for f in fields(settings.Settings)]


@pytest.mark.parametrize("variable, text, want", GOOD, ids=lambda v: getattr(v, "name", None))
def test_a_good_value_is_taken(variable, text, want):
    read, problems = settings.read({variable.name: f" {text} "})
    assert problems == [] and getattr(read, variable.field) == want


@pytest.mark.parametrize("variable, text", BAD, ids=lambda v: getattr(v, "name", None))
def test_a_bad_value_is_one_line_and_the_default_serves(variable, text):
    read, problems = settings.read({variable.name: text})
    assert problems == [refused_line(variable, text)]
    assert getattr(read, variable.field) == variable.default


def test_a_value_with_a_line_break_is_still_one_line():
    _, [line] = settings.read({"CODER_CALIB_CALLS": "4\n5"})
    assert line.startswith("coder: CODER_CALIB_CALLS='4\\n5' ignored") and "\n" not in line


@pytest.mark.parametrize("variable", settings.VARIABLES, ids=lambda v: v.name)
def test_unset_or_empty_is_the_default(variable):
    for environ in ({}, {variable.name: ""}, {variable.name: "  "}):
        read, problems = settings.read(environ)
        assert problems == [] and getattr(read, variable.field) == variable.default


def test_every_variable_has_bad_examples_unless_it_takes_any_text():
    takes_any_text = {"CODER_CACHE"}  # a folder: its faults are the cache's (cache.py)
    assert {v.name for v in settings.VARIABLES if not v.bad} == takes_any_text


SWITCHES = [v for v in settings.VARIABLES if v.parse is settings.switch]


@pytest.mark.parametrize("variable", SWITCHES + [VARIABLE["CODER_CACHE"]], ids=lambda v: v.name)
def test_on_and_off_are_the_same_words_everywhere(variable):
    for word in settings.ON_WORDS + tuple(w.upper() for w in settings.ON_WORDS):
        assert getattr(settings.read({variable.name: word})[0], variable.field) is True
    for word in settings.OFF_WORDS + tuple(w.upper() for w in settings.OFF_WORDS):
        assert getattr(settings.read({variable.name: word})[0], variable.field) is False


OFF_READERS = {
    "CODER_CACHE": cache.root,
    "CODER_CONVERSION_BUDGET": lambda: budget.budget_for(1.0, timing_on=True).seconds,
    "CODER_DEBUG": isolation.debugging,  # before: any value but "" and "0" was on, "off" too
    "CODER_NEVER_SLOWER": lambda: speed.enabled(None),
    "CODER_QUIET": lambda: settings.current().quiet,
}


@pytest.mark.parametrize("name", OFF_READERS)
@pytest.mark.parametrize("word", settings.OFF_NAMES)
def test_off_means_off_where_it_is_read(name, word, monkeypatch):
    monkeypatch.setenv(name, word)
    assert not OFF_READERS[name]()


def test_current_follows_the_environment(monkeypatch):
    monkeypatch.setenv("CODER_CALIB_CALLS", "7")
    assert settings.current().calib_calls == 7
    monkeypatch.setenv("CODER_CALIB_CALLS", "9")
    assert settings.current().calib_calls == 9
    assert settings.current() is settings.current()  # unchanged environment: not read again


def test_a_bad_value_is_said_once_per_process(monkeypatch, capsys):
    monkeypatch.setenv("CODER_RECORD_INPUTS", "many")
    settings.current()
    monkeypatch.setenv("CODER_QUIET", "1")  # another read of the environment, same bad value
    assert settings.current().record_inputs == 8
    lines = capsys.readouterr().err.splitlines()
    assert lines == [refused_line(VARIABLE["CODER_RECORD_INPUTS"], "many")]


def test_a_line_said_while_output_is_held_reaches_the_scripts_stderr(monkeypatch, capfd):
    monkeypatch.setenv("CODER_RECORD_CHECKS", "several")
    with isolation.held_output():
        settings.current()
    assert refused_line(VARIABLE["CODER_RECORD_CHECKS"], "several") in capfd.readouterr().err.splitlines()


CODER_READ = re.compile(r"""environ(\.get\(|\[)\s*["']CODER_""")


def test_no_module_but_settings_reads_a_coder_variable():
    readers = [
        path.relative_to(ROOT).as_posix()
        for path in sorted((ROOT / "coder").rglob("*.py"))
        if CODER_READ.search(path.read_text())
    ]
    assert readers == []


def test_docs_table_is_the_tables():
    assert settings.markdown_table() in (ROOT / "docs" / "SETTINGS.md").read_text()
    assert "docs/SETTINGS.md" in (ROOT / "README.md").read_text()


# -- the users' reproductions, as they ran them ------------------------------------------------

SCRIPT = """\
import torch

model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
model.eval()
x = torch.rand(4, 8)
with torch.no_grad():
    for _ in range(3):
        y = model(x)
print("done", tuple(y.shape))
"""


def coder(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        **env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "coder", *args], capture_output=True, text=True, cwd=cwd, env=environ, timeout=600
    )


def coder_lines(stderr: str, about: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("coder:") and about in line]


def run_script(tmp_path: Path, transform: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    return coder(["-o", transform, "script.py"], tmp_path, **env)


@pytest.mark.slow
def test_bad_calib_calls_runs_the_int8_script(tmp_path):
    done = run_script(tmp_path, "nano_int8", CODER_CALIB_CALLS="abc")
    assert done.returncode == 0 and done.stdout == "done (4, 4)\n"
    assert coder_lines(done.stderr, "CODER_CALIB_CALLS") == [
        "coder: CODER_CALIB_CALLS=abc ignored (expected a whole number from 1 to 1000): using 4"
    ]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("value", ["-1", "nan", "xyz"])
def test_bad_conversion_budget_is_refused_in_one_line(tmp_path, value):
    done = run_script(tmp_path, "nano_jit_fp32", CODER_CONVERSION_BUDGET=value)
    assert done.returncode == 0 and done.stdout == "done (4, 4)\n"
    [line] = coder_lines(done.stderr, "CODER_CONVERSION_BUDGET")
    assert line.startswith(f"coder: CODER_CONVERSION_BUDGET={value} ignored (expected a number of seconds above 0")
    assert "Traceback" not in done.stderr


def test_bad_cache_size_lists_the_cache(tmp_path):
    done = coder(["cache", "list"], tmp_path, CODER_CACHE=str(tmp_path / "cache"), CODER_CACHE_SIZE="abc")
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [refused_line(VARIABLE["CODER_CACHE_SIZE"], "abc")]
    assert done.stdout.startswith(f"{tmp_path / 'cache'}: 0 entries, 0 B of 4.0 GB (CODER_CACHE_SIZE)")
