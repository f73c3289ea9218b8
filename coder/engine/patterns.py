"""What detection recognises in a script, one pattern each, with its examples next to it (Fixit style).

A pattern is a LibCST matcher over the script's metadata (qualified names resolve imports and
aliases). ``examples`` are snippets in which it must be found, ``counterexamples`` snippets in
which it must not; tests/engine/test_patterns.py runs them all. Adding a pattern, or teaching
one a new case, is one entry here with its examples.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.metadata import QualifiedNameProvider


@dataclass(frozen=True)
class Pattern:
    name: str
    matcher: m.BaseMatcherNode
    examples: tuple[str, ...]
    counterexamples: tuple[str, ...]

    def found(self, script: cst.MetadataDependent, node: cst.CSTNode) -> bool:
        return m.matches(node, self.matcher, metadata_resolver=script)


def qualified(test: Callable[[str], bool]) -> m.MatchMetadataIfTrue:
    """Matches a node one of whose fully qualified names passes ``test``."""
    return m.MatchMetadataIfTrue(QualifiedNameProvider, lambda names: any(test(q.name) for q in names))


def qualified_in(names: Collection[str]) -> m.MatchMetadataIfTrue:
    return qualified(names.__contains__)


def methods(*names: str) -> m.OneOf:
    return m.OneOf(*(m.Name(name) for name in names))


# --- what builds a model

TORCHVISION_NON_MODELS = {"get_weight", "get_model_weights", "list_models", "get_model_builder"}
PRETRAINED_MODEL_CLASS = re.compile(r"(Model|For[A-Z]\w*|LMHead\w*)$|^AutoModel")
NOT_MODEL_CLASS = re.compile(r"Tokenizer|Processor|Config|FeatureExtractor|Pipeline|Scheduler")
FACTORIES = {"torch.hub.load", "timm.create_model", "timm.models.create_model", "torch.nn.Sequential"}
# a torch.nn layer with weights is a model when a script runs it on its own; activations, pooling, losses are not
LAYER = re.compile(
    r"(Lazy)?(Linear|Bilinear|Conv(Transpose)?[123]d|Embedding(Bag)?|(RNN|LSTM|GRU)(Cell)?"
    r"|Transformer(Encoder|Decoder)?(Layer)?|MultiheadAttention)"
)


def is_model_factory(name: str) -> bool:
    """A torchvision builder, a known factory, a torch.nn layer with weights, or a transformers
    model class (or its loaders)."""
    parts = name.split(".")
    if parts[0] == "torchvision" and len(parts) >= 3 and parts[1] == "models":
        last = parts[-1]
        return last[:1].islower() and last not in TORCHVISION_NON_MODELS and not last.startswith("_")
    if name in FACTORIES or (parts[:2] == ["torch", "nn"] and LAYER.fullmatch(parts[-1])):
        return True
    if len(parts) >= 2 and parts[-1] == "load_from_checkpoint":  # a LightningModule's classmethod
        return True
    if len(parts) >= 2 and parts[-1] in ("from_pretrained", "from_config"):
        return _is_model_class(parts[-2])
    return parts[0] == "transformers" and len(parts) == 2 and _is_model_class(parts[1])


def _is_model_class(name: str) -> bool:
    return bool(PRETRAINED_MODEL_CLASS.search(name)) and not NOT_MODEL_CLASS.search(name)


MODEL_FACTORY = Pattern(
    "model-factory",
    m.Call(func=qualified(is_model_factory)),
    examples=(
        "import torchvision.models as m\nm.resnet18()",
        "from torchvision.models import resnet50 as r\nr(weights=None)",
        "import timm\ntimm.create_model('resnet18')",
        "import torch\ntorch.hub.load('repo', 'midas')",
        "from torch import nn\nnn.Sequential(nn.ReLU())",
        "from transformers import AutoModelForSequenceClassification as AMSC\nAMSC.from_pretrained('x')",
        "import transformers\ntransformers.BertModel(config)",
        "import torch\ntorch.nn.Linear(2, 2)",
        "from torch import nn\nnn.LSTM(8, 16)",
        "from lit import LitClassifier\nLitClassifier.load_from_checkpoint('last.ckpt')",
    ),
    counterexamples=(
        "import torchvision.models as m\nm.get_weight('x')",
        "from torchvision import models\nmodels.list_models()",
        "from transformers import AutoTokenizer\nAutoTokenizer.from_pretrained('x')",
        "from transformers import AutoConfig\nAutoConfig.from_pretrained('x')",
        "import transformers\ntransformers.BertConfig()",
        "resnet18()",  # not imported from a model library
        "import torch\ntorch.nn.ReLU()",
        "import torch.nn as nn\nnn.CrossEntropyLoss()",
    ),
)

CHECKPOINT_LOAD = Pattern(
    "checkpoint-load",  # a model only if it is called: usually a state dict
    m.Call(func=qualified_in({"torch.load"})),
    examples=("import torch\ntorch.load('m.pt')", "from torch import load\nload('m.pt')"),
    counterexamples=("import torch\ntorch.jit.load('m.pt')", "import pickle\npickle.load(f)"),
)

MODEL_NAMESPACE = qualified_in({"torchvision.models", "timm.models"})
MODEL_LOOKUP = Pattern(
    "model-lookup",
    m.Call(func=m.Subscript(value=m.Attribute(value=MODEL_NAMESPACE, attr=m.Name("__dict__"))))
    | m.Call(func=m.Call(func=m.Name("getattr"), args=[m.Arg(value=MODEL_NAMESPACE), m.ZeroOrMore()])),
    examples=(
        "import torchvision.models as models\nmodels.__dict__[arch]()",
        "from torchvision import models\ngetattr(models, arch)(weights=None)",
    ),
    counterexamples=("import torchvision.models as models\nmodels.__dict__[arch]", "getattr(config, arch)()"),
)

PIPELINE = Pattern(
    "pipeline",  # its torch module, ``.model``, is what gets optimized
    m.Call(func=qualified_in({"transformers.pipeline", "transformers.pipelines.pipeline"})),
    examples=(
        "from transformers import pipeline\npipeline('sentiment-analysis')",
        "import transformers\ntransformers.pipeline(task='fill-mask')",
    ),
    counterexamples=("from sklearn.pipeline import Pipeline\nPipeline(steps)", "pipeline('x')"),
)

# diffusion pipelines whose denoiser is ``.transformer``; the others' is ``.unet``
TRANSFORMER_DENOISER = re.compile(r"Flux|StableDiffusion3|PixArt|Sana|HunyuanDiT|Lumina|CogView|LTX|Wan")


def is_diffusion_pipeline(name: str) -> bool:
    parts = name.split(".")
    return (
        parts[0] == "diffusers"
        and len(parts) >= 3
        and "Pipeline" in parts[-2]
        and parts[-1] in ("from_pretrained", "from_single_file")
    )


def denoiser_of(name: str) -> str:
    """The attribute holding a diffusion pipeline's torch module that runs at every step."""
    return "transformer" if TRANSFORMER_DENOISER.search(name) else "unet"


