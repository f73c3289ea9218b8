"""The conversion cache: converted and calibrated models on disk, so that the next run of a
script loads its model instead of converting it again, and does not retry what failed.

Where: ``$CODER_CACHE``, else ``$XDG_CACHE_HOME/coder``, else ``~/.cache/coder``;
``CODER_CACHE=off`` turns it off. Layout under that folder:

    entries/KEY/meta.json   what the entry holds: status "ok" (files below) or "failed" (reason)
    entries/KEY/...         the runtime's files: model.xml + model.bin, model.onnx, model.pt, ...
    locks/KEY.lock          held while the entry is built, read, replaced or evicted
    staging/HOST-PID-...    entries being written (moved into entries/ by one rename) and the
                            conversions' workspaces (workspace.py), named after their process

An entry appears whole or not at all (written in staging/, then renamed), and two processes
never write one entry at once (the lock; the second waits, then finds the first one's entry).
After each write the least recently used entries are removed until the cache (staging/
included) is under ``CODER_CACHE_SIZE`` (bytes, or a number with K, M or G; default 4G).

The cache is private (private.py): its folders are created 0700 and its files 0600, a folder
another user owns or could write is refused in one line (the run goes on without the cache), an
entry someone else changed is not loaded, and removing never follows a symbolic link. A write
that fails (a full or read-only disk) turns the cache off for the rest of the run, in one line;
what a dead process left in staging/ is removed by the next run.

No torch import: ``python -m coder cache list|clear`` (``cache_command.py``) uses this alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from coder import settings
from coder.backend import private
from coder.backend.messages import error_text, warn

FORMAT = 1  # bumped when meta.json or the folder layout changes: older entries are ignored
META = "meta.json"
LOCK_WAIT_SECONDS = 600.0  # another process building the same entry: wait for it this long at most
KEPT_REJECTIONS = 5  # the last rejections of an entry's write kept in its meta.json
PARTS = ("entries", "staging", "locks")


class CorruptEntry(Exception):
    """An entry whose meta.json or files cannot be read."""


class LockTimeout(Exception):
    """Another process held the entry's lock for longer than we wait."""


class Stopped(OSError):
    """A write fault turned the cache off for the rest of this run (``stop``)."""


NotPrivate = private.NotPrivate


def root() -> Path | None:
    """The cache folder, or None when ``CODER_CACHE=off``."""
    setting = settings.current().cache
    if setting is False:
        return None
    if setting is not True:
        return setting
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "coder"


def size_limit() -> int:
    """``CODER_CACHE_SIZE`` in bytes (coder/settings.py)."""
    return settings.current().cache_size


_said: set[Path] = set()  # cache folders whose refusal this run has said
_stopped: dict[Path, str] = {}  # cache folder -> the write fault that turned it off for this run
_swept: set[Path] = set()  # cache folders whose staging/ this run has cleaned


def usable(quiet: bool = False) -> Path | None:
    """The cache folder for this run: None when it is off, not private, or stopped by a write
    fault. The first refusal is said in one line (unless ``quiet``: inside held output)."""
    folder = root()
    if folder is None:
        return None
    why = _stopped.get(folder) or refusal(folder)
    if why is not None:
        if not quiet:
            _say(folder, why)
        return None
    if folder not in _swept:
        _swept.add(folder)
        clean_staging(folder)
    return folder


def refusal(folder: Path, create: bool = True) -> str | None:
    """Why ``folder`` cannot be the cache (another user's, writable by others, a symbolic link
    inside, unwritable), or None. ``create``: make what is missing, private."""
    try:
        if create:
            folder.parent.mkdir(parents=True, exist_ok=True)
        for path, follow in [(folder, True), *((folder / part, False) for part in PARTS)]:
            if create:
                private.folder(path, follow)  # the cache folder may be a link (of this user's) to a folder
            elif os.path.lexists(path):
                private.check(path, follow)
    except private.NotPrivate as error:  # a cache an older coder made under umask 002: the owner's to tighten
        return f"{error}; chmod -R go-w {folder} makes it private" if error.loose else str(error)
    except OSError as error:
        return error_text(error)
    return None


def refused_line(folder: Path, why: str) -> str:
    return f"coder: conversion cache {folder} not used ({why}): running without it"


def stop(folder: Path, error: BaseException) -> None:
    """A write in the cache failed (a full or read-only disk, ...): no cache for the rest of the
    run, said in one line; the script goes on."""
    _stopped.setdefault(folder, f"{error_text(error)}; off for the rest of this run")
    _say(folder, _stopped[folder])


def _say(folder: Path, why: str) -> None:
    if folder not in _said:
        _said.add(folder)
        warn(refused_line(folder, why), stacklevel=3)


