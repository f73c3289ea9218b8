"""coder's work inside a script's process leaves the script's output and state alone."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import numpy
import torch

from coder.backend.isolation import held_output, isolated, kept_random_state

HELD = """
import os, sys
from coder.backend.isolation import held_output
print("before", flush=True)
with held_output():
    print("from python")
    os.write(1, b"from C, fd 1\\n")
    os.write(2, b"from C, fd 2\\n")
    print("to stderr", file=sys.stderr)
print("after")
"""


def run(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={**os.environ, **env}
    )


def test_library_output_is_held_back():
    result = run(HELD)
    assert result.stdout == "before\nafter\n" and result.stderr == ""


def test_held_output_is_shown_when_the_block_fails_under_coder_debug():
    failing = HELD.replace('print("after")', "").replace("file=sys.stderr)", "file=sys.stderr); 1/0")
    assert "from C, fd 1" not in run(failing).stderr
    assert "from C, fd 1" in run(failing, CODER_DEBUG="1").stderr


def test_random_generators_are_restored():
    torch.manual_seed(0), random.seed(0), numpy.random.seed(0)
    with kept_random_state():
        torch.rand(5), random.random(), numpy.random.rand()
    drawn = (torch.rand(1).item(), random.random(), numpy.random.rand())
    torch.manual_seed(0), random.seed(0), numpy.random.seed(0)
    assert drawn == (torch.rand(1).item(), random.random(), numpy.random.rand())


def test_grad_mode_and_cpu_mask_are_given_back():
    mask = os.sched_getaffinity(0)
    with torch.enable_grad():
        try:
            with isolated(1):
                torch.set_grad_enabled(False)
                assert len(os.sched_getaffinity(0)) == 1
                raise ValueError
        except ValueError:
            pass
        assert torch.is_grad_enabled()
    assert os.sched_getaffinity(0) == mask


def test_held_output_with_pytest_capture(capsys):
    with held_output():
        print("library chatter")
    print("the test's own")
    assert capsys.readouterr().out == "the test's own\n"
