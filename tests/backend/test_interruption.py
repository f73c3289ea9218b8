"""Ctrl-C while coder converts a model reaches the script as it would without coder: a
KeyboardInterrupt with Python's traceback ending at the script's line, the script does not go
on, the process ends killed by SIGINT (a shell's 130), and the cache holds nothing half-written.

Before: OpenVINO's frontend turned a Ctrl-C into a conversion error (the model fell back, the
script went on, exit 0) or ended the process (exit 134), and coder's runner exited 130 printing
nothing but a false closing line."""

from __future__ import annotations

import _thread
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from coder.backend.interruption import RETRY_SECONDS, guarded

ROOT = Path(__file__).resolve().parents[2]
RESNET50 = textwrap.dedent("""
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights=None).eval()
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        y = model(x)
        print("the script went on", flush=True)
""")


def start(script: Path, cache: Path, transform: str) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "CODER_CACHE": str(cache), "CODER_DEBUG": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "coder", "-o", transform, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=script.parent,
    )


def wait_for_conversion(process: subprocess.Popen, cache: Path) -> None:
    """The cache's first file (its lock) appears when the model's conversion begins, after the
    script's first call ran the original model once."""
    while not (cache.exists() and any(path.is_file() for path in cache.rglob("*"))):
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)


def half_written(cache: Path) -> list[str]:
    """Staging folders left in the cache, and entries that are not whole (an entry committed
    before the signal came is whole: its meta.json says ok and its IR is there)."""
    staging = list((cache / "staging").glob("*")) if (cache / "staging").is_dir() else []
    entries = list((cache / "entries").glob("*")) if (cache / "entries").is_dir() else []
    broken = [
        entry
        for entry in entries
        if not all((entry / name).is_file() for name in ("meta.json", "model.xml", "model.bin"))
        or json.loads((entry / "meta.json").read_text())["status"] != "ok"
    ]
    return [str(path.relative_to(cache)) for path in staging + broken]


def assert_interrupted_like_python(process: subprocess.Popen, script: Path) -> None:
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == -signal.SIGINT, stderr[-3000:]  # a shell reports 130
    assert "the script went on" not in stdout
    lines = stderr.splitlines()
    start_at = lines.index("Traceback (most recent call last):")
    traceback_lines = lines[start_at:]
    assert traceback_lines[-1] == "KeyboardInterrupt", stderr[-3000:]
    assert f'File "{script}", line' in traceback_lines[1] and "model(x)" in traceback_lines[2], stderr[-3000:]
    assert not any("/coder/backend/" in line or "site-packages" in line for line in traceback_lines), traceback_lines
    assert not any(line.startswith("coder: nano_") for line in lines), lines  # no closing line: no call returned


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 1.5])
def test_ctrl_c_during_an_openvino_conversion_ends_the_script(tmp_path, delay):
    script, cache = tmp_path / "script.py", tmp_path / "cache"
    script.write_text(RESNET50)
    process = start(script, cache, "nano_openvino_fp32")
    wait_for_conversion(process, cache)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    assert_interrupted_like_python(process, script)
    assert half_written(cache) == []


CALLBACK = textwrap.dedent("""
    import signal
    import torch
    import torchvision
    from openvino.frontend.pytorch.ts_decoder import TorchScriptPythonDecoder

    calls = []
    get_op_type = TorchScriptPythonDecoder.get_op_type

    def interrupted_once(self):  # OpenVINO's C++ frontend calls this for every node
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)
        return get_op_type(self)

    TorchScriptPythonDecoder.get_op_type = interrupted_once
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        y = model(x)
        print("the script went on", flush=True)
""")


@pytest.mark.slow
def test_ctrl_c_while_openvino_calls_back_into_python_waits_for_the_call_to_return(tmp_path):
    """Deterministic: the SIGINT arrives inside a Python function OpenVINO's C++ calls."""
    script, cache = tmp_path / "script.py", tmp_path / "cache"
    script.write_text(CALLBACK)
    process = start(script, cache, "nano_openvino_fp32")
    assert_interrupted_like_python(process, script)
    assert half_written(cache) == []


def test_an_interruption_a_library_swallows_is_raised_again():
    swallowed = 0
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), guarded():
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:  # a library that carries on
            swallowed += 1
        while time.monotonic() - started < 20 * RETRY_SECONDS:
            time.sleep(0.01)
    assert swallowed == 1 and time.monotonic() - started < 10 * RETRY_SECONDS


def test_an_error_a_library_raises_in_place_of_the_interruption_is_the_interruption_again():
    with pytest.raises(KeyboardInterrupt), guarded():
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            raise RuntimeError("conversion failed")  # noqa: B904 - what OpenVINO's frontend did


def test_the_scripts_own_sigint_handler_is_called_and_restored():
    seen = []

    def handler(signum, frame):
        seen.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with guarded():
            _thread.interrupt_main(signal.SIGINT)
            time.sleep(0.1)
        assert seen == [signal.SIGINT] and signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_outside_a_conversion_sigint_is_python_s_own():
    with guarded():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
