"""``optimize``: run every transform that can run here on the user's data; print the table."""

from __future__ import annotations

import statistics
import time
import warnings
from dataclasses import dataclass

import torch
import torch.utils._pytree as pytree

import transforms
from coder.backend.accelerate import accelerate
from coder.backend.calibration import as_items, calls_from
from coder.backend.messages import error_text
from coder.backend.parity import worst_error
from coder.backend.wrapper import VERIFY_CALLS


@dataclass
class Result:
    name: str
    options: dict
    status: str  # "ok", "fallback: ...", "failed: ...", "missing: ..."
    latency_ms: float | None = None
    drift: float | None = None  # worst relative error against the original model
    model: object = None


def latency_ms(model, call, repeats: int) -> float:
    args, kwargs = call
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            model(*args, **kwargs)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def try_entry(entry, model, calib_data, calls, thread_num, repeats: int) -> Result:
    result = Result(entry.name, entry.kwargs, "ok")
    if entry.missing():
        result.status = f"missing: {entry.install_hint()}"
        return result
    extra = {"calib_data": calib_data} if entry.is_int8 else {}
    try:
        accelerated = accelerate(entry.method, model, **entry.kwargs, thread_num=thread_num, **extra)
        with torch.no_grad():
            for args, kwargs in (calls * (VERIFY_CALLS + 1))[:VERIFY_CALLS + 1]:
                accelerated(*args, **kwargs)
    except Exception as error:  # one broken runtime must not end the search
        result.status = f"failed: {error_text(error)}"
        return result
    if getattr(accelerated, "fallback_reason", None):
        result.status = f"fallback: {accelerated.fallback_reason}"
        return result
    result.model, result.latency_ms = accelerated, latency_ms(accelerated, calls[0], repeats)
    result.drift = drift(accelerated, model, calls[0])
    return result


def drift(accelerated, original, call) -> float:
    args, kwargs = call
    with torch.no_grad():
        return worst_error(pytree.tree_leaves(accelerated(*args, **kwargs)), pytree.tree_leaves(original(*args, **kwargs)))


def optimize(model, calib_data, thread_num=None, latency_sample_num=20, includes=None, excludes=(),
             quiet=False) -> list[Result]:
    """Every catalog transform (or those in ``includes``), plus the original as a baseline."""
    calls = calls_from(calib_data)
    calib_data = as_items(calls)  # a generator would be used up by the first INT8 entry
    baseline = Result("original", {}, "ok", latency_ms(model, calls[0], latency_sample_num), 0.0, model)
    entries = [e for e in transforms.CATALOG
               if (includes is None or e.name in includes) and e.name not in excludes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fallbacks are reported in the table instead
        results = [baseline] + [try_entry(e, model, calib_data, calls, thread_num, latency_sample_num)
                                for e in entries]
    if not quiet:
        print(format_table(results))
    return results


def format_table(results: list[Result]) -> str:
    base = results[0].latency_ms
    lines = [f"{'method':<34} {'status':<10} {'latency ms':>10} {'speedup':>8} {'drift':>9}"]
    for r in results:
        status = r.status if r.status == "ok" else r.status.split(":")[0]
        timing = f"{r.latency_ms:>10.2f} {base / r.latency_ms:>7.2f}x" if r.latency_ms else f"{'-':>10} {'-':>8}"
        drift_text = f"{r.drift:>9.2g}" if r.drift is not None else f"{'-':>9}"
        lines.append(f"{r.name:<34} {status:<10} {timing} {drift_text}")
    notes = [f"  {r.name}: {r.status}" for r in results if r.status != "ok"]
    return "\n".join(lines + notes)


def best_model(results: list[Result], accelerator=None, precision=None, use_ipex=None, accuracy_criterion=None):
    """The fastest working result matching the filters (``accuracy_criterion``: max drift)."""
    if not results:
        raise RuntimeError("call optimize() before get_best_model()")

    def fits(r: Result) -> bool:
        wanted = {"accelerator": accelerator, "precision": precision, "use_ipex": use_ipex}
        matches = all(value is None or r.options.get(key) == value for key, value in wanted.items())
        return r.status == "ok" and matches and (accuracy_criterion is None or r.drift <= accuracy_criterion)

    candidates = [r for r in results if fits(r)] or results[:1]
    best = min(candidates, key=lambda r: r.latency_ms)
    return best.model, best.name
