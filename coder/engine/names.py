"""What a fully qualified name means to coder: model factories, optimizers, inference contexts."""

from __future__ import annotations

import re

# torchvision.models helpers that return something other than a model
TORCHVISION_NON_MODELS = {"get_weight", "get_model_weights", "list_models", "get_model_builder"}
PRETRAINED_MODEL_CLASS = re.compile(r"(Model|For[A-Z]\w*|LMHead\w*)$|^AutoModel")
NOT_MODEL_CLASS = re.compile(r"Tokenizer|Processor|Config|FeatureExtractor|Pipeline|Scheduler")

MODEL_BASES = {
    "torch.nn.Module", "torch.nn.modules.Module", "torch.nn.modules.module.Module",
    "transformers.PreTrainedModel", "transformers.modeling_utils.PreTrainedModel",
}
PIPELINES = {"transformers.pipeline", "transformers.pipelines.pipeline"}
OTHER_FACTORIES = {"torch.hub.load", "torch.load", "timm.create_model", "timm.models.create_model",
                   "torch.nn.Sequential"}
# Factories whose models are already compiled: detected, but never optimized a second time.
COMPILED_FACTORIES = {"torch.jit.load": "torch.jit.load"}
LOADERS = {"torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader",
           "timm.data.create_loader", "timm.data.loader.create_loader"}

# Calls that already optimize a model: coder must not stack a second optimization on them.
OPTIMIZERS = {
    "intel_extension_for_pytorch.optimize": "ipex.optimize",
    "torch.jit.trace": "torch.jit.trace",
    "torch.jit.script": "torch.jit.script",
    "torch.jit.freeze": "torch.jit.freeze",
    "torch.jit.optimize_for_inference": "torch.jit.optimize_for_inference",
    "torch.compile": "torch.compile",
    "torch.quantization.quantize_dynamic": "quantize_dynamic",
    "torch.ao.quantization.quantize_dynamic": "quantize_dynamic",
    "torch.export.export": "torch.export",
    "torch.onnx.export": "torch.onnx.export",
    "intel_extension_for_pytorch.quantization.prepare": "ipex quantization",
    "torch.ao.quantization.prepare": "torch.ao.quantization.prepare",
    "torch.quantization.prepare": "torch.quantization.prepare",
    "torch.ao.quantization.quantize_fx.prepare_fx": "prepare_fx",
    "neural_compressor.quantization.fit": "Neural Compressor",
    "neural_compressor.torch.quantization.prepare": "Neural Compressor",
    "neural_compressor.torch.quantization.quantize": "Neural Compressor",
    "openvino.convert_model": "openvino.convert_model",
    "nncf.quantize": "nncf.quantize",
}
INFERENCE_CONTEXTS = {
    "torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
    "torch.autograd.grad_mode.no_grad", "torch.autograd.grad_mode.inference_mode",
    "torch.autocast", "torch.cpu.amp.autocast", "torch.amp.autocast",
}
# Methods that prepare a model for inference without using it: the model is ready after them.
PREPARING_METHODS = {"eval", "to", "cpu", "float", "double", "half", "bfloat16", "requires_grad_",
                     "load_state_dict", "share_memory", "zero_grad", "apply", "fuse_model", "tie_weights",
                     "resize_token_embeddings", "to_empty", "train"}
CHAINABLE_METHODS = {"eval", "to", "cpu", "float", "half", "bfloat16", "requires_grad_"}
INFERENCE_METHODS = {"generate", "forward"}
TRAINING_METHODS = {"backward", "step", "zero_grad"}
OPTIMIZER_CLASS = "InferenceOptimizer"


# Loaders that may return a model or anything else (a state dict): a model only if called.
UNCERTAIN_FACTORIES = {"torch.load"}


def is_uncertain(qualified: str) -> bool:
    return qualified in UNCERTAIN_FACTORIES


def is_model_factory(qualified: str) -> bool:
    parts = qualified.split(".")
    if parts[0] == "torchvision" and len(parts) >= 3 and parts[1] == "models":
        last = parts[-1]
        return last[:1].islower() and last not in TORCHVISION_NON_MODELS and not last.startswith("_")
    if qualified in OTHER_FACTORIES:
        return True
    return _is_pretrained_model(parts)


def _is_pretrained_model(parts: list[str]) -> bool:
    """``X.from_pretrained(...)``, ``X.from_config(...)``, and ``transformers.X(config)`` for a model class X."""
    if len(parts) >= 2 and parts[-1] in ("from_pretrained", "from_config"):
        return _is_model_class(parts[-2])
    return parts[0] == "transformers" and len(parts) == 2 and _is_model_class(parts[1])


def _is_model_class(name: str) -> bool:
    return bool(PRETRAINED_MODEL_CLASS.search(name)) and not NOT_MODEL_CLASS.search(name)


def is_pipeline(qualified: str) -> bool:
    return qualified in PIPELINES


def optimizer_label(qualified: str) -> str | None:
    return OPTIMIZERS.get(qualified)


def compiled_factory_label(qualified: str) -> str | None:
    return COMPILED_FACTORIES.get(qualified)


def is_inference_context(qualified: str) -> bool:
    return qualified in INFERENCE_CONTEXTS


def is_loader(qualified: str) -> bool:
    return qualified in LOADERS


def is_model_base(qualified: str) -> bool:
    return qualified in MODEL_BASES


def is_model_namespace(qualified: str) -> bool:
    """Modules whose attributes are model builders (``getattr(models, name)(...)``)."""
    return qualified in {"torchvision.models", "timm.models"}
