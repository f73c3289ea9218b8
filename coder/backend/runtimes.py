"""One table entry per runtime: the libraries it needs, what it needs of the CPU, and its build
functions. The catalog (``--list``), the recipes and the accelerated model all read this table.

No torch import: build functions are named ``"module:function"`` and imported when a model is
built. A verdict says how a runtime runs a call's options on a CPU: ``native``; ``emulated`` (it
runs, but expect it to be slow, and why); ``unsupported`` (it cannot run here, and why).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from coder.backend.cpu import Cpu

VERDICTS = ("native", "emulated", "unsupported")  # from best to worst
ACCELERATORS = (None, "jit", "onnxruntime", "openvino", "compile")
PRECISIONS = ("fp32", "bf16", "int8")
APPROACHES = ("static", "dynamic")  # INT8: calibrated activation ranges, or ranges taken on every call


@dataclass(frozen=True)
class Verdict:
    kind: str
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in VERDICTS or (self.kind != "native") != bool(self.reason):
            raise ValueError(f"bad verdict: {self.kind} {self.reason!r}")


NATIVE = Verdict("native")


def worst(verdicts) -> Verdict:
    """The least favourable verdict; among equals, the first (the runtime listed first)."""
    return max(verdicts, key=lambda v: VERDICTS.index(v.kind), default=NATIVE)


@dataclass(frozen=True)
class Options:
    """The public arguments of ``trace``/``quantize`` that choose the runtime."""

    accelerator: str | None = None
    precision: str = "fp32"
    use_ipex: bool = False
    channels_last: bool = False
    approach: str = "static"

    def __post_init__(self) -> None:
        _check_approach(self)
        if self.accelerator not in ACCELERATORS:
            raise ValueError(f"accelerator must be one of {ACCELERATORS}, not {self.accelerator!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be 'int8' or 'bf16', not {self.precision!r}")
        graph = self.accelerator in ("onnxruntime", "openvino")
        if self.use_ipex and (graph or self.accelerator == "compile"):
            raise ValueError(f"use_ipex=True cannot be combined with accelerator={self.accelerator!r}")
        if self.precision == "bf16" and graph:
            raise ValueError(
                f"precision='bf16' is available with accelerator None, 'jit' or 'compile', not {self.accelerator!r}"
            )

    @property
    def needs_calibration(self) -> bool:
        """Static INT8 takes its activation ranges from calibration data (or the first calls)."""
        return self.precision == "int8" and self.approach == "static"


def _check_approach(options: Options) -> None:
    if options.approach not in APPROACHES:
        raise ValueError(f"approach must be one of {APPROACHES}, not {options.approach!r}")
    if options.approach == "dynamic" and (
        options.precision != "int8" or options.accelerator is not None or options.use_ipex or options.channels_last
    ):
        raise ValueError(
            "approach='dynamic' is INT8 of the eager model: precision='int8', "
            "without accelerator, use_ipex or channels_last"
        )


@dataclass(frozen=True)
class Runtime:
    name: str
    libraries: tuple[str, ...]
    needs: Callable[[Cpu, Options], Verdict]
    builds: Mapping[str, str] = field(default_factory=dict)  # precision -> "module:function"
    shapes: str = "any"  # which input change needs a new build: any, batch, exact (recipe.py)
    torch_threads: bool = True  # False when the runtime owns its thread pool (ORT, OpenVINO)
    # precision -> "module:function(folder, request)" giving the runner back from the files its
    # ``save(folder)`` wrote: the conversion cache (cache.py) stores these precisions
    loads: Mapping[str, str] = field(default_factory=dict)
    # precision -> "module:function": a safer config, tried once under --max-drop when the
    # default breaks it (wrapper.py); ``safer_config`` says what it changes
    safer: Mapping[str, str] = field(default_factory=dict)
    safer_config: str = ""

    def build_function(self, precision: str) -> Callable:
        return _named(self.builds[precision])

    def load_function(self, precision: str) -> Callable:
        return _named(self.loads[precision])


def _named(reference: str) -> Callable:
    module, _, function = reference.partition(":")
    return getattr(importlib.import_module(module), function)


# --- what each runtime needs of the CPU --------------------------------------------------


def _bf16(cpu: Cpu) -> Verdict:
    if cpu.bf16:
        return NATIVE
    if cpu.avx512:
        return Verdict(
            "emulated",
            "no AVX512-BF16 or AMX here: BF16 is converted to fp32 inside "
            "AVX-512 kernels, usually slower than plain fp32",
        )
    return Verdict(
        "emulated",
        "no native BF16 here (needs AVX512-BF16 or AMX-BF16): BF16 math "
        "runs on slow fallback kernels, several times slower than fp32",
    )


def _int8(cpu: Cpu) -> Verdict:
    if cpu.avx2:
        return NATIVE  # without VNNI the u8·s8 products are summed in 16 bits, still fast
    return Verdict("emulated", "no AVX2 here: INT8 kernels run on SSE fallbacks")


def torch_needs(cpu: Cpu, options: Options) -> Verdict:
    return _bf16(cpu) if options.precision == "bf16" else NATIVE


def ipex_needs(cpu: Cpu, options: Options) -> Verdict:
    if not cpu.avx2:
        return Verdict("unsupported", "IPEX needs AVX2 at least")
    if cpu.avx512:
        return torch_needs(cpu, options)
    if options.precision == "bf16":
        # without AVX-512 its TorchScript kernels fail, oneDNN has no BF16 layer norm (BERT fails)
        # and on Zen 3 the convolutions ran 5-15x slower than fp32 eager
        return Verdict("unsupported", "IPEX BF16 needs AVX-512")
    return Verdict(
        "emulated",
        "IPEX's fp32 kernels target AVX-512: on an AVX2-only CPU ipex.optimize ran about 5x slower than plain PyTorch",
    )


def graph_runtime_needs(cpu: Cpu, options: Options) -> Verdict:
    return _int8(cpu) if options.precision == "int8" else NATIVE


def compile_needs(cpu: Cpu, options: Options) -> Verdict:
    return _bf16(cpu) if options.precision == "bf16" else graph_runtime_needs(cpu, options)


def inc_needs(cpu: Cpu, options: Options) -> Verdict:
    return _int8(cpu)


EAGER = Runtime(
    "eager",
    ("torch",),
    torch_needs,
    {"fp32": "coder.backend.precision:build_eager", "bf16": "coder.backend.precision:build_eager"},
)
JIT = Runtime(
    "jit",
    ("torch",),
    torch_needs,
    {"fp32": "coder.backend.jit:build", "bf16": "coder.backend.jit:build"},
    shapes="exact",
    loads={"fp32": "coder.backend.jit:load", "bf16": "coder.backend.jit:load"},
)
IPEX = Runtime("ipex", ("intel_extension_for_pytorch",), ipex_needs)  # applied by eager and jit
ONNXRUNTIME = Runtime(
    "onnxruntime",
    ("torch", "onnx", "onnxruntime"),
    graph_runtime_needs,
    {"fp32": "coder.backend.onnxruntime:build_fp32", "int8": "coder.backend.onnxruntime:build_int8"},
    shapes="batch",
    torch_threads=False,
    loads={"fp32": "coder.backend.onnxruntime:load", "int8": "coder.backend.onnxruntime:load"},
)
OPENVINO = Runtime(
    "openvino",
    ("torch", "openvino"),
    graph_runtime_needs,
    {"fp32": "coder.backend.openvino:build_fp32", "int8": "coder.backend.openvino:build_int8"},
    shapes="any",
    torch_threads=False,  # its IR keeps every dimension dynamic
    loads={"fp32": "coder.backend.openvino:load_fp32", "int8": "coder.backend.openvino:load_int8"},
)
NNCF = Runtime("nncf", ("nncf",), graph_runtime_needs)  # quantizes for openvino's int8 build
INC = Runtime(
    "neural_compressor",
    ("torch", "neural_compressor"),
    inc_needs,
    {"int8": "coder.backend.int8:build_inc"},
    shapes="exact",
    safer={"int8": "coder.backend.int8:build_safer"},
    safer_config="PT2E with 7-bit activations",
)
# torch.compile/Inductor (int8: PT2E first); not cached, see compile.py; one dynamic-batch graph
COMPILE = Runtime(
    "compile",
    ("torch",),
    compile_needs,
    {precision: f"coder.backend.compile:build_{precision}" for precision in PRECISIONS},
    shapes="batch",
)

# not cacheable (no loads): quantizing takes well under a second (BERT-base: see docs/BACKEND.md),
# and a dynamic-quantized module can only be stored whole (pickle, tied to the model's class)
DYNAMIC_INT8 = Runtime(
    "dynamic_int8",
    ("torch",),
    inc_needs,
    {"int8": "coder.backend.dynamic_int8:build"},
    safer={"int8": "coder.backend.dynamic_int8:build_safer"},
    safer_config="first and last layers left in fp32",
)

RUNTIMES = {
    runtime.name: runtime for runtime in (EAGER, JIT, IPEX, ONNXRUNTIME, OPENVINO, NNCF, INC, COMPILE, DYNAMIC_INT8)
}


def runtimes_for(options: Options) -> tuple[Runtime, ...]:
    """The runtimes a call uses, the one that builds first."""
    if options.approach == "dynamic":
        return (DYNAMIC_INT8,)
    if options.accelerator == "onnxruntime":
        return (ONNXRUNTIME,)
    if options.accelerator == "compile":
        return (COMPILE,)
    if options.accelerator == "openvino":
        return (OPENVINO, NNCF) if options.precision == "int8" else (OPENVINO,)
    if options.precision == "int8":
        return (INC,)
    base = JIT if options.accelerator == "jit" else EAGER
    return (base, IPEX) if options.use_ipex else (base,)


def libraries_for(options: Options) -> tuple[str, ...]:
    return tuple(dict.fromkeys(lib for runtime in runtimes_for(options) for lib in runtime.libraries))


def verdict_for(options: Options, cpu: Cpu) -> Verdict:
    return worst(runtime.needs(cpu, options) for runtime in runtimes_for(options))
