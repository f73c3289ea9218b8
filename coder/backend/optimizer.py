"""``InferenceOptimizer``: the BigDL-Nano API, on today's runtimes (DESIGN.md section 3)."""

from __future__ import annotations

import warnings
from itertools import islice

import torch

from coder.backend import recording
from coder.backend.availability import MissingLibrary, has
from coder.backend.calibration import MAX_CALIB_BATCHES, as_call, calls_from, flat_batches
from coder.backend.context import inference_context
from coder.backend.recipe import Recipe
from coder.backend.recipes import quantize_recipe, trace_recipe
from coder.backend.wrapper import AcceleratedModel


class InferenceOptimizer:
    """Static ``trace``/``quantize``/``get_context``/``save``/``load``/``to_multi_instance``;
    an instance runs ``optimize`` and remembers the results for ``get_best_model``."""

    def __init__(self) -> None:
        self.results = []

    @staticmethod
    def trace(model, accelerator=None, use_ipex=False, channels_last=False, input_sample=None,
              thread_num=None, **_nano_only):
        """fp32 acceleration; ``trace(model)`` alone returns ``model`` itself. Other BigDL-Nano
        keywords (session options, jit_strict, ...) are accepted and ignored."""
        recipe = trace_recipe(accelerator, use_ipex, channels_last)
        if recipe is None:
            return recording.wrap(model, model)
        options = {"accelerator": accelerator, "use_ipex": use_ipex, "channels_last": channels_last}
        return recording.wrap(_accelerate(model, recipe, input_sample, thread_num, ("trace", options)), model)

    @staticmethod
    def quantize(model, precision="int8", accelerator=None, use_ipex=False, channels_last=False,
                 calib_data=None, metric=None, accuracy_criterion=None, approach="static",
                 max_trials=None, timeout=None, input_sample=None, thread_num=None, calib_calls=None,
                 **_nano_only):
        """BF16 or static INT8. ``max_trials``/``timeout`` (and other BigDL-Nano keywords) are
        accepted so Nano code runs; coder builds one configuration per call and does not tune."""
        if approach != "static":
            raise ValueError(f"approach must be 'static' (post-training static quantization), not {approach!r}")
        recipe = quantize_recipe(precision, accelerator, use_ipex, channels_last)
        items = list(islice(iter(calib_data), MAX_CALIB_BATCHES)) if calib_data is not None else []
        calls = calls_from(items)  # read once: calib_data may be a one-shot generator
        calibration = flat_batches(calls) or None
        if input_sample is None and calls and precision == "int8":
            input_sample = calls[0]
        options = {"precision": precision, "accelerator": accelerator, "use_ipex": use_ipex,
                   "channels_last": channels_last}
        accelerated = _accelerate(model, recipe, input_sample, thread_num, ("quantize", options),
                                  calibration, calib_calls)
        if metric is not None and items and isinstance(accelerated, AcceleratedModel):
            from coder.backend.metric import check_metric

            check_metric(accelerated, model, items, metric, accuracy_criterion)
        return recording.wrap(accelerated, model)

    @staticmethod
    def get_context(*models):
        """``with InferenceOptimizer.get_context(model):`` no_grad + the models' thread count."""
        return inference_context(*models)

    @staticmethod
    def save(model, path) -> None:
        from coder.backend.persistence import save

        save(model, path)

    @staticmethod
    def load(path, model=None):
        from coder.backend.persistence import load

        return load(path, model)

    @staticmethod
    def to_multi_instance(model, num_processes=2, cores_per_process=None, cpu_for_each_process=None):
        from coder.backend.multi_instance import MultiInstanceModel

        return MultiInstanceModel(model, num_processes, cores_per_process, cpu_for_each_process)

    def optimize(self, model, calib_data, **options) -> list:
        """Try every transform that can run here; print and keep the table."""
        from coder.backend.search import optimize

        self.results = optimize(model, calib_data, **options)
        return self.results

    def get_best_model(self, **options):
        from coder.backend.search import best_model

        return best_model(self.results, **options)


def _accelerate(model, recipe: Recipe, input_sample, thread_num, how, calibration=None, calib_calls=None):
    """The wrapper for ``recipe``; ``how`` = (method, options) lets ``save`` replay the call."""
    if not isinstance(model, torch.nn.Module):
        warnings.warn(f"coder: {recipe.label} not used: a {type(model).__name__} is not a torch.nn.Module",
                      RuntimeWarning, stacklevel=3)
        return model
    model.eval()
    calib_calls = calib_calls or (len(calibration) if calibration else None)
    accelerated = AcceleratedModel(model, recipe, thread_num=thread_num, calibration=calibration,
                                   calib_calls=calib_calls)
    accelerated.how = how
    missing = [module for module in recipe.requires if not has(module)]
    if missing:
        accelerated.fall_back(str(MissingLibrary(missing[0])))
    elif input_sample is not None:
        accelerated.build_now(*_sample_call(input_sample))
    return accelerated


def _sample_call(input_sample) -> tuple[tuple, dict]:
    if isinstance(input_sample, tuple) and len(input_sample) == 2 and isinstance(input_sample[1], dict):
        return input_sample  # already (args, kwargs), as calls_from gives
    if isinstance(input_sample, (tuple, list)):
        return tuple(input_sample), {}
    return as_call(input_sample)
