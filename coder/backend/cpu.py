"""The CPU this process runs on, read once: its name, PyTorch's capability, and the features
that decide which transforms run natively here. No torch import (``--list`` uses it).

The features come from ``/proc/cpuinfo`` (the kernel's view of CPUID). ``CODER_CPUINFO`` names
another cpuinfo file to read instead: recorded samples in the tests, or a CPU emulated under
``qemu-x86_64 -cpu``, whose CPUID differs from the host's /proc/cpuinfo.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from coder import settings

# the flags that matter to some transform, in the order they are shown
FEATURES = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512dq",
    "avx512_bf16",
    "avx512_vnni",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)
AVX512_CORE = ("avx512f", "avx512bw", "avx512vl", "avx512dq")
CAPABILITIES = ("DEFAULT", "AVX2", "AVX512")  # torch.backends.cpu.get_cpu_capability() on x86


@dataclass(frozen=True)
class Cpu:
    name: str
    features: frozenset[str]
    capability: str

    @property
    def avx2(self) -> bool:
        return {"avx2", "fma"} <= self.features

    @property
    def avx512(self) -> bool:
        """AVX-512 F/BW/VL/DQ: what PyTorch's AVX512 kernels and oneDNN's BF16 paths need."""
        return set(AVX512_CORE) <= self.features

    @property
    def bf16(self) -> bool:
        """Native BF16 arithmetic (AVX512-BF16 dot products or AMX tiles)."""
        return bool({"avx512_bf16", "amx_bf16"} & self.features)

    @property
    def vnni(self) -> bool:
        """INT8 dot products that accumulate in 32 bits, so u8·s8 products do not saturate."""
        return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & self.features)

    @property
    def kind(self) -> str:
        """A short class name: what a user would call this CPU's generation of vector units."""
        if {"amx_bf16", "amx_int8"} <= self.features:
            return "AMX"
        if self.avx512:
            extras = [name for name, on in (("BF16", self.bf16), ("VNNI", self.vnni)) if on]
            return "AVX-512" + (f" + {' + '.join(extras)}" if extras else " (no BF16, no VNNI)")
        if self.avx2:
            return "AVX2" + (" + AVX-VNNI" if self.vnni else " only (no AVX-512, no BF16, no VNNI)")
        return "no AVX2"

    def shown_features(self) -> list[str]:
        return [flag for flag in FEATURES if flag in self.features]

    def summary(self) -> str:
        """One line naming the CPU and the features that matter."""
        features = " ".join(self.shown_features()) or "none of the vector features coder uses"
        return f"{self.name}: {self.kind}; capability {self.capability}; features: {features}"

    def to_json(self) -> dict:
        return {"name": self.name, "capability": self.capability, "features": self.shown_features()}


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """The model name and flags of the first processor listed in a /proc/cpuinfo text."""
    name, flags = "", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not name:
            name = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return name, flags


def capability_of(features: frozenset[str], requested: str | None = None) -> str:
    """PyTorch's choice of kernels for these features (ATen's cpu_capability rules), lowered
    to ``requested`` (the ATEN_CPU_CAPABILITY variable) when that names a lesser one."""
    if set(AVX512_CORE) <= features and "fma" in features:
        found = "AVX512"
    elif {"avx2", "fma"} <= features:
        found = "AVX2"
    else:
        found = "DEFAULT"
    wanted = (requested or "").upper()
    if wanted in CAPABILITIES and CAPABILITIES.index(wanted) < CAPABILITIES.index(found):
        return wanted
    return found


def read_cpu(cpuinfo_text: str) -> Cpu:
    name, flags = parse_cpuinfo(cpuinfo_text)
    return Cpu(
        name or platform.processor() or "unknown CPU",
        flags,
        capability_of(flags, os.environ.get("ATEN_CPU_CAPABILITY")),
    )


@functools.cache
def this_cpu() -> Cpu:
    """This machine's CPU (or the one ``CODER_CPUINFO`` describes), read once per process."""
    override = settings.current().cpuinfo
    source = override or Path("/proc/cpuinfo")
    try:
        cpu = read_cpu(source.read_text(errors="replace"))
    except OSError:
        cpu = read_cpu("")
    if override or "torch" not in sys.modules:
        return cpu
    return Cpu(cpu.name, cpu.features, _torch_capability(cpu.capability))


def _torch_capability(derived: str) -> str:
    """PyTorch's own answer when torch is already loaded (it also knows non-x86 CPUs)."""
    try:
        return sys.modules["torch"].backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        return derived
