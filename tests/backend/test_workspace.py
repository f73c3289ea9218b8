"""Conversions leave nothing behind: a workspace is removed when done with, and one a killed
run (SIGKILL mid-conversion, an ``-o auto`` trial ended by ``os._exit``) could not remove is
removed by the next run. The report: six 45 MB ``coder-onnx-*`` folders in the temp folder
after a day of ordinary use."""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch

from coder.backend import private, workspace
from tests.backend.user_runs import run_patched

OTHER_UID = 12345

SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import torch

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(16, 4)

        def forward(self, x):
            if torch.onnx.is_in_onnx_export() and os.environ.get("END") == "SIGKILL":
                os.kill(os.getpid(), signal.SIGKILL)  # killed mid-conversion
            return self.fc(x)

    torch.manual_seed(0)
    model = Model()
    model.eval()
    with torch.no_grad():
        print(model(torch.ones(2, 16)).argmax(1).tolist())
    if os.environ.get("END") == "os._exit":  # how an -o auto trial ends once it has measured
        sys.stdout.flush()
        os._exit(0)
""")


def run(tmp_path, cache: str, end: str = ""):
    temp = tmp_path / "temp"
    temp.mkdir(exist_ok=True)
    return run_patched(tmp_path, "nano_onnxruntime_fp32", script=SCRIPT, cache=cache, TMPDIR=str(temp), END=end)


def left(tmp_path, cache: str) -> list[str]:
    if cache == "off":  # (ONNX Runtime keeps a .ses file of its own in the temp folder)
        return sorted(path.name for path in (tmp_path / "temp").glob("coder-*"))
    return sorted(path.name for path in (tmp_path / "cache" / "staging").iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("end, cache", [("SIGKILL", "off"), ("SIGKILL", "on"), ("os._exit", "off")])
def test_the_next_run_removes_what_a_killed_run_left(end, cache, tmp_path):
    cache = "off" if cache == "off" else str(tmp_path / "cache")
    killed = run(tmp_path, cache, end)
    assert killed.returncode == (-9 if end == "SIGKILL" else 0), killed.stderr[-2000:]
    [leftover] = left(tmp_path, cache)
    pattern = rf"coder-onnx-{private.HOST}-\d+-" if cache == "off" else rf"{private.HOST}-\d+-onnx-"
    assert re.match(pattern, leftover), leftover
    next_run = run(tmp_path, cache)
    assert next_run.returncode == 0 and next_run.stdout.strip() == expected(), next_run.stderr[-2000:]
    assert "nano_onnxruntime_fp32: converted in" in next_run.stderr  # it converted, in a workspace of its own
    assert left(tmp_path, cache) == []  # the leftover, and its own workspace


def expected() -> str:
    torch.manual_seed(0)
    with torch.no_grad():
        return str(torch.nn.Linear(16, 4)(torch.ones(2, 16)).argmax(1).tolist())


def dead_pid() -> int:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(ended.stdout)


def test_only_this_users_ended_processes_workspaces_are_removed(tmp_path):
    dead, live = dead_pid(), os.getpid()
    names = {
        "dead": f"coder-onnx-{private.HOST}-{dead}-x1",
        "live": f"coder-inc-{private.HOST}-{live}-x2",
        "other user": f"coder-onnx-{private.HOST}-{dead}-x3",
        "other host": f"coder-onnx-elsewhere-{dead}-x4",
        "not coder's": f"coder-notes-{private.HOST}-{dead}-x5",
        "-o auto": f"coder-auto-{private.HOST}-{dead}-x6",
        "old style, a week old": "coder-onnx-k2j4h5",
        "old style, today": "coder-onnx-a8d7f6",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
    os.chown(tmp_path / names["other user"], OTHER_UID, -1)
    os.utime(tmp_path / names["old style, a week old"], (0, 0))
    removed = workspace.clean_temp(tmp_path)
    assert sorted(path.name for path in removed) == sorted(
        [names["dead"], names["-o auto"], names["old style, a week old"]]
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        names[kind] for kind in ["live", "other user", "other host", "not coder's", "old style, today"]
    )


def test_a_workspace_is_private_and_removed_when_done(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with workspace.Workspace("onnx") as folder:
        assert os.stat(folder).st_mode & 0o777 == 0o700
        assert os.path.basename(folder).startswith(f"coder-onnx-{private.owner_tag()}-")
    assert list(tmp_path.iterdir()) == []
    held = workspace.Workspace("onnx")
    del held
    gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_with_the_cache_on_a_workspace_is_in_its_staging(tmp_path, monkeypatch):
    monkeypatch.setenv("CODER_CACHE", str(tmp_path / "cache"))
    held = workspace.Workspace("onnx")
    assert held.path.parent == tmp_path / "cache" / "staging"
    assert held.path.name.startswith(f"{private.owner_tag()}-onnx-")
    held.cleanup()
    assert list((tmp_path / "cache" / "staging").iterdir()) == []
