"""``python -m coder cache list|clear``: what the conversion cache holds, and emptying it.

``run(action)`` prints and returns the exit code; the command line only passes the action on.
A cache folder that is not private (cache.refusal) is neither listed nor cleared: the one line
that says why, exit code 1. No torch import.
"""

from __future__ import annotations

import sys
import time

from coder.backend import cache, private

ACTIONS = ("list", "clear")
EXIT_REFUSED = 1
EXIT_USAGE = 2


def run(action: str | None, out=None) -> int:
    out = out or sys.stdout
    if action not in ACTIONS:
        print(f"coder: cache takes one of {', '.join(ACTIONS)}, not {action!r}", file=sys.stderr)
        return EXIT_USAGE
    folder = cache.root()
    if folder is None:
        print("coder: the conversion cache is off (CODER_CACHE=off)", file=out)
        return 0
    why = cache.refusal(folder, create=False)
    if why is not None:
        print(cache.refused_line(folder, why), file=sys.stderr)
        return EXIT_REFUSED
    return list_entries(folder, out) if action == "list" else clear(folder, out)


def list_entries(folder, out) -> int:
    entries = cache.entries(folder)
    sizes = [entry.size() for entry in entries]
    staged = sum(private.size(staged) for staged, _ in cache.staging(folder))
    print(
        f"{folder}: {len(entries)} entries, {_size(sum(sizes) + staged)} of {_size(cache.size_limit())} "
        f"(CODER_CACHE_SIZE)",
        file=out,
    )
    for entry, size in zip(entries, sizes):
        print(describe(entry, size), file=out)
    for staged, left in cache.staging(folder):
        state = "left by a process that has ended" if left else "being written by a running process"
        print(f"staging/{staged.name}  {_size(private.size(staged))}  {state}", file=out)
    return 0


def describe(entry: cache.Entry, size: int) -> str:
    """One line per entry: key, transform, model, inputs, status, size, last use."""
    try:
        meta = entry.meta() or {}
    except cache.CorruptEntry as error:
        return f"{entry.key[:12]}  unreadable ({error})"
    status = "ok" if meta.get("status") == "ok" else f"failed: {meta.get('reason')}"
    used = time.strftime("%Y-%m-%d %H:%M", time.localtime(meta.get("used", 0)))
    return (
        f"{entry.key[:12]}  {meta.get('label', '?')}  {meta.get('model', '?')}  ({meta.get('inputs', '')})  "
        f"{status}  {_size(size)}  used {used}"
    )


def clear(folder, out) -> int:
    removed, busy, freed = 0, 0, 0
    for entry in cache.entries(folder):
        size = entry.size()
        if cache.remove(entry, wait=0):
            removed, freed = removed + 1, freed + size
        else:
            busy += 1
    cleaned, cleaned_size, writing = _clear_staging(folder)
    staged = f" and {cleaned} staging folders" if cleaned else ""
    left = f"; {busy} in use by another process were left" if busy else ""
    left += f"; {writing} staging folders of running processes were left" if writing else ""
    print(f"removed {removed} entries{staged} ({_size(freed + cleaned_size)}) from {folder}{left}", file=out)
    return 0


def _clear_staging(folder) -> tuple[int, int, int]:
    """What dead processes left in staging/ is removed: (how many, their size, how many are left)."""
    sizes = {path: private.size(path) for path, _ in cache.staging(folder)}
    cleaned = cache.clean_staging(folder)
    return len(cleaned), sum(sizes[path] for path in cleaned), len(sizes) - len(cleaned)


def _size(count: float) -> str:
    units = ["B", "KB", "MB", "GB"]
    while count >= 1024 and len(units) > 1:
        count, units = count / 1024, units[1:]
    return f"{count:.0f} {units[0]}" if units[0] == "B" else f"{count:.1f} {units[0]}"
