"""Workspaces: the private folders conversions write their intermediate files into (the ONNX
export and its quantized graphs, Neural Compressor's files), and ``-o auto`` its trials' results.

A workspace lives in the conversion cache's staging/ (``HOST-PID-KIND-...``), or, with the
cache off, in the temp folder (``coder-KIND-HOST-PID-...``); it is created 0700. It is removed
when it is done with (``cleanup``, the end of a ``with`` block, the object's end, the
interpreter's exit), and a process that cannot remove it (killed, or ended by ``os._exit`` as
an ``-o auto`` trial is) leaves a name saying whose it was: the next run removes the workspaces
of processes that have ended (cache.clean_staging for staging/, ``clean_temp`` here).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import weakref
from pathlib import Path

from coder.backend import cache, private

KINDS = ("onnx", "inc", "auto")  # conversions' workspaces, and -o auto's trial results
TEMP_NAME = re.compile(rf"coder-({'|'.join(KINDS)})-(?P<owner>.+)$")
_cleaned_temp: set[str] = set()  # temp folders this process has cleaned


class Workspace:
    """A private folder, removed with the object (or ``cleanup``, or leaving a ``with``)."""

    def __init__(self, kind: str) -> None:
        self.path = _new_folder(kind)
        self._remove = weakref.finalize(self, private.remove, self.path)

    @property
    def name(self) -> str:
        return str(self.path)

    def cleanup(self) -> None:
        self._remove()

    def __enter__(self) -> str:
        return self.name

    def __exit__(self, *exc) -> None:
        self.cleanup()


def _new_folder(kind: str) -> Path:
    folder = cache.usable(quiet=True)  # quiet: this may run while a library's output is held
    if folder is not None:
        with contextlib.suppress(OSError):
            return cache.new_staging(folder, kind)
    temp = tempfile.gettempdir()
    if temp not in _cleaned_temp:
        _cleaned_temp.add(temp)
        clean_temp(Path(temp))
    return Path(tempfile.mkdtemp(prefix=f"coder-{kind}-{private.owner_tag()}-"))


def clean_temp(temp: Path) -> list[Path]:
    """Remove the workspaces in ``temp`` that this user's ended processes left behind."""
    removed = []
    for folder in private.real_folders(temp):
        named = TEMP_NAME.match(folder.name)
        if named and private.ours(folder) and private.left_behind(folder, named["owner"]):
            private.remove(folder)
            removed.append(folder)
    return removed
