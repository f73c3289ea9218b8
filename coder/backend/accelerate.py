"""``accelerate(method, model, **options)``: what ``trace`` and ``quantize`` do, in one place that
the optimizer, ``load`` and ``optimize`` all call.

It turns the public arguments into a Recipe (the runtimes table), asks the CPU verdict, and
returns an AcceleratedModel that builds lazily, or the model itself when there is nothing to do.
"""

from __future__ import annotations

import warnings
from itertools import islice

import torch

from coder.backend import recording
from coder.backend.calibration import MAX_CALIB_BATCHES, as_call, calls_from, flat_batches, targets_from
from coder.backend.cpu import this_cpu
from coder.backend.libraries import MissingLibrary, missing
from coder.backend.messages import not_used, warn
from coder.backend.recipe import Recipe
from coder.backend.runtimes import Options
from coder.backend.wrapper import AcceleratedModel

METHODS = ("trace", "quantize")
TRAINING_BEHAVIOUR = (torch.nn.modules.dropout._DropoutNd, torch.nn.modules.batchnorm._BatchNorm)


def accelerate(method: str, model, **options):
    """``trace`` or ``quantize`` by name (what ``load`` replays and ``optimize`` tries)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    return (trace if method == "trace" else quantize)(model, **options)


def trace(
    model,
    accelerator=None,
    use_ipex=False,
    channels_last=False,
    input_sample=None,
    thread_num=None,
    never_slower=None,
    **_nano_only,
):
    options = Options(accelerator, "fp32", use_ipex, channels_last)
    if accelerator is None and not (use_ipex or channels_last):
        return recording.wrap(model, model)  # trace(model) alone: nothing to do
    accelerated = _accelerated(model, "trace", options, thread_num=thread_num, never_slower=never_slower)
    if input_sample is not None:
        _build_now(accelerated, input_sample)
    return recording.wrap(accelerated, model)


def quantize(
    model,
    precision="int8",
    accelerator=None,
    use_ipex=False,
    channels_last=False,
    calib_data=None,
    metric=None,
    accuracy_criterion=None,
    approach="static",
    max_trials=None,
    timeout=None,
    input_sample=None,
    thread_num=None,
    calib_calls=None,
    never_slower=None,
    fp32_layers=None,
    **_nano_only,
):
    options = Options(accelerator, precision, use_ipex, channels_last, approach)
    items = list(islice(iter(calib_data), MAX_CALIB_BATCHES)) if calib_data is not None else []
    calls = calls_from(items)  # read once: calib_data may be a one-shot generator
    calibration = (flat_batches(calls) or None) if approach == "static" else None  # dynamic: not needed
    if input_sample is None and calls and precision == "int8":
        input_sample = calls[0]
    calib_calls = calib_calls or (len(calibration) if calibration else None)
    tuning = _tuning(metric, accuracy_criterion, items, max_trials, timeout, precision, options, fp32_layers)
    accelerated = _accelerated(
        model,
        "quantize",
        options,
        thread_num=thread_num,
        never_slower=never_slower,
        calibration=calibration,
        calib_calls=calib_calls,
        tuning=tuning,
    )
    if input_sample is not None:
        _build_tuned(accelerated, input_sample, tuning) if tuning else _build_now(accelerated, input_sample)
    if tuning is not None and tuning.chosen is not None and isinstance(accelerated, AcceleratedModel):
        accelerated.how[1]["fp32_layers"] = list(tuning.chosen)  # what save/load replays
    if metric is not None and tuning is None and isinstance(accelerated, AcceleratedModel):
        from coder.backend.metric import check_metric

        check_metric(accelerated, model, items, metric, accuracy_criterion)
    return recording.wrap(accelerated, model)


def _tuning(metric, accuracy_criterion, items, max_trials, timeout, precision, options, fp32_layers=None):
    """The accuracy-controlled search an INT8 call with a metric asks for; with ``fp32_layers``
    (what a search chose, replayed by ``load``), that config without searching; else None."""
    from coder.backend import tuning

    criterion = tuning.Criterion.of(accuracy_criterion) if metric is not None else None
    if not options.needs_calibration:  # BF16, dynamic INT8: one config, the metric gate checks it
        return None
    if metric is None:
        return tuning.Tuning.fixed(fp32_layers) if fp32_layers is not None else None
    labelled = [item for item in items if isinstance(item, (tuple, list)) and len(item) > 1]
    if not labelled:
        raise ValueError("metric needs calib_data yielding (x, y) pairs: the metric compares the outputs with y")
    return tuning.Tuning(
        metric,
        criterion,
        calls_from(labelled),
        targets_from(labelled),
        max_trials,
        timeout,
        label_of("quantize", options),
    )


def _build_tuned(accelerated, input_sample, tuning) -> None:
    """Build now, searching; AccuracyNotMet is raised here unless in a patched run (then the
    model has fallen back, with its one-line warning)."""
    from coder.backend import tuning as tuning_module

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _build_now(accelerated, input_sample)
    if tuning.failure is not None and tuning_module.RAISE_ON_MISS:
        raise tuning.failure
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def label_of(method: str, options: Options) -> str:
    """The catalog's name for this call (messages say what the user asked for), else a description."""
    from coder import transforms

    named = transforms.name_for(method, options)
    if named:
        return named
    parts = [
        options.accelerator or "eager",
        options.precision,
        "dynamic" if options.approach == "dynamic" else "",
        "ipex" if options.use_ipex else "",
        "channels_last" if options.channels_last else "",
    ]
    return "+".join(part for part in parts if part)