DIFFUSION_PIPELINE = Pattern(
    "diffusion-pipeline",  # its denoiser, ``.unet`` (or ``.transformer``), is what gets optimized
    m.Call(func=qualified(is_diffusion_pipeline)),
    examples=(
        "from diffusers import StableDiffusionPipeline\nStableDiffusionPipeline.from_pretrained('x')",
        "import diffusers\ndiffusers.AutoPipelineForText2Image.from_pretrained('x')",
    ),
    counterexamples=(
        "from diffusers import UNet2DModel\nUNet2DModel.from_pretrained('x')",
        "from diffusers import DDIMScheduler\nDDIMScheduler.from_pretrained('x')",
    ),
)

GENERATIVE_TASKS = re.compile(r"generation|summarization|translation|text2text|conversational")


def _runs_generate(call: cst.Call) -> bool:
    """A pipeline whose task runs generate(); an unknown task counts as one."""
    task = next((a.value for a in call.args if a.keyword is None or a.keyword.value == "task"), None)
    if not isinstance(task, cst.SimpleString):
        return True
    return bool(GENERATIVE_TASKS.search(task.evaluated_value))


GENERATIVE_PIPELINE = Pattern(
    "generative-pipeline",
    PIPELINE.matcher & m.MatchIfTrue(_runs_generate),
    examples=(
        "from transformers import pipeline\npipeline('text-generation', model='gpt2')",
        "from transformers import pipeline\npipeline(task)",
    ),
    counterexamples=("from transformers import pipeline\npipeline('sentiment-analysis')",),
)

