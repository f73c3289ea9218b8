"""Folders only this user can change: what the conversion cache and the conversion workspaces
stand on.

- A private folder is this user's, a real folder (not a symbolic link), and not writable by
  group or others; coder creates its folders 0700 and its files 0600 whatever the umask.
- Removing never follows a symbolic link: a link is removed itself, never what it points to.
- A folder a process leaves behind is named after it, ``HOST-PID-...``: once that process has
  ended (on this host) the folder is litter, and the next run removes it.

No torch import (``python -m coder cache`` uses it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import stat
import time
from pathlib import Path

FOLDER_MODE, FILE_MODE = 0o700, 0o600
NOT_OURS = 0o022  # group or others may write
DISK_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EIO}
LEFT_FOR_A_DAY = 24 * 3600  # a folder whose process cannot be told: a build never takes that long


class NotPrivate(OSError):
    """A folder or file another user could change; the message says which, and why.
    ``loose``: this user's, only its mode is too open (``chmod go-w`` makes it private)."""

    def __init__(self, message: str, loose: bool = False) -> None:
        super().__init__(message)
        self.loose = loose


def check(path: Path, follow: bool = False) -> None:
    """Raise NotPrivate unless ``path`` is this user's and not writable by group or others
    (``follow``: a symbolic link is judged by its target, and its own owner)."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        if not follow:
            raise NotPrivate(f"{path} is a symbolic link")
        _check_owner(path, info)
        info = os.stat(path)
    _check_owner(path, info)
    if info.st_mode & NOT_OURS:
        who = {0o020: "group", 0o002: "others", 0o022: "group and others"}[info.st_mode & NOT_OURS]
        raise NotPrivate(f"{path} is writable by {who} (mode {stat.S_IMODE(info.st_mode):04o})", loose=True)


def _check_owner(path: Path, info: os.stat_result) -> None:
    if not _owned(info):
        raise NotPrivate(f"{path} is owned by another user (uid {info.st_uid})")


def ours(path: Path) -> bool:
    """``path`` itself (not what a link points to) belongs to this user."""
    try:
        return _owned(os.lstat(path))
    except OSError:
        return False


def _owned(info: os.stat_result) -> bool:
    return info.st_uid == os.geteuid()


def folder(path: Path, follow: bool = False) -> Path:
    """``path`` as a private folder: created 0700 when missing, checked otherwise."""
    try:
        os.mkdir(path, FOLDER_MODE)
        os.chmod(path, FOLDER_MODE)  # the umask may have taken bits off
    except FileExistsError:
        pass
    check(path, follow)
    if not path.is_dir():
        raise NotPrivate(f"{path} is not a folder")
    return path


def check_tree(top: Path) -> None:
    """Raise NotPrivate when anything under ``top`` is a link, another user's, or writable by
    group or others: what coder wrote there has been changed by someone else."""
    check(top)
    for where, folders, files in os.walk(top):
        for name in folders + files:
            check(Path(where) / name)


def make_private(top: Path) -> None:
    """Folders 0700 and files 0600 under ``top`` (libraries write with the umask's modes)."""
    os.chmod(top, FOLDER_MODE)
    for where, folders, files in os.walk(top):
        for name in folders:
            os.chmod(os.path.join(where, name), FOLDER_MODE, follow_symlinks=False)
        for name in files:
            path = os.path.join(where, name)
            if not os.path.islink(path):
                os.chmod(path, FILE_MODE)


def write_file(path: Path, data: bytes) -> None:
    """``data`` in a new file (0600) at ``path``; an error is an OSError, never a crash."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), FILE_MODE)
        file.write(data)


def remove(path: Path) -> None:
    """Remove ``path``: a link or a file itself, a folder with what it holds, links not followed."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path, ignore_errors=True)  # fd-based on Linux: links inside are unlinked
    else:
        with _quiet():
            os.unlink(path)


def size(top: Path) -> int:
    """Bytes of the files under ``top``, links not followed."""
    total = 0
    for where, _, files in os.walk(top):
        for name in files:
            with _quiet():
                total += os.lstat(os.path.join(where, name)).st_size
    return total


def real_folders(parent: Path) -> list[Path]:
    """The folders in ``parent`` that are folders, not links to one."""
    try:
        children = list(os.scandir(parent))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [Path(child.path) for child in children if child.is_dir(follow_symlinks=False)]


def _quiet():
    return contextlib.suppress(OSError)


HOST = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def owner_tag() -> str:
    """``HOST-PID``: what names a folder this process may leave behind."""
    return f"{HOST}-{os.getpid()}"


OWNER = re.compile(r"(?P<host>[^-]+)-(?P<pid>\d+)-")


def left_behind(path: Path, name: str | None = None) -> bool:
    """Was ``path`` (named ``[PREFIX]HOST-PID-...``: ``name`` without the prefix) left by a process
    that has ended? A folder of another host, or without a process in its name, after a day."""
    owner = OWNER.match(name if name is not None else path.name)
    if owner is None or owner["host"] != HOST:
        try:
            return time.time() - os.lstat(path).st_mtime > LEFT_FOR_A_DAY
        except OSError:
            return False
    return not running(int(owner["pid"]))


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def disk_fault(error: BaseException) -> bool:
    """An error of the disk rather than of the conversion: full, read-only, no permission."""
    return isinstance(error, OSError) and error.errno in DISK_FAULTS
