"""Dynamic INT8 (``quantize(precision="int8", approach="dynamic")``): the weights of every Linear
and LSTM layer become INT8 once; activations are quantized on every call from their own range,
so nothing is calibrated. The model stays an eager module: any input shape, ``.generate()``.

Both stacks use ``torch.ao.quantization.quantize_dynamic`` (fbgemm kernels). It is deprecated in
favour of torchao, but still works in torch 2.14, and torchao's
``Int8DynamicActivationInt8WeightConfig`` in eager mode was slower than fp32 on BERT-base here
(docs/BENCHMARKS.md), and does not quantize LSTM. fbgemm's dynamic Linear quantizes activations
with ``reduce_range`` (7 bits), so CPUs without VNNI, whose ``vpmaddubsw`` saturates on full-range
u8·s8 products, give the same results as with VNNI.

``safer=True`` (a re-tune under ``--max-drop``) leaves the first and last quantizable layers in
fp32: the embedding projection and the classifier head are the layers most sensitive to INT8.
"""

from __future__ import annotations

import copy
import warnings

import torch

from coder.backend.flat import NotConvertible
from coder.backend.int8 import StructuredRunner
from coder.backend.recipe import BuildRequest

LAYERS = (torch.nn.Linear, torch.nn.LSTM)


def quantizable(model: torch.nn.Module) -> list[str]:
    """The names of the layers dynamic INT8 converts, in module order."""
    return [name for name, module in model.named_modules() if type(module) in LAYERS]


def build(request: BuildRequest, safer: bool = False) -> StructuredRunner:
    return StructuredRunner(quantized(request.model, safer), request.call)


def build_safer(request: BuildRequest) -> StructuredRunner:
    return build(request, safer=True)


def quantized(model: torch.nn.Module, safer: bool = False) -> torch.nn.Module:
    names = quantizable(model)
    if not names:
        raise NotConvertible("the model has no Linear or LSTM layer for dynamic INT8")
    if safer:
        names = names[1:-1]
        if not names:
            raise NotConvertible("only the first and last layers are quantizable: nothing left for dynamic INT8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice: not the user's call
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), set(names), dtype=torch.qint8)