# library objects that hold a torch module and run it from their own methods: the module (its path
# on the object) is optimized in place, and the object's call and these methods are inference
ULTRALYTICS_MODELS = {"YOLO", "RTDETR", "SAM", "FastSAM", "NAS", "YOLOWorld", "YOLOE"}
HELD_MODULES = (  # (the builder's qualified name, the path of the module it holds, its inference methods)
    (
        re.compile(r"^ultralytics\.(models\.(\w+\.)*)?(" + "|".join(sorted(ULTRALYTICS_MODELS)) + r")$"),
        "model",
        ("predict", "track"),
    ),
    (re.compile(r"^whisper\.load_model$"), "encoder", ("transcribe", "decode", "detect_language", "embed_audio")),
    (re.compile(r"^sentence_transformers\.SentenceTransformer$"), "[0].auto_model", ("encode",)),
    (re.compile(r"^segment_anything\.(predictor\.)?SamPredictor$"), "model.image_encoder", ("set_image", "predict")),
    (re.compile(r"^mmdet\.apis\.init_detector$|^mmseg\.apis\.init_(model|segmentor)$"), "backbone", ()),
    (re.compile(r"^mmdet\.apis\.DetInferencer$"), "model.backbone", ()),
    (re.compile(r"^detectron2\.engine\.(defaults\.)?DefaultPredictor$"), "model.backbone", ()),
    # detectors take lists of images and give lists of dicts; their backbone takes and gives tensors
    (re.compile(r"^torchvision\.models\.detection\.([a-z_0-9]+\.)?[a-z]\w*$"), "backbone", ()),
)
# builders that return a tuple holding such an object: (its position, the module's path, its inference methods)
HELD_IN_TUPLE = {
    "clip.load": (0, "visual", ("encode_image",)),
    "open_clip.create_model_and_transforms": (0, "visual", ("encode_image",)),
}
# methods of a model that run one of its modules: that module is optimized (HF CLIP, SigLIP)
MODULE_OF_METHOD = {"get_image_features": "vision_model", "get_text_features": "text_model"}
# library functions that run the model given as their first argument
LIBRARY_RUNNERS = {"mmdet.apis.inference_detector", "mmseg.apis.inference_model", "mmseg.apis.inference_segmentor"}


# what a library object that holds a torch module is run with, besides its call
LIBRARY_METHODS = (
    "predict",
    "encode",
    "transcribe",
    "track",
    "infer",
    "inference",
    "detect",
    "segment",
    "embed",
    "classify",
    "run_on_image",
)


def held_module(name: str) -> tuple[str, tuple[str, ...]] | None:
    """(the path of the torch module, the inference methods) of a library object ``name`` builds."""
    return next(((path, runs) for pattern, path, runs in HELD_MODULES if pattern.search(name)), None)


def held_target(var: str, path: str) -> str:
    """``model.model``, ``model[0].auto_model``: how the script names the module ``var`` holds."""
    return f"{var}{path}" if path.startswith("[") else f"{var}.{path}"


LIBRARY_RUNNER = Pattern(
    "library-runner",  # ``inference_detector(model, image)``: the library runs the model
    m.Call(func=qualified_in(LIBRARY_RUNNERS), args=[m.Arg(keyword=None), m.ZeroOrMore()]),
    examples=("from mmdet.apis import inference_detector\ninference_detector(model, 'demo.jpg')",),
    counterexamples=("inference_detector(model, 'demo.jpg')",),
)

LIBRARY_OBJECT = Pattern(
    "library-object",  # the torch module it holds is optimized, not the object
    m.Call(func=qualified(lambda name: held_module(name) is not None)),
    examples=(
        "from ultralytics import YOLO\nYOLO('yolov8n.pt')",
        "import whisper\nwhisper.load_model('base')",
        "from sentence_transformers import SentenceTransformer\nSentenceTransformer('all-MiniLM-L6-v2')",
        "from ultralytics import RTDETR\nRTDETR('rtdetr-l.pt')",
        "import torchvision\ntorchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None)",
        "from detectron2.engine import DefaultPredictor\nDefaultPredictor(cfg)",
    ),
    counterexamples=(
        "from ultralytics.utils import LOGGER\nLOGGER('x')",
        "YOLO('yolov8n.pt')",
        "from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights as W\nW.verify(w)",
        "import whisper\nwhisper.load_audio('a.mp3')",
    ),
)

