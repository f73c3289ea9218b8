"""The conversion cache: converted and calibrated models on disk, so that the next run of a
script loads its model instead of converting it again, and does not retry what failed.

Where: ``$CODER_CACHE``, else ``$XDG_CACHE_HOME/coder``, else ``~/.cache/coder``;
``CODER_CACHE=off`` turns it off. Layout under that folder:

    entries/KEY/meta.json   what the entry holds: status "ok" (files below) or "failed" (reason)
    entries/KEY/...         the runtime's files: model.xml + model.bin, model.onnx, model.pt, ...
    locks/KEY.lock          held while the entry is built, read, replaced or evicted
    staging/                entries being written, moved into entries/ by one rename

An entry appears whole or not at all (written in staging/, then renamed), and two processes
never write one entry at once (the lock; the second waits, then finds the first one's entry).
After each write the least recently used entries are removed until the cache is under
``CODER_CACHE_SIZE`` (bytes, or a number with K, M or G; default 4G).

No torch import: ``python -m coder cache list|clear`` (``cache_command.py``) uses this alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from coder import settings

FORMAT = 1  # bumped when meta.json or the folder layout changes: older entries are ignored
META = "meta.json"
LOCK_WAIT_SECONDS = 600.0  # another process building the same entry: wait for it this long at most
KEPT_REJECTIONS = 5  # the last rejections of an entry's write kept in its meta.json


class CorruptEntry(Exception):
    """An entry whose meta.json or files cannot be read."""


class LockTimeout(Exception):
    """Another process held the entry's lock for longer than we wait."""


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
        """The entry's meta.json; None when there is no entry (or one of an older format)."""
        try:
            meta = json.loads((self.folder / META).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise CorruptEntry(f"{type(error).__name__}: {error}") from error
        if not isinstance(meta, dict) or "status" not in meta:
            raise CorruptEntry("meta.json has no status")
        return meta if meta.get("format") == FORMAT else None

    @contextlib.contextmanager
    def locked(self, timeout: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
        """Hold the entry's lock; raises LockTimeout after ``timeout`` seconds."""
        import filelock

        locks = self.cache / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(locks / f"{self.key}.lock"), timeout=timeout)
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
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if self.folder.exists():
            old = staging_folder(self.cache)
            os.rename(self.folder, old)
        os.rename(staging, self.folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        evict(self.cache, keep=self.key)

    def remember_failure(self, meta: dict, reason: str, written: str | None = None) -> None:
        """Store that this entry's conversion fails here, and why; hold the lock. ``written``:
        the write (meta.json's ``write``) the failing runtime came from; when the entry now holds
        another runtime (another process replaced it), that one is left alone."""
        current = self.meta()
        if written is not None and current is not None and current.get("write") not in (None, written):
            return
        staging = staging_folder(self.cache)
        staging.mkdir(parents=True)
        self.commit(staging, {**meta, "status": "failed", "reason": reason})

    def reject(self, written: str | None, meta: dict, reason: str) -> None:
        """A model that loaded this entry's write ``written`` found it wrong on its own call:
        noted in that write (``cache list`` shows it), never turned into a failure of the key,
        which other models share (the one that made the entry passed its check); hold the lock."""
        current = self.meta()
        if current is None or written is None or current.get("write") != written:
            return
        rejected = [*current.get("rejected", [])[-(KEPT_REJECTIONS - 1):],
                    {**meta, "reason": reason, "at": round(time.time())}]
        self.update(rejected=rejected)

    def update(self, **fields) -> None:
        """Rewrite meta.json with ``fields`` (and a new last-use time); hold the lock."""
        meta = self.meta()
        if meta is not None:
            _write_json(self.folder / META, {**meta, **fields, "used": time.time()})

    def size(self) -> int:
        return sum(path.stat().st_size for path in self.folder.rglob("*") if path.is_file())


def entry(key: str) -> Entry | None:
    """The entry for ``key`` (present or not); None when the cache is off."""
    folder = root()
    return Entry(folder / "entries" / key) if folder is not None else None


def staging_folder(cache: Path) -> Path:
    """A new, unique path under staging/ (not created)."""
    (cache / "staging").mkdir(parents=True, exist_ok=True)
    return cache / "staging" / uuid.uuid4().hex


def new_staging() -> Path | None:
    """A new empty folder to write an entry into, or None when the cache is off."""
    folder = root()
    if folder is None:
        return None
    staging = staging_folder(folder)
    staging.mkdir()
    return staging


def _write_json(path: Path, data: dict) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(temporary, path)


def entries(cache: Path | None = None) -> list[Entry]:
    """Every entry, the most recently used first."""
    cache = cache or root()
    if cache is None or not (cache / "entries").is_dir():
        return []
    found = [Entry(folder) for folder in (cache / "entries").iterdir() if folder.is_dir()]
    return sorted(found, key=_last_use, reverse=True)


def _last_use(entry: Entry) -> float:
    try:
        return (entry.folder / META).stat().st_mtime
    except OSError:
        return 0.0


def evict(cache: Path, keep: str | None = None, limit: int | None = None) -> list[str]:
    """Remove the least recently used entries until the cache is under ``limit``; an entry
    another process holds is left. Returns the keys removed."""
    limit = size_limit() if limit is None else limit
    listed = entries(cache)
    sizes = {entry.key: entry.size() for entry in listed}
    total, removed = sum(sizes.values()), []
    for entry in reversed(listed):
        if total <= limit:
            break
        if entry.key != keep and remove(entry, wait=0):
            total -= sizes[entry.key]
            removed.append(entry.key)
    _clean_staging(cache)
    return removed


def remove(entry: Entry, wait: float = LOCK_WAIT_SECONDS) -> bool:
    """Delete ``entry`` under its lock; False when another process holds it past ``wait``."""
    try:
        with entry.locked(timeout=wait):
            shutil.rmtree(entry.folder, ignore_errors=True)
    except LockTimeout:
        return False
    return True


STALE_STAGING_SECONDS = 24 * 3600


def _clean_staging(cache: Path) -> None:
    """Staging folders left by a killed process (a day old: a build never takes that long)."""
    staging = cache / "staging"
    if not staging.is_dir():
        return
    for folder in staging.iterdir():
        with contextlib.suppress(OSError):
            if time.time() - folder.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
