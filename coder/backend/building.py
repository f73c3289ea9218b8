"""How one runtime comes to be: loaded from the conversion cache, or built and stored there.

A build runs isolated (``isolation.py``: the libraries' output held, the random generators and
the script's thread count kept) and within its time budget (``budget.py``), and includes the
runtime's first run on the call's inputs (where ``torch.compile`` and OpenVINO do part of their
work). With the cache on, a built runtime is saved into a new entry and loaded back from it, so
the runtime checked on this call is the one the next run will load. A failure is remembered in
the entry: the next run falls back at once, with the same reason.

The cache never costs the script: an entry is serialized in memory, written in staging/ and
renamed into place (never half-written), and a write that fails (a full or read-only disk)
turns the cache off for the rest of the run with one line (``cache.stop``); the model is
served as without a cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field

import torch

from coder.backend import budget, cache, dependence, private
from coder.backend.calibration import sample_count
from coder.backend.context import runtime_threads, torch_threads
from coder.backend.isolation import debugging, isolated
from coder.backend.libraries import MissingLibrary, require
from coder.backend.messages import debug, error_text, warn
from coder.backend.recipe import BuildRequest, Recipe, Runner

NOT_REMEMBERED = (MissingLibrary, MemoryError)  # may be gone on the next run


class Remembered(Exception):
    """An earlier run found that this runtime is not to be used here; the message says why, and
    ``kind`` what kind of fallback it was (wrapper.Fallback; a stopped conversion is an error)."""

    def __init__(self, reason: str, failure: str = "error") -> None:
        super().__init__(reason)
        self.kind = "error" if failure == "budget" else failure


@dataclass(frozen=True)
class Slot:
    """Where a runtime is cached: its entry, and what ``cache list`` says about it. Once a
    runtime is obtained: the entry's write it came from, and whether it was loaded (made by an
    earlier run) or built here (``Builder.remember``)."""

    entry: cache.Entry
    about: dict  # label, model class, inputs
    written: str | None = None  # meta.json's "write" of the runtime that serves
    loaded: bool = False

    def of(self, obtained: Obtained) -> Slot:
        return dataclasses.replace(self, written=obtained.meta.get("write"), loaded=obtained.loaded)


@dataclass
class Obtained:
    runner: Runner
    produced: list  # the runtime's outputs on the call it was obtained for
    seconds: float  # spent converting, or loading
    loaded: bool = False  # from the cache
    stored: bool = False  # saved in the cache for the next runs
    meta: dict = field(default_factory=dict)  # the entry's meta.json (speed, calibration, ...)
    uncertain: bool = False  # its trace warned that it may not hold for other inputs


def tracer_doubts(caught) -> bool:
    """Did the trace turn tensor values into Python values (a TracerWarning)? Its graph then
    holds the branches this input took, which other inputs may not take."""
    return any(issubclass(w.category, torch.jit.TracerWarning) for w in caught)


class Builder:
    """Builds or loads the runtimes of one accelerated model (one per input signature)."""

    def __init__(self, recipe: Recipe, never_slower: bool) -> None:
        self.recipe = recipe
        self.never_slower = never_slower
        self.said_unreadable = False

    def obtain(self, request: BuildRequest, slot: Slot | None, allowed: budget.Budget) -> Obtained:
        """The runtime for ``request``, already run once on its sample. Raises Remembered, or
        the build's own error (then remembered in ``slot``)."""
        if slot is None:
            return self._built(request, allowed)
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(slot.entry.locked())
            except cache.LockTimeout as error:  # busy elsewhere
                debug(error)
                return self._built(request, allowed)
            except OSError as error:  # a read-only or full disk, a lock folder not ours
                cache.stop(slot.entry.cache, error)
                return self._built(request, allowed)
            return self._through_cache(request, slot, allowed)

    def _through_cache(self, request, slot: Slot, allowed) -> Obtained:
        meta = self._meta(slot.entry)
        if meta is not None and meta["status"] == "failed" and self._still_holds(meta, allowed):
            raise Remembered(meta["reason"], meta.get("failure", "error"))
        stored = meta is not None and meta["status"] != "failed"  # a failure no longer holding: convert
        loaded = self._loaded(request, slot.entry, meta) if stored and self.recipe.cacheable else None
        if loaded is not None:
            return loaded
        try:
            built = self._built(request, allowed)
        except NOT_REMEMBERED:
            raise
        except Exception as error:
            if private.disk_fault(error):  # its workspace (in staging/) on a full disk: not the conversion's fault
                cache.stop(slot.entry.cache, error)
                return self._built(request, allowed)
            stopped = isinstance(error, budget.ConversionStopped)
            failure = {**slot.about, "failure": "budget", "budget_seconds": allowed.seconds} if stopped else slot.about
            _write(slot.entry.remember_failure, failure, reason_for(error, allowed))
            raise
        return self._stored(built, request, slot) if self.recipe.cacheable else built

    def _still_holds(self, failed: dict, allowed: budget.Budget) -> bool:
        """A remembered failure applies unless it came from a timing rule now off or relaxed:
        "not faster" with never_slower off, a budget with more time (or none) now."""
        kind = failed.get("failure", "error")
        if kind == "slower":
            return self.never_slower
        if kind == "budget":
            return allowed.seconds is not None and allowed.seconds <= (failed.get("budget_seconds") or 0)
        return True

    def _meta(self, entry: cache.Entry) -> dict | None:
        try:
            return entry.meta()
        except cache.CorruptEntry as error:
            self._say_unreadable(error)
            return None

    def _loaded(self, request, entry: cache.Entry, meta: dict) -> Obtained | None:
        started = time.perf_counter()
        try:
            runner, produced = self._load_and_run(request, entry)
        except Exception as error:  # an unreadable entry is converted again, never fatal
            self._say_unreadable(error)
            return None
        _write(private.make_private, entry.folder)  # what the runtime wrote on loading (OpenVINO's ov_cache/)
        _write(entry.update)
        return Obtained(
            runner,
            produced,
            time.perf_counter() - started,
            loaded=True,
            meta=meta,
            uncertain=bool(meta.get("uncertain")),
        )

    def _load_and_run(self, request, entry: cache.Entry) -> tuple[Runner, list]:
        with isolated(runtime_threads(request.thread_num)):
            runner = self.recipe.load(entry.folder, request)
            return runner, first_run(self.recipe, runner, request)

    def _stored(self, built: Obtained, request, slot: Slot) -> Obtained:
        """Save ``built`` in the entry and serve the copy loaded from it."""
        started = time.perf_counter()
        if self._saved(built, request, slot) is None:
            return built
        try:
            runner, produced = self._load_and_run(request, slot.entry)
        except Exception as error:  # the cache is a convenience: the built runtime still serves
            debug(error)
            return built
        _write(private.make_private, slot.entry.folder)
        return Obtained(
            runner,
            produced,
            built.seconds + time.perf_counter() - started,
            stored=True,
            meta=slot.entry.meta() or {},
            uncertain=built.uncertain,
        )

    def _saved(self, built: Obtained, request, slot: Slot) -> str | None:
        """Save ``built`` in the entry: the write's id (meta.json's ``write``), or None when the
        write failed, which turns the cache off for this run (one line)."""
        try:
            return self._save(built, request, slot)
        except Exception as error:  # a full or read-only disk, ...: the built runtime still serves
            debug(error)
            cache.stop(slot.entry.cache, error)
            return None

    def _save(self, built: Obtained, request, slot: Slot) -> str:
        """The runner's files written in staging/, then renamed into the entry: never half-written."""
        staging = cache.new_staging(slot.entry.cache)
        written = uuid.uuid4().hex
        try:
            with isolated(runtime_threads(request.thread_num)):
                built.runner.save(staging)
            slot.entry.commit(
                staging,
                {
                    **slot.about,
                    "status": "ok",
                    "build_seconds": round(built.seconds, 3),
                    "uncertain": built.uncertain,
                    "write": written,
                    "calibration": calibration_summary(request.calibration),
                },
            )
        finally:
            private.remove(staging)  # left only when the write failed
        return written

    def replace(self, slot: Slot | None, built: Obtained, request: BuildRequest) -> str | None:
        """Store ``built`` (a recalibrated runtime, checked) over the entry; the write's id when stored."""
        if slot is None or not self.recipe.cacheable:
            return None
        try:
            with slot.entry.locked():
                return self._saved(built, request, slot)
        except (cache.LockTimeout, OSError) as error:  # the cache is a convenience
            debug(error)
            return None

    def _built(self, request: BuildRequest, allowed: budget.Budget) -> Obtained:
        require(*self.recipe.requires)
        if debugging():  # a mark tests and users can wait for
            print(f"coder: debug: {self.recipe.label}: converting the model", file=sys.stderr, flush=True)
        started = time.perf_counter()
        with isolated(runtime_threads(request.thread_num)), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # recorded, not shown: exporters' tracer and deprecation chatter
            with budget.deadline(allowed.seconds), dependence.watched() as reads:
                runner = self.recipe.build(request)
                dependence.refuse_if_read(reads, self.recipe.precision)
                produced = first_run(self.recipe, runner, request)
        return Obtained(runner, produced, time.perf_counter() - started, uncertain=tracer_doubts(caught))

    def _say_unreadable(self, error: BaseException) -> None:
        debug(error)
        if not self.said_unreadable:
            self.said_unreadable = True
            warn(
                f"coder: {self.recipe.label}: its cache entry is unreadable ({error_text(error)}): "
                f"converting the model again",
                stacklevel=7,
            )

    def remember(self, slot: Slot | None, reason: str, kind: str = "error") -> None:
        """Store in the cache that this runtime is not to be used here, and why (``kind``: a
        wrapper.Fallback kind; "slower", the never-slower rule, holds only while the rule is on).
        A runtime built here fails for this model: its entry becomes the failure. A runtime
        loaded from an earlier run's entry passed that run's check on its model: the failure is
        noted in that write only (``Entry.reject``), so that model still finds its runtime."""
        if slot is None:
            return
        about = {**slot.about, "failure": kind}
        with contextlib.suppress(cache.LockTimeout, OSError), slot.entry.locked():
            if slot.loaded:
                _write(slot.entry.reject, slot.written, about, reason)
            else:
                _write(slot.entry.remember_failure, about, reason, slot.written)

    def note(self, slot: Slot | None, **fields) -> None:
        """Add ``fields`` (a speed comparison, ...) to the entry's meta.json."""
        if slot is not None:
            with contextlib.suppress(cache.LockTimeout, OSError), slot.entry.locked():
                _write(slot.entry.update, **fields)