HUB_AUTOSHAPE = Pattern(
    "hub-autoshape",  # YOLOv5 from torch.hub: an AutoShape wrapper (file names, PIL images in) around .model
    m.Call(
        func=qualified_in({"torch.hub.load"}),
        args=[
            m.ZeroOrMore(),
            m.Arg(value=m.SimpleString(m.MatchIfTrue(lambda text: "yolov5" in text.lower()))),
            m.ZeroOrMore(),
        ],
    ),
    examples=(
        "import torch\ntorch.hub.load('ultralytics/yolov5', 'yolov5s')",
        "import torch\ntorch.hub.load('.', 'custom', path='weights/yolov5s.pt', source='local')",
    ),
    counterexamples=("import torch\ntorch.hub.load('pytorch/vision', 'resnet18')",),
)

MODEL_BASES = {
    "torch.nn.Module",
    "torch.nn.modules.Module",
    "torch.nn.modules.module.Module",
    "torch.nn.Sequential",
    "torch.nn.ModuleList",
    "torch.nn.ModuleDict",
    "transformers.PreTrainedModel",
    "transformers.modeling_utils.PreTrainedModel",
    "pytorch_lightning.LightningModule",
    "lightning.LightningModule",
    "lightning.pytorch.LightningModule",
}


def is_model_base(name: str) -> bool:
    parts = name.split(".")
    return name in MODEL_BASES or (parts[:2] == ["torch", "nn"] and bool(LAYER.fullmatch(parts[-1])))


PLAIN_MODULE_BASES = {"torch.nn.Module", "torch.nn.modules.Module", "torch.nn.modules.module.Module"}
PLAIN_VALUES = {"list", "tuple", "dict", "set", "str", "int", "float", "bool", "len", "sorted", "frozenset"}
HOLDS_WEIGHTS = m.Call(
    func=m.Attribute(attr=methods("register_buffer", "register_parameter", "add_module", "register_module"))
    | m.Attribute(attr=m.Name("Parameter"))
    | m.Name("Parameter")
)
SELF_ATTRIBUTE = m.Attribute(value=m.Name("self"))
# ``self.x = <a call>``: a layer, a buffer, anything coder cannot tell from weights
BUILT_ON_SELF = m.Assign(
    targets=[m.ZeroOrMore(), m.AssignTarget(target=SELF_ATTRIBUTE), m.ZeroOrMore()],
    value=m.MatchIfTrue(
        lambda value: any(
            not m.matches(call.func, m.Name(m.MatchIfTrue(PLAIN_VALUES.__contains__)))
            for call in m.findall(value, m.Call())
        )
    ),
)


def _weightless(node: cst.ClassDef) -> bool:
    """No layer, parameter or buffer is ever set on ``self``: a decoder of strings, a post-processing step."""
    return not m.findall(node, HOLDS_WEIGHTS | BUILT_ON_SELF | m.AugAssign(target=SELF_ATTRIBUTE))


WEIGHTLESS_MODULE = Pattern(
    "weightless-module",  # a plain nn.Module with no parameters and no buffers: not worth optimizing
    m.ClassDef(bases=[m.AtLeastN(m.Arg(value=qualified_in(PLAIN_MODULE_BASES)), n=1)]) & m.MatchIfTrue(_weightless),
    examples=(
        "import torch.nn as nn\nclass Decoder(nn.Module):\n    def __init__(self, labels):\n"
        "        super().__init__()\n        self.labels = list(labels)\n"
        "    def forward(self, x):\n        return ''.join(self.labels[i] for i in x)",
        "from torch import nn\nclass Identity(nn.Module):\n    def forward(self, x):\n        return x",
    ),
    counterexamples=(
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.fc = nn.Linear(2, 2)",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.register_buffer('mean', mean)",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, cfg):\n"
        "        super().__init__()\n        self.body = build_body(cfg)",
        "import torch.nn as nn\nclass Head(Base, nn.Module):\n    pass",
    ),
)


