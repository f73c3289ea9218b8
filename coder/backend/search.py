"""``optimize``: run every transform that can run here on the user's data; print the table.

Its rows are the Result and Status of `-o auto` (``coder.auto.result``), printed by the same
renderer (``coder.auto.report.table``).
"""

from __future__ import annotations

import statistics
import time
import warnings

import torch
import torch.utils._pytree as pytree

from coder import transforms
from coder.auto.result import FALLBACK_STATUS, ORIGINAL, Result, Status, finish
from coder.backend.accelerate import accelerate
from coder.backend.calibration import as_items, calls_from
from coder.backend.messages import error_text
from coder.backend.parity import TOLERANCE, worst_error
from coder.backend.recording import quartiles, spread
from coder.backend.wrapper import VERIFY_CALLS


def timings_ms(model, call, repeats: int) -> list[float]:
    args, kwargs = call
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            model(*args, **kwargs)
            times.append((time.perf_counter() - start) * 1000)
    return times


def timed_result(name: str, model, original, call, repeats: int, tolerance: float) -> Result:
    times = timings_ms(model, call, repeats)
    return Result(
        name,
        Status.SUCCESSFUL,
        latency_ms=statistics.median(times),
        spread_ms=spread(times),
        quartiles_ms=quartiles(times),
        max_rel_err=drift(model, original, call),
        tolerance=tolerance,
        timed_calls=repeats,
        optimized=model,
    )


def try_entry(entry, model, calib_data, calls, thread_num, repeats: int) -> Result:
    missing = entry.missing()
    if missing:
        return Result(entry.name, Status.LACK_DEPENDENCY, missing[0])
    extra = {"calib_data": calib_data} if entry.is_int8 else {}
    began = time.perf_counter()
    try:
        accelerated = accelerate(entry.method, model, **entry.kwargs, thread_num=thread_num, **extra)
        with torch.no_grad():
            for args, kwargs in (calls * (VERIFY_CALLS + 1))[: VERIFY_CALLS + 1]:
                accelerated(*args, **kwargs)
    except Exception as error:  # one broken runtime must not end the search
        return Result(entry.name, Status.FAIL_TO_FORWARD, error_text(error))
    first_call_s = time.perf_counter() - began
    fallback = getattr(accelerated, "fallback", None)
    if fallback:
        return Result(
            entry.name,
            FALLBACK_STATUS[fallback.kind],
            fallback.module or fallback.reason,
            first_call_s=first_call_s,
            fell_back=True,
        )
    result = timed_result(entry.name, accelerated, model, calls[0], repeats, TOLERANCE[entry.options.precision])
    result.first_call_s = first_call_s
    if result.max_rel_err > result.tolerance:
        result.status, result.reason = Status.DRIFT_TOO_LARGE, f"max rel err {result.max_rel_err:.2g}"
    return result


def drift(accelerated, original, call) -> float:
    args, kwargs = call
    with torch.no_grad():
        return worst_error(
            pytree.tree_leaves(accelerated(*args, **kwargs)), pytree.tree_leaves(original(*args, **kwargs))
        )


def optimize(
    model, calib_data, thread_num=None, latency_sample_num=20, includes=None, excludes=(), quiet=False
) -> list[Result]:
    """Every catalog transform (or those in ``includes``), plus the original as a baseline."""
    calls = calls_from(calib_data)
    calib_data = as_items(calls)  # a generator would be used up by the first INT8 entry
    baseline = timed_result(ORIGINAL, model, model, calls[0], latency_sample_num, TOLERANCE["fp32"])
    entries = [e for e in transforms.CATALOG if (includes is None or e.name in includes) and e.name not in excludes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fallbacks are reported in the table instead
        results = finish(
            [baseline] + [try_entry(e, model, calib_data, calls, thread_num, latency_sample_num) for e in entries]
        )
    if not quiet:
        from coder import console
        from coder.auto.report import table

        console.stdout().print(table(results, verbose=True, width=console.stdout().width))
    return results


def best_model(results: list[Result], accelerator=None, precision=None, use_ipex=None, accuracy_criterion=None):
    """The fastest successful result matching the filters (``accuracy_criterion``: max drift)."""
    if not results:
        raise RuntimeError("call optimize() before get_best_model()")
    wanted = {"accelerator": accelerator, "precision": precision, "use_ipex": use_ipex}

    def fits(r: Result) -> bool:
        options = transforms.get(r.method).kwargs if r.method != ORIGINAL else {}
        matches = all(value is None or options.get(key) == value for key, value in wanted.items())
        return (
            r.status == Status.SUCCESSFUL
            and matches
            and (accuracy_criterion is None or r.max_rel_err <= accuracy_criterion)
        )

    candidates = [r for r in results if fits(r)] or [r for r in results if r.method == ORIGINAL]
    chosen = min(candidates, key=lambda r: r.latency_ms)
    return chosen.optimized, chosen.method