def _accelerated(model, method: str, options: Options, **settings):
    """An AcceleratedModel for ``options``, already fallen back when it cannot run here."""
    recipe = Recipe.of(label_of(method, options), options)
    if not isinstance(model, torch.nn.Module):
        warn(not_used(recipe.label, f"a {type(model).__name__} is not a torch.nn.Module"), stacklevel=4)
        return model
    _to_eval_mode(model, recipe.label)
    accelerated = AcceleratedModel(model, recipe, **settings)
    accelerated.how = (
        method,
        {
            "accelerator": options.accelerator,
            "use_ipex": options.use_ipex,
            "channels_last": options.channels_last,
            **({"precision": options.precision} if method == "quantize" else {}),
            **({"approach": options.approach} if options.approach != "static" else {}),
        },
    )
    verdict = recipe.verdict(this_cpu())
    absent = missing(recipe.requires)
    if verdict.kind == "unsupported":
        accelerated.fall_back(verdict.reason, on_this_cpu=True)
    elif absent:
        accelerated.fall_back(str(MissingLibrary(absent[0])), error=MissingLibrary(absent[0]))
    return accelerated


def _to_eval_mode(model: torch.nn.Module, label: str) -> None:
    """Inference runs in eval mode; a model left in training mode behaves differently there
    (dropout off, batch norm on running statistics), so the user hears of it once."""
    if model.training and any(isinstance(module, TRAINING_BEHAVIOUR) for module in model.modules()):
        warn(
            f"coder: {label}: the model was in training mode (dropout or batch norm active); "
            f"coder runs it in eval mode, so outputs differ from the script's "
            f"(call model.eval() in the script to compare)",
            stacklevel=5,
        )
    model.eval()


def _build_now(accelerated, input_sample) -> None:
    if isinstance(accelerated, AcceleratedModel) and accelerated.fallback_reason is None:
        accelerated.build_now(*_sample_call(input_sample))


def _sample_call(input_sample) -> tuple[tuple, dict]:
    if isinstance(input_sample, tuple) and len(input_sample) == 2 and isinstance(input_sample[1], dict):
        return input_sample  # already (args, kwargs), as calls_from gives
    if isinstance(input_sample, (tuple, list)):
        return tuple(input_sample), {}
    return as_call(input_sample)