MODEL_CLASS = Pattern(
    "model-class",  # also when it derives from another model class of the file (detect follows those)
    m.ClassDef(bases=[m.ZeroOrMore(), m.Arg(value=qualified(is_model_base)), m.ZeroOrMore()])
    | m.ClassDef(
        bases=[m.AtLeastN(n=1)],  # a plain class with a forward() method is no module
        body=m.IndentedBlock(body=[m.ZeroOrMore(), m.FunctionDef(name=m.Name("forward")), m.ZeroOrMore()]),
    ),
    examples=(
        "import torch.nn as nn\nclass Net(nn.Module):\n    pass",
        "import torch.nn as nn\nclass Ensemble(nn.ModuleList):\n    pass",
        "import lightning as L\nclass Classifier(L.LightningModule):\n    pass",
        "from transformers import PreTrainedModel\nclass M(PreTrainedModel):\n    pass",
        "from mylib import Layer\nclass Block(Layer):\n    def forward(self, x):\n        return x",
    ),
    counterexamples=(
        "import torch\nclass Data(torch.utils.data.Dataset):\n    def __getitem__(self, i):\n        return i",
        "class Runner:\n    def forward(self, x):\n        return self.model(x)",
    ),
)

# --- what is not a model however it is used: a candidate built by one of these is never taken

NON_MODEL_KINDS = (  # (what it is, a pattern over the qualified name), first match wins
    ("a tokenizer", re.compile(r"^(transformers\.(\w+\.)*\w*Tokenizer\w*|tokenizers\.|sentencepiece\.)")),
    ("a processor", re.compile(r"^transformers\.(\w+\.)*\w*(Processor|FeatureExtractor)\b")),
    ("a configuration", re.compile(r"^transformers\.(\w+\.)*\w*Config\b")),
    ("a streamer", re.compile(r"^transformers\.(\w+\.)*\w*Streamer\b")),
    ("a learning-rate scheduler", re.compile(r"^torch\.optim\.lr_scheduler\.|^transformers\.get_\w*schedule")),
    ("an optimizer", re.compile(r"^torch\.optim\.|^transformers\.(AdamW|Adafactor)\b")),
    ("a dataset or data loader", re.compile(r"^(torch\.utils\.data|torchvision\.datasets|datasets)\.")),
    ("a transform", re.compile(r"^torchvision\.transforms\.")),
    ("a loss", re.compile(r"^torch\.nn\.(modules\.loss\.)?\w*Loss$")),
    ("a metric", re.compile(r"^(torchmetrics|evaluate)\.")),
    (
        "a layer without weights",
        re.compile(
            r"^torch\.nn\.(ReLU|GELU|SiLU|Sigmoid|Tanh|Softmax|LogSoftmax|Dropout|"
            r"Flatten|Identity|\w*Pool[123]d|Upsample)\w*$"
        ),
    ),
)


def non_model_kind(name: str) -> str | None:
    """What a builder of a known library that never gives a model builds ("a tokenizer"), else None."""
    return next((what for what, pattern in NON_MODEL_KINDS if pattern.search(name)), None)


NOT_A_MODEL = Pattern(
    "not-a-model",
    m.Call(func=qualified(lambda name: non_model_kind(name) is not None)),
    examples=(
        "from transformers import AutoTokenizer\nAutoTokenizer.from_pretrained('x')",
        "from transformers import AutoImageProcessor as P\nP.from_pretrained('x')",
        "import torch\ntorch.optim.SGD(params, lr=0.1)",
        "from torch.optim.lr_scheduler import StepLR\nStepLR(opt, 1)",
        "import torch.nn as nn\nnn.CrossEntropyLoss()",
        "from torchvision import datasets\ndatasets.MNIST('data')",
        "import torchvision.transforms as T\nT.Compose([])",
    ),
    counterexamples=(
        "from transformers import AutoModel\nAutoModel.from_pretrained('x')",
        "import torch.nn as nn\nnn.Linear(2, 2)",
        "build_tokenizer('vocab.txt')",
    ),
)

# --- evidence left by how a candidate is used (evidence.py weighs it)

MODULE_METHOD = Pattern(
    "module-method",  # only a torch module has these
    m.Call(
        func=m.Attribute(
            attr=methods(
                "eval",
                "parameters",
                "named_parameters",
                "modules",
                "named_modules",
                "children",
                "load_state_dict",
                "forward",
            )
        )
    ),
    examples=("net.eval()", "net.load_state_dict(state)", "sum(p.numel() for p in net.parameters())"),
    counterexamples=("net.to(device)", "net(x)"),
)

