"""``InferenceOptimizer``: the BigDL-Nano API, on today's runtimes (DESIGN.md section 3)."""

from __future__ import annotations

from coder.backend import accelerate
from coder.backend.context import inference_context


class InferenceOptimizer:
    """Static ``trace``/``quantize``/``get_context``/``save``/``load``/``to_multi_instance``;
    an instance runs ``optimize`` and remembers the results for ``get_best_model``."""

    def __init__(self) -> None:
        self.results = []

    @staticmethod
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
        """fp32 acceleration; ``trace(model)`` alone returns ``model`` itself. Other BigDL-Nano
        keywords (session options, jit_strict, ...) are accepted and ignored."""
        return accelerate.trace(
            model, accelerator, use_ipex, channels_last, input_sample, thread_num, never_slower, **_nano_only
        )

    @staticmethod
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
        """BF16, static INT8, or dynamic INT8 (``approach="dynamic"``: Linear/LSTM weights INT8,
        activations quantized on every call, no calibration). Static INT8 with a ``metric``
        (``metric(output, target) -> float``, or a torchmetrics-style object) and ``calib_data``
        of ``(x, y)`` items searches configs until the metric meets ``accuracy_criterion``
        (``{'relative'|'absolute': x, 'higher_is_better': bool}``, default relative 0.01), within
        ``max_trials`` and ``timeout`` seconds, printing the trial table on stderr; otherwise it
        raises ``coder.backend.tuning.AccuracyNotMet`` listing the trials (a patched script warns
        and serves the original instead). ``fp32_layers`` keeps those layers (module names; ONNX
        node names with onnxruntime) in fp32 without a search: what a search chose, and what
        ``load`` replays. Other BigDL-Nano keywords (``tuning_strategy``, ...) are accepted and
        ignored."""
        return accelerate.quantize(
            model,
            precision,
            accelerator,
            use_ipex,
            channels_last,
            calib_data,
            metric,
            accuracy_criterion,
            approach,
            max_trials,
            timeout,
            input_sample,
            thread_num,
            calib_calls,
            never_slower,
            fp32_layers,
            **_nano_only,
        )

    @staticmethod
    def get_context(*models):
        """``with InferenceOptimizer.get_context(model):`` no_grad + the models' thread count."""
        return inference_context(*models)

    @staticmethod
    def original(model):
        """The model as the script built it, under any acceleration of trace/quantize: what a
        patched script exports or saves (``torch.onnx.export(InferenceOptimizer.original(model), ...)``)."""
        from coder.backend.wrapper import AcceleratedModel

        while isinstance(model, AcceleratedModel):
            model = model.original
        return model

    @staticmethod
    def save(model, path) -> None:
        """The original model (pickled, and its state_dict), the call and its calibration in the
        folder ``path``; a compile model to an AOTInductor package when ``path`` ends in .pt2."""
        from coder.backend.persistence import save

        save(model, path)

    @staticmethod
    def load(path, model=None):
        """The saved model, accelerated again. ``load(path, model=m)`` loads the weights into
        ``m`` with ``weights_only=True`` (nothing unpickled). ``load(path)`` unpickles the saved
        model (``torch.load(weights_only=False)``, as does a .pt2 package's metadata), which can
        run any code: only load folders you made."""
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
