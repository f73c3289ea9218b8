"""From the public arguments (accelerator, precision, use_ipex, channels_last) to a Recipe."""

from __future__ import annotations

from functools import partial

from coder.backend import int8, onnxruntime, openvino
from coder.backend.ipex import ipex_optimize
from coder.backend.jit import JitRunner
from coder.backend.precision import EagerRunner, channels_last_model
from coder.backend.recipe import BuildRequest, Recipe

ACCELERATORS = (None, "jit", "onnxruntime", "openvino")
IPEX = ("intel_extension_for_pytorch",)
ORT = ("onnx", "onnxruntime")


def _build_torch(request: BuildRequest, *, jit: bool, use_ipex: bool, bf16: bool, channels_last: bool):
    module = request.model
    if channels_last:
        module = channels_last_model(module)
    if use_ipex:
        module = ipex_optimize(module, bf16)
    return (JitRunner if jit else EagerRunner)(module, request, bf16)


def torch_recipe(jit: bool, use_ipex: bool, bf16: bool, channels_last: bool) -> Recipe:
    flags = [("jit", jit), ("bf16" if bf16 else "fp32", True), ("ipex", use_ipex), ("channels_last", channels_last)]
    return Recipe(
        label="+".join(name for name, on in flags if on),
        precision="bf16" if bf16 else "fp32",
        build=partial(_build_torch, jit=jit, use_ipex=use_ipex, bf16=bf16, channels_last=channels_last),
        shapes="exact" if jit else "any",
        requires=IPEX if use_ipex else (),
        channels_last=channels_last,
    )


def trace_recipe(accelerator, use_ipex: bool, channels_last: bool) -> Recipe | None:
    """None for a plain ``trace(model)``: nothing to do, the model is returned as it is."""
    _check_accelerator(accelerator, use_ipex)
    if accelerator == "onnxruntime":
        return Recipe("onnxruntime+fp32", "fp32", onnxruntime.build_fp32, "batch", ORT, torch_threads=False)
    if accelerator == "openvino":
        return Recipe("openvino+fp32", "fp32", openvino.build_fp32, "batch", ("openvino",), torch_threads=False)
    if accelerator is None and not (use_ipex or channels_last):
        return None
    return torch_recipe(accelerator == "jit", use_ipex, False, channels_last)


def quantize_recipe(precision: str, accelerator, use_ipex: bool, channels_last: bool) -> Recipe:
    _check_accelerator(accelerator, use_ipex)
    if precision == "bf16":
        if accelerator in ("onnxruntime", "openvino"):
            raise ValueError(f"precision='bf16' is available with accelerator None or 'jit', not {accelerator!r}")
        return torch_recipe(accelerator == "jit", use_ipex, True, channels_last)
    if precision != "int8":
        raise ValueError(f"precision must be 'int8' or 'bf16', not {precision!r}")
    if accelerator == "onnxruntime":
        return Recipe("onnxruntime+int8", "int8", onnxruntime.build_int8, "batch", ORT, torch_threads=False)
    if accelerator == "openvino":
        return Recipe("openvino+int8(NNCF)", "int8", openvino.build_int8, "batch", ("openvino", "nncf"),
                      torch_threads=False)
    return Recipe("int8(Neural Compressor)", "int8", int8.build_inc, "exact", ("neural_compressor",))


def _check_accelerator(accelerator, use_ipex: bool) -> None:
    if accelerator not in ACCELERATORS:
        raise ValueError(f"accelerator must be one of {ACCELERATORS}, not {accelerator!r}")
    if use_ipex and accelerator in ("onnxruntime", "openvino"):
        raise ValueError(f"use_ipex=True cannot be combined with accelerator={accelerator!r}")