def _write(action, *args, **kwargs) -> None:
    """A cache write that fails (a full disk, a cache folder removed) must not end the script;
    a full or read-only disk turns the cache off for the rest of the run."""
    try:
        action(*args, **kwargs)
    except (OSError, ValueError, cache.CorruptEntry) as error:
        debug(error)
        if private.disk_fault(error) and isinstance(getattr(action, "__self__", None), cache.Entry):
            cache.stop(action.__self__.cache, error)


def first_run(recipe: Recipe, runner: Runner, request: BuildRequest) -> list:
    """The runtime's outputs on its sample, after the warm-up runs it asks for (``warm_runs``)."""
    threads = request.thread_num if recipe.torch_threads else None
    with torch.no_grad(), torch_threads(threads):
        for _ in range(getattr(runner, "warm_runs", 1) - 1):
            runner(request.sample)
        return runner(request.sample)


def calibration_summary(batches: list[list[torch.Tensor]]) -> dict:
    return {"calls": len(batches), "samples": sample_count(batches)}


def reason_for(error: BaseException, allowed: budget.Budget) -> str:
    if isinstance(error, budget.ConversionStopped):
        return allowed.stopped_reason()
    if isinstance(error, dependence.ReadsInputValues):
        return str(error)
    return error_text(error)
