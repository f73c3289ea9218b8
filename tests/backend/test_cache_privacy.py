"""The cache is this user's alone: created 0700/0600 whatever the umask, a folder another user
owns or could write is refused in one line (the script still runs), an entry someone else
changed is not loaded, removing never follows a symbolic link, and what dead processes left in
staging/ is listed, counted, and removed. "Another user" is a file chowned to another uid."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import torch

from coder.backend import cache, private
from tests.backend.inputs import coder_warnings
from tests.backend.user_runs import cache_command, classes, lines, run_patched

OTHER_UID = 12345
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CODER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def modes(folder) -> set[tuple[str, int]]:
    found = set()
    for where, folders, files in os.walk(folder):
        found |= {("folder", stat.S_IMODE(os.lstat(os.path.join(where, n)).st_mode)) for n in folders}
        found |= {("file", stat.S_IMODE(os.lstat(os.path.join(where, n)).st_mode)) for n in files}
    return found


@pytest.mark.slow
@needs_root
def test_an_entry_another_user_replaced_is_not_loaded(tmp_path):
    """The report: with CODER_CACHE under /tmp, another user replaced an entry's model.pt; the
    victim's next run loaded it and predicted class 0 for everything."""
    first = run_patched(tmp_path, "nano_jit_fp32", preexec_fn=lambda: os.umask(0))
    assert first.returncode == 0 and first.stdout.strip() == classes(), first.stderr
    assert modes(tmp_path / "cache") == {("folder", 0o700), ("file", 0o600)}  # umask 0 or not
    [entry] = cache.entries(tmp_path / "cache")
    always_zero = torch.jit.script(ClassZero())
    torch.jit.save(always_zero, str(entry.folder / "model.pt"))
    os.chown(entry.folder / "model.pt", OTHER_UID, -1)
    second = run_patched(tmp_path, "nano_jit_fp32")
    assert second.returncode == 0 and second.stdout.strip() == classes()
    [said] = lines(second.stderr, "cache entry")
    assert said == (
        f"coder: nano_jit_fp32: its cache entry is unreadable (CorruptEntry: {entry.folder / 'model.pt'} is owned by "
        f"another user (uid {OTHER_UID})): converting the model again"
    )
    assert "loaded from the cache" not in second.stderr
    assert os.lstat(entry.folder / "model.pt").st_uid == os.geteuid()  # converted again, and stored again


class ClassZero(torch.nn.Module):
    def forward(self, x):
        logits = torch.zeros(x.shape[0], 10)
        logits[:, 0] = 1.0
        return (logits,)


def give_away(folder):
    os.chown(folder, OTHER_UID, -1)
    return f"{folder} is owned by another user (uid {OTHER_UID})"


def open_to_all(folder):
    os.chmod(folder, 0o777)
    return f"{folder} is writable by group and others (mode 0777); chmod -R go-w {folder} makes it private"