DEVICE_METHOD = Pattern(
    "device-method",  # a module, or a tensor, or a tokenizer's output
    m.Call(func=m.Attribute(attr=methods("to", "cuda", "cpu", "half", "float", "bfloat16", "generate"))),
    examples=("net.to(device)", "net.cuda()", "net.generate(ids)"),
    counterexamples=("net.eval()", "to(net)"),
)

NOT_MODEL_METHOD = Pattern(
    "not-a-model-method",  # what tokenizers, optimizers and schedulers are used with
    m.Call(
        func=m.Attribute(
            attr=methods(
                "step",
                "decode",
                "batch_decode",
                "encode",
                "tokenize",
                "convert_ids_to_tokens",
                "convert_tokens_to_ids",
                "add_param_group",
                "get_last_lr",
                "apply_chat_template",
                "pad",
            )
        )
    ),
    examples=("optimizer.step()", "tokenizer.decode(ids)", "scheduler.get_last_lr()"),
    counterexamples=("model.eval()", "model.generate(ids)"),
)

NOT_MODEL_USE = Pattern(
    "not-a-model-use",  # the candidate is the argument of len() or of a DataLoader
    m.Call(
        func=m.Name("len") | qualified_in({"torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader"})
    ),
    examples=("len(dataset)", "from torch.utils.data import DataLoader\nDataLoader(dataset)"),
    counterexamples=("model(x)", "print(model)"),
)

TENSOR_MAKERS = {
    f"torch.{name}"
    for name in (
        "rand",
        "randn",
        "randint",
        "rand_like",
        "randn_like",
        "zeros",
        "ones",
        "full",
        "empty",
        "zeros_like",
        "ones_like",
        "tensor",
        "as_tensor",
        "from_numpy",
        "stack",
        "cat",
        "arange",
        "linspace",
    )
}
TENSOR_METHODS = (
    "to",
    "cuda",
    "cpu",
    "float",
    "half",
    "bfloat16",
    "unsqueeze",
    "squeeze",
    "permute",
    "view",
    "reshape",
    "contiguous",
    "flatten",
    "transpose",
)
TENSOR = Pattern(
    "tensor",  # an expression that gives a tensor (evidence that what it is passed to is a model)
    m.Call(func=qualified_in(TENSOR_MAKERS) | m.Attribute(attr=methods(*TENSOR_METHODS))),
    examples=("import torch\ntorch.rand(1, 3, 224, 224)", "image.unsqueeze(0)", "batch.to(device)"),
    counterexamples=("import torch\ntorch.load('x.pt')", "load_image(path)"),
)

# words of a variable's name that say it is a model, whatever else it says (``loss_net``, ``opt_model``)
MODEL_WORDS = {"model", "models", "net", "network", "backbone", "encoder", "decoder", "classifier", "detector"}
# words of a variable's name that say what a candidate is not (a ``tokenizer`` or ``val_loader``)
NOT_MODEL_WORDS = {
    "tokenizer",
    "tokeniser",
    "tok",
    "processor",
    "extractor",
    "config",
    "cfg",
    "optimizer",
    "optimiser",
    "optim",
    "opt",
    "scheduler",
    "sched",
    "dataset",
    "data",
    "loader",
    "criterion",
    "loss",
    "metric",
    "metrics",
    "transform",
    "transforms",
    "tfms",
    "preprocess",
    "preprocessor",
    "augment",
    "scaler",
    "writer",
    "logger",
    "streamer",
    "parser",
    "args",
    "device",
    "vocab",
    "collator",
    "sampler",
    "env",
    "processing",
}

# --- what a model is already optimized with: coder does not stack a second optimization

COMPILED_LOADERS = {"torch.jit.load": "torch.jit.load"}
COMPILED_MODEL_LOAD = Pattern(
    "compiled-model-load",
    m.Call(func=qualified_in(COMPILED_LOADERS)),
    examples=("import torch\ntorch.jit.load('m.pt')",),
    counterexamples=("import torch\ntorch.load('m.pt')",),
)

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
OPTIMIZING_CALL = Pattern(
    "optimizing-call",
    m.Call(func=qualified_in(OPTIMIZERS)),
    examples=(
        "import intel_extension_for_pytorch as ipex\nipex.optimize(model)",
        "import torch\ntorch.jit.trace(model, x)",
        "from torch import compile\ncompile(model)",
        "import torch.ao.quantization as q\nq.quantize_dynamic(model)",
    ),
    counterexamples=("import torch\ntorch.jit.load('m.pt')", "optimize(model)"),
)


