"""A fault of the cache's disk never costs the script: on a full or read-only disk the run goes
on without the cache, says so in one line, and leaves nothing in staging/.

The report: on a full disk ``torch.jit.save`` aborted the process (exit 134, no stdout, an empty
stderr) and left a partial model.pt in staging/. The disk here is a real 1 MB tmpfs (root can
mount one), or, where mounting is not allowed, a 1 MB file size limit (RLIMIT_FSIZE)."""

from __future__ import annotations

import resource
import signal
import subprocess

import pytest

from coder.backend import cache
from tests.backend.user_runs import TWO_CLASSIFIERS, classes, lines, run_patched

pytestmark = pytest.mark.slow


@pytest.fixture
def tmpfs(tmp_path):
    """``mount(size)``: a new tmpfs of ``size`` bytes; unmounted after the test."""
    mounted = []

    def mount(size: str):
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=False)


def file_size_limit() -> None:
    """In the child: files of at most 1 MB; a longer write fails with EFBIG (SIGXFSZ ignored)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def assert_ran_without_the_cache(result, folder, transform: str) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [classes(0), classes(1)]  # both models, right
    [said] = lines(result.stderr, "conversion cache")  # one line, for both models
    assert said.startswith(f"coder: conversion cache {folder} not used (")
    assert said.endswith("; off for the rest of this run): running without it")
    assert f"{transform} not used" not in result.stderr  # the models are still accelerated
    assert list((folder / "staging").iterdir()) == [] and cache.entries(folder) == []


@pytest.mark.parametrize(
    "transform, error",
    [
        ("nano_jit_fp32", "OSError: [Errno 28] No space left on device"),
        (
            "nano_onnxruntime_fp32",
            "OSError: [Errno 28] No space left on device",
        ),  # its workspace, then converted outside
        ("nano_openvino_fp32", "RuntimeError: "),
    ],
)  # OpenVINO writes the IR itself, and says so in C++'s words
def test_a_full_disk(transform, error, tmpfs, tmp_path):
    folder = tmpfs("1m") / "cache"
    result = run_patched(tmp_path, transform, script=TWO_CLASSIFIERS, cache=folder)
    assert_ran_without_the_cache(result, folder, transform)
    assert f"{folder} not used ({error}" in result.stderr
    assert len(list((folder / "locks").iterdir())) == 1  # the second model did not try the cache


def test_a_file_size_limit(tmp_path):
    folder = tmp_path / "cache"
    result = run_patched(tmp_path, "nano_jit_fp32", script=TWO_CLASSIFIERS, cache=folder, preexec_fn=file_size_limit)
    assert_ran_without_the_cache(result, folder, "nano_jit_fp32")
    assert "File too large" in result.stderr


def test_a_read_only_disk(tmpfs, tmp_path):
    disk = tmpfs("16m")
    folder = disk / "cache"
    stored = run_patched(tmp_path, "nano_jit_fp32", script=TWO_CLASSIFIERS, cache=folder)
    assert stored.returncode == 0 and len(cache.entries(folder)) == 2
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    result = run_patched(tmp_path, "nano_jit_fp32", script=TWO_CLASSIFIERS, cache=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [classes(0), classes(1)]
    [said] = lines(result.stderr, "conversion cache")
    assert said.startswith(f"coder: conversion cache {folder} not used (OSError: [Errno 30] Read-only file system")
    assert said.endswith("; off for the rest of this run): running without it")