@dataclass(frozen=True)
class Entry:
    folder: Path

    @property
    def key(self) -> str:
        return self.folder.name

    @property
    def cache(self) -> Path:
        return self.folder.parent.parent

    def meta(self) -> dict | None:
        """The entry's meta.json; None when there is no entry (or one of an older format).
        Raises CorruptEntry also when another user could have changed the entry."""
        try:
            private.check_tree(self.folder)
            meta = json.loads((self.folder / META).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise CorruptEntry(
                str(error) if isinstance(error, private.NotPrivate) else f"{type(error).__name__}: {error}"
            ) from error
        if not isinstance(meta, dict) or "status" not in meta:
            raise CorruptEntry("meta.json has no status")
        return meta if meta.get("format") == FORMAT else None

    @contextlib.contextmanager
    def locked(self, timeout: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
        """Hold the entry's lock; raises LockTimeout after ``timeout`` seconds, Stopped once a
        write fault turned the cache off."""
        import filelock

        if self.cache in _stopped:
            raise Stopped(_stopped[self.cache])
        locks = _part(self.cache, "locks")
        lock = filelock.FileLock(str(locks / f"{self.key}.lock"), timeout=timeout, mode=private.FILE_MODE)
        try:
            lock.acquire()
        except filelock.Timeout as error:
            raise LockTimeout(str(error)) from None
        try:
            yield
        finally:
            lock.release()

    def commit(self, staging: Path, meta: dict) -> None:
        """Make ``staging`` (its files, plus ``meta``) this entry, in one rename; hold the lock."""
        _write_json(staging / META, {**meta, "format": FORMAT, "key": self.key, "used": time.time()})
        private.make_private(staging)
        _part(self.cache, "entries")
        old = None
        if os.path.lexists(self.folder):
            old = staging_folder(self.cache)
            os.rename(self.folder, old)
        os.rename(staging, self.folder)
        if old is not None:
            private.remove(old)
        evict(self.cache, keep=self.key)

    def remember_failure(self, meta: dict, reason: str, written: str | None = None) -> None:
        """Store that this entry's conversion fails here, and why; hold the lock. ``written``:
        the write (meta.json's ``write``) the failing runtime came from; when the entry now holds
        another runtime (another process replaced it), that one is left alone."""
        current = self.meta()
        if written is not None and current is not None and current.get("write") not in (None, written):
            return
        self.commit(new_staging(self.cache), {**meta, "status": "failed", "reason": reason})

    def reject(self, written: str | None, meta: dict, reason: str) -> None:
        """A model that loaded this entry's write ``written`` found it wrong on its own call:
        noted in that write (``cache list`` shows it), never turned into a failure of the key,
        which other models share (the one that made the entry passed its check); hold the lock."""
        current = self.meta()
        if current is None or written is None or current.get("write") != written:
            return
        rejected = [
            *current.get("rejected", [])[-(KEPT_REJECTIONS - 1) :],
            {**meta, "reason": reason, "at": round(time.time())},
        ]
        self.update(rejected=rejected)

    def update(self, **fields) -> None:
        """Rewrite meta.json with ``fields`` (and a new last-use time); hold the lock."""
        meta = self.meta()
        if meta is not None:
            _write_json(self.folder / META, {**meta, **fields, "used": time.time()})

    def size(self) -> int:
        return private.size(self.folder)


def entry(key: str) -> Entry | None:
    """The entry for ``key`` (present or not); None when the cache is off, refused or stopped."""
    folder = usable()
    return Entry(folder / "entries" / key) if folder is not None else None


def staging_folder(cache: Path, kind: str = "") -> Path:
    """A new, unique path under staging/ (not created), named after this process."""
    return _part(cache, "staging") / f"{private.owner_tag()}-{kind + '-' if kind else ''}{uuid.uuid4().hex}"


def _part(cache: Path, name: str) -> Path:
    """``cache/name`` as a private folder (and ``cache`` too, when missing)."""
    if not os.path.lexists(cache):
        cache.parent.mkdir(parents=True, exist_ok=True)
        private.folder(cache)
    return private.folder(cache / name)


def new_staging(cache: Path | None = None, kind: str = "") -> Path | None:
    """A new empty private folder under staging/ (``cache``, else this run's cache), or None
    when the cache is off."""
    folder = cache or usable()
    return private.folder(staging_folder(folder, kind)) if folder is not None else None


def _write_json(path: Path, data: dict) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        private.write_file(temporary, json.dumps(data, indent=1, sort_keys=True).encode())
        os.replace(temporary, path)
    finally:
        private.remove(temporary)


def entries(cache: Path | None = None) -> list[Entry]:
    """Every entry, the most recently used first; a symbolic link in entries/ (or as entries/)
    is not one."""
    cache = cache or root()
    if cache is None or os.path.islink(cache / "entries"):
        return []
    found = [Entry(folder) for folder in private.real_folders(cache / "entries")]
    return sorted(found, key=_last_use, reverse=True)


def _last_use(entry: Entry) -> float:
    try:
        return (entry.folder / META).stat().st_mtime
    except OSError:
        return 0.0


def evict(cache: Path, keep: str | None = None, limit: int | None = None) -> list[str]:
    """Remove the least recently used entries until the cache (staging/ included, once what
    dead processes left there is removed) is under ``limit``; an entry another process holds
    is left. Returns the keys removed."""
    limit = size_limit() if limit is None else limit
    clean_staging(cache)
    listed = entries(cache)
    sizes = {entry.key: entry.size() for entry in listed}
    total = sum(sizes.values()) + sum(private.size(folder) for folder, _ in staging(cache))
    removed = []
    for entry in reversed(listed):
        if total <= limit:
            break
        if entry.key != keep and remove(entry, wait=0):
            total -= sizes[entry.key]
            removed.append(entry.key)
    return removed


def remove(entry: Entry, wait: float = LOCK_WAIT_SECONDS) -> bool:
    """Delete ``entry`` under its lock; False when another process holds it past ``wait``."""
    try:
        with entry.locked(timeout=wait):
            private.remove(entry.folder)
    except LockTimeout:
        return False
    return True


def staging(cache: Path) -> list[tuple[Path, bool]]:
    """What staging/ holds, each with whether its process has ended (litter)."""
    if os.path.islink(cache / "staging"):
        return []
    return [(folder, private.left_behind(folder)) for folder in sorted(private.real_folders(cache / "staging"))]


def clean_staging(cache: Path) -> list[Path]:
    """Remove what processes that have ended left in staging/ (a killed save, a workspace)."""
    left = [folder for folder, dead in staging(cache) if dead]
    for folder in left:
        private.remove(folder)
    return left