# --- what writes a model somewhere: the script's product, never removed (existing.py)

WRITERS = {
    "torch.onnx.export",
    "torch.onnx.dynamo_export",
    "torch.save",
    "torch.jit.save",
    "torch.export.save",
    "openvino.save_model",
    "openvino.runtime.serialize",
    "intel_extension_for_pytorch.save",
}
WRITING_METHODS = ("save", "save_pretrained")
MODEL_WRITER = Pattern(
    "model-writer",  # its first argument (or the object whose method it is) is written to a file
    m.Call(func=qualified_in(WRITERS)) | m.Call(func=m.Attribute(attr=methods(*WRITING_METHODS))),
    examples=(
        "import torch\ntorch.onnx.export(model, x, 'm.onnx')",
        "import torch\ntorch.save(model, 'm.pt')",
        "from torch import jit\njit.save(traced, 'm.pt')",
        "model.save_pretrained('out')",
        "traced.save('m.pt')",
        "import openvino as ov\nov.save_model(ov_model, 'm.xml')",
    ),
    counterexamples=("import torch\ntorch.load('m.pt')", "save(model)", "import torch\ntorch.jit.trace(model, x)"),
)


def label_of(script, call: cst.Call, labels: dict[str, str]) -> str | None:
    """How a message names the optimizer or loader ``call`` resolves to (first qualified name in order)."""
    return next((labels[name] for name in script.qualified(call.func) if name in labels), None)


# --- how a model is used and prepared

INFERENCE_CONTEXTS = {
    "torch.no_grad",
    "torch.inference_mode",
    "torch.autograd.no_grad",
    "torch.autograd.grad_mode.no_grad",
    "torch.autograd.grad_mode.inference_mode",
    "torch.autocast",
    "torch.cpu.amp.autocast",
    "torch.amp.autocast",
}
INFERENCE_CONTEXT = Pattern(
    "inference-context",  # a `with` item or a decorator
    qualified_in(INFERENCE_CONTEXTS)  # the call, or the bare decorator
    | m.Call(func=qualified_in({"torch.set_grad_enabled"}), args=[m.Arg(value=m.Name("False")), m.ZeroOrMore()]),
    examples=(
        "import torch\nwith torch.no_grad():\n    pass",
        "from torch import inference_mode\n@inference_mode()\ndef f(): pass",
        "import torch\n@torch.no_grad\ndef f(): pass",
        "import torch\nwith torch.set_grad_enabled(False):\n    pass",
        "import torch\nwith torch.autocast('cpu'):\n    pass",
    ),
    counterexamples=(
        "import torch\nwith torch.set_grad_enabled(True):\n    pass",
        "with open('f'):\n    pass",
        "import torch\nwith torch.enable_grad():\n    pass",
    ),
)

LOADERS = {
    "torch.utils.data.DataLoader",
    "torch.utils.data.dataloader.DataLoader",
    "timm.data.create_loader",
    "timm.data.loader.create_loader",
}
DATA_LOADER = Pattern(
    "data-loader",
    m.Call(func=qualified_in(LOADERS)),
    examples=(
        "from torch.utils.data import DataLoader\nDataLoader(data)",
        "import timm.data\ntimm.data.create_loader(d, 224, 8)",
    ),
    counterexamples=("from torch.utils.data import Dataset\nDataset()", "DataLoader(data)"),
)

TRAINING_STEP = Pattern(
    "training-step",  # optimizer.step() takes no argument; env.step(action) is a rollout, not training
    m.Call(func=m.Attribute(attr=methods("backward", "zero_grad")))
    | m.Call(func=m.Attribute(attr=m.Name("step")), args=[]),
    examples=("loss.backward()", "optimizer.step()", "optimizer.zero_grad(set_to_none=True)"),
    counterexamples=("env.step(action)", "backward()", "model.eval()"),
)