@pytest.mark.slow
@needs_root
@pytest.mark.parametrize("spoil", [give_away, open_to_all])
def test_a_cache_folder_not_private_is_refused_and_the_script_runs(spoil, tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    why = spoil(folder)
    result = run_patched(tmp_path, "nano_jit_fp32", cache=folder)
    refused = f"coder: conversion cache {folder} not used ({why}): running without it"
    assert result.returncode == 0 and result.stdout.strip() == classes()
    assert lines(result.stderr, "conversion cache") == [refused]
    assert list(folder.iterdir()) == []  # nothing written in it
    for action in ("list", "clear"):
        command = cache_command(action, folder)
        assert (command.returncode, command.stdout, command.stderr) == (1, "", refused + "\n")


def fake_entry(folder, key: str, size: int = 1024) -> cache.Entry:
    entry = cache.Entry(folder / "entries" / key)
    staging = cache.new_staging(folder)
    (staging / "model.bin").write_bytes(b"\0" * size)
    with entry.locked():
        entry.commit(staging, {"status": "ok", "label": "fake"})
    return entry


@pytest.fixture
def victim(tmp_path):
    """A folder of the user's own work, which nothing in coder may remove."""
    folder = tmp_path / "projects"
    (folder / "thesis").mkdir(parents=True)
    (folder / "thesis" / "chapter1.tex").write_text("results")
    return folder


def intact(victim) -> bool:
    return (victim / "thesis" / "chapter1.tex").read_text() == "results"


def test_a_symlinked_entries_folder_is_refused_and_never_emptied(cache_folder, victim, runtime_warnings):
    fake_entry(cache_folder, "a" * 32)
    private.remove(cache_folder / "entries")
    (cache_folder / "entries").symlink_to(victim)
    refused = (
        f"coder: conversion cache {cache_folder} not used ({cache_folder / 'entries'} is a symbolic link): "
        f"running without it"
    )
    command = cache_command("clear", cache_folder)
    assert (command.returncode, command.stderr) == (1, refused + "\n")
    assert cache.entry("b" * 32) is None and cache.entry("c" * 32) is None  # a run does not use it either
    assert coder_warnings(runtime_warnings) == [refused]  # said once
    assert cache.evict(cache_folder, limit=0) == [] and cache.entries(cache_folder) == []
    assert intact(victim)


def test_symlinked_entries_and_files_are_removed_as_links(cache_folder, victim):
    kept = fake_entry(cache_folder, "a" * 32)
    (cache_folder / "entries" / ("b" * 32)).symlink_to(victim)
    (kept.folder / "notes").symlink_to(victim / "thesis")
    assert [entry.key for entry in cache.entries(cache_folder)] == ["a" * 32]  # a link is not an entry
    assert cache.evict(cache_folder, limit=0) == ["a" * 32]
    assert intact(victim)
    command = cache_command("clear", cache_folder)
    assert command.returncode == 0 and intact(victim)


def dead_pid() -> int:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(ended.stdout)


def staged(folder, pid: int, size: int):
    path = folder / "staging" / f"{private.HOST}-{pid}-0123abcd"
    path.mkdir(parents=True)
    (path / "model.pt").write_bytes(b"\0" * size)
    return path


def test_staging_is_listed_counted_and_cleared(cache_folder):
    fake_entry(cache_folder, "a" * 32, size=1 << 20)
    left = staged(cache_folder, dead_pid(), 2 << 20)  # a save killed midway
    writing = staged(cache_folder, os.getpid(), 1 << 20)  # this process is writing it
    listing = cache_command("list", cache_folder).stdout.splitlines()
    assert listing[0].startswith(f"{cache_folder}: 1 entries, 4.0 MB of 4.0 GB")
    assert sorted(listing[2:]) == sorted(
        [
            f"staging/{left.name}  2.0 MB  left by a process that has ended",
            f"staging/{writing.name}  1.0 MB  being written by a running process",
        ]
    )
    command = cache_command("clear", cache_folder)
    assert command.stdout == (
        f"removed 1 entries and 1 staging folders (3.0 MB) from {cache_folder}; "
        f"1 staging folders of running processes were left\n"
    )
    assert not left.exists() and writing.is_dir()


def test_the_size_limit_counts_staging(cache_folder, monkeypatch):
    fake_entry(cache_folder, "a" * 32, size=1 << 20)
    staged(cache_folder, os.getpid(), 2 << 20)
    assert cache.evict(cache_folder, limit=(3 << 20) + 4096) == []
    assert cache.evict(cache_folder, limit=(2 << 20) + 4096) == ["a" * 32]


def test_the_next_run_removes_what_a_dead_process_left_in_staging(cache_folder):
    fake_entry(cache_folder, "a" * 32)
    left = staged(cache_folder, dead_pid(), 1024)
    old_style = cache_folder / "staging" / ("0f" * 16)  # a uuid-named folder of an older coder, a week old
    old_style.mkdir()
    os.utime(old_style, (0, 0))
    cache._swept.discard(cache_folder)
    assert cache.entry("b" * 32) is not None  # the cache's first use in a run
    assert not left.exists() and not old_style.exists()


def test_folders_are_created_private_whatever_the_umask(cache_folder):
    previous = os.umask(0)
    try:
        entry = fake_entry(cache_folder, "a" * 32)
        entry.update(speed={"ratio": 2.0})
        assert cache.usable() == cache_folder
    finally:
        os.umask(previous)
    assert modes(cache_folder) == {("folder", 0o700), ("file", 0o600)}


def test_an_entry_file_writable_by_others_is_not_trusted(cache_folder):
    entry = fake_entry(cache_folder, "a" * 32)
    os.chmod(entry.folder / "model.bin", 0o666)
    with pytest.raises(cache.CorruptEntry, match=r"model.bin is writable by group and others \(mode 0666\)"):
        entry.meta()


@needs_root
def test_a_cache_folder_linked_by_another_user_is_refused(tmp_path):
    """Another user's link in /tmp, named as the victim's CODER_CACHE, to a folder of the victim's."""
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    link = tmp_path / "cache"
    link.symlink_to(mine)
    assert cache.refusal(link) is None  # a link of one's own: the cache is where it points
    os.lchown(link, OTHER_UID, -1)
    assert cache.refusal(link) == f"{link} is owned by another user (uid {OTHER_UID})"