TRAIN_MODE = Pattern(
    "train-mode",
    m.Call(func=m.Attribute(attr=m.Name("train")), args=[])
    | m.Call(func=m.Attribute(attr=m.Name("train")), args=[m.Arg(value=m.Name("True")), m.ZeroOrMore()]),
    examples=("model.train()", "model.train(True)"),
    counterexamples=("model.train(False)", "train(model)"),
)

FIT = Pattern(
    "fit",  # a trainer's fit(model, ...): the model is trained by the call
    m.Call(func=m.Attribute(attr=m.Name("fit")), args=[m.AtLeastN(n=1)]),
    examples=("trainer.fit(model, datamodule=dm)",),
    counterexamples=("trainer.fit()", "model.eval()"),
)

TRAINING_CALL = Pattern(
    "training-call",
    TRAINING_STEP.matcher | TRAIN_MODE.matcher | FIT.matcher,
    TRAINING_STEP.examples + TRAIN_MODE.examples + FIT.examples,
    ("model.eval()", "env.step(action)"),
)

INFERENCE_METHOD = Pattern(
    "inference-method",  # besides calling the model itself
    m.Call(func=m.Attribute(attr=methods("generate", "forward"))),
    examples=("model.generate(ids, max_new_tokens=5)", "model.forward(x)"),
    counterexamples=("model.eval()", "generate(model)"),
)

THREAD = Pattern(
    "thread",  # Thread(target=model.generate, kwargs=...): the model runs when the thread starts
    m.Call(
        func=qualified_in({"threading.Thread"}), args=[m.ZeroOrMore(), m.Arg(keyword=m.Name("target")), m.ZeroOrMore()]
    ),
    examples=(
        "from threading import Thread\nThread(target=model.generate, kwargs=kwargs)",
        "import threading\nthreading.Thread(target=worker)",
    ),
    counterexamples=("from threading import Thread\nThread()", "Thread(target=model.generate)"),
)

PREPARING_METHODS = (
    "eval",
    "to",
    "cpu",
    "cuda",
    "float",
    "double",
    "half",
    "bfloat16",
    "requires_grad_",
    "load_state_dict",
    "share_memory",
    "zero_grad",
    "apply",
    "fuse_model",
    "fuse",
    "freeze",
    "tie_weights",
    "resize_token_embeddings",
    "to_empty",
    "train",
)
PREPARING_CALL = Pattern(
    "preparing-call",  # the model is ready after it (detect checks that it is called on the model)
    m.Call(func=m.Attribute(attr=methods(*PREPARING_METHODS))),
    examples=(
        "model.eval()",
        "model.to(device).eval()",
        "model.load_state_dict(torch.load(path))",
        "model.freeze()",
        "model.requires_grad_(False)",
        "model.share_memory()",
        "model.fuse()",
    ),
    counterexamples=("model(x)", "model.generate(ids)"),
)

CHAINABLE_METHODS = ("eval", "to", "cpu", "cuda", "float", "half", "bfloat16", "requires_grad_", "fuse", "share_memory")
CHAINED_PREPARATION = Pattern(
    "chained-preparation",  # factory(...).eval().to(device) builds what factory(...) builds
    m.Call(func=m.Attribute(attr=methods(*CHAINABLE_METHODS))),
    examples=("import torchvision\ntorchvision.models.resnet18().eval()", "build().to(device)"),
    counterexamples=("build().generate()", "model.load_state_dict(state)"),
)

PATTERNS = (
    MODEL_FACTORY,
    CHECKPOINT_LOAD,
    MODEL_LOOKUP,
    PIPELINE,
    DIFFUSION_PIPELINE,
    GENERATIVE_PIPELINE,
    LIBRARY_OBJECT,
    LIBRARY_RUNNER,
    HUB_AUTOSHAPE,
    MODEL_CLASS,
    WEIGHTLESS_MODULE,
    NOT_A_MODEL,
    MODULE_METHOD,
    DEVICE_METHOD,
    NOT_MODEL_METHOD,
    NOT_MODEL_USE,
    TENSOR,
    COMPILED_MODEL_LOAD,
    OPTIMIZING_CALL,
    MODEL_WRITER,
    INFERENCE_CONTEXT,
    DATA_LOADER,
    TRAINING_STEP,
    TRAIN_MODE,
    FIT,
    TRAINING_CALL,
    INFERENCE_METHOD,
    THREAD,
    PREPARING_CALL,
    CHAINED_PREPARATION,
)
