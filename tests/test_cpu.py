"""Reading the CPU, and each transform's verdict on the kinds of CPU users have (recorded
/proc/cpuinfo samples, so every verdict is tested on any machine)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coder import transforms
from coder.backend.cpu import capability_of, parse_cpuinfo, read_cpu, this_cpu

SAMPLES = Path(__file__).parent / "cpuinfo"
IPEX_FP32 = {"nano_fp32_ipex", "nano_fp32_ipex_channels_last", "nano_jit_fp32_ipex", "nano_jit_fp32_ipex_channels_last"}
IPEX_BF16 = {"nano_bf16_ipex", "nano_bf16_ipex_channels_last"}
IPEX_JIT_BF16 = {"nano_jit_bf16_ipex", "nano_jit_bf16_ipex_channels_last"}
TORCH_BF16 = {
    "nano_bf16",
    "nano_bf16_channels_last",
    "nano_jit_bf16",
    "nano_jit_bf16_channels_last",
    "nano_compile_bf16",
}


def sample(name: str):
    return read_cpu((SAMPLES / f"{name}.txt").read_text())


def verdicts(cpu) -> dict[str, str]:
    return {entry.name: entry.verdict(cpu).kind for entry in transforms.CATALOG}


def expected(emulated=frozenset(), unsupported=frozenset()) -> dict[str, str]:
    return {
        name: "unsupported" if name in unsupported else "emulated" if name in emulated else "native"
        for name in transforms.names()
    }


@pytest.mark.parametrize(
    "name, kind, capability",
    [
        ("zen3", "AVX2 only (no AVX-512, no BF16, no VNNI)", "AVX2"),
        ("zen4", "AVX-512 + BF16 + VNNI", "AVX512"),
        ("sapphire_rapids", "AMX", "AVX512"),
        ("skylake_sp", "AVX-512 (no BF16, no VNNI)", "AVX512"),
    ],
)
def test_samples_are_read_as_their_kind(name, kind, capability):
    cpu = sample(name)
    assert cpu.kind == kind and cpu.capability == capability
    assert cpu.name in cpu.summary() and kind in cpu.summary()


def test_zen3_avx2_only():
    assert verdicts(sample("zen3")) == expected(emulated=IPEX_FP32 | TORCH_BF16, unsupported=IPEX_BF16 | IPEX_JIT_BF16)


def test_skylake_avx512_without_bf16():
    assert verdicts(sample("skylake_sp")) == expected(emulated=TORCH_BF16 | IPEX_BF16 | IPEX_JIT_BF16)


@pytest.mark.parametrize("name", ["zen4", "sapphire_rapids"])
def test_bf16_and_vnni_cpus_run_everything_natively(name):
    assert verdicts(sample(name)) == expected()


def test_every_verdict_that_is_not_native_says_why():
    for name in ("zen3", "skylake_sp"):
        for entry in transforms.CATALOG:
            verdict = entry.verdict(sample(name))
            assert (verdict.kind == "native") == (verdict.reason is None)


def test_ipex_bf16_reason_on_avx2_names_avx512():
    for name in ("nano_bf16_ipex", "nano_jit_bf16_ipex"):
        assert transforms.get(name).verdict(sample("zen3")).reason == "IPEX BF16 needs AVX-512"


def test_capability_follows_aten_rules_and_its_override():
    avx512 = frozenset({"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"})
    assert capability_of(avx512) == "AVX512"
    assert capability_of(avx512 - {"avx512dq"}) == "AVX2"
    assert capability_of(frozenset({"avx2"})) == "DEFAULT"  # ATen's AVX2 needs FMA too
    assert capability_of(avx512, "avx2") == "AVX2"
    assert capability_of(frozenset({"avx2", "fma"}), "avx512") == "AVX2"  # never raised


def test_the_first_processor_is_read():
    name, flags = parse_cpuinfo("processor : 0\nmodel name : A\nflags : avx2 fma\n\nmodel name : B\nflags : sse\n")
    assert name == "A" and flags == {"avx2", "fma"}


def test_this_machine_is_read_once_and_matches_torch_when_loaded():
    assert this_cpu() is this_cpu()
    if "torch" in sys.modules and not os.environ.get("CODER_CPUINFO"):  # a sample is not this CPU
        import torch

        assert this_cpu().capability == torch.backends.cpu.get_cpu_capability()


def list_json(cpuinfo: Path | None = None) -> dict:
    env = {**os.environ, **({"CODER_CPUINFO": str(cpuinfo)} if cpuinfo else {})}
    result = subprocess.run(
        [sys.executable, "-m", "coder", "--list", "--json"], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(result.stdout)


def test_list_json_shape():
    listing = list_json()
    assert set(listing) == {"cpu", "transforms"}
    assert set(listing["cpu"]) == {"name", "capability", "features"}
    assert [t["name"] for t in listing["transforms"]] == transforms.names()
    for row in listing["transforms"]:
        assert set(row) == {"name", "available", "verdict", "reason", "install"}
        assert row["verdict"] in ("native", "emulated", "unsupported")


def test_list_json_on_a_recorded_zen3():
    listing = list_json(SAMPLES / "zen3.txt")
    assert listing["cpu"] == {"name": "AMD EPYC 7B13", "capability": "AVX2", "features": ["avx2", "fma"]}
    rows = {row["name"]: row for row in listing["transforms"]}
    assert rows["nano_jit_bf16_ipex"]["verdict"] == "unsupported" and not rows["nano_jit_bf16_ipex"]["available"]
    assert rows["nano_bf16"]["verdict"] == "emulated" and "BF16" in rows["nano_bf16"]["reason"]


def test_list_names_the_cpu_and_every_verdict():
    env = {**os.environ, "CODER_CPUINFO": str(SAMPLES / "zen3.txt")}
    lines = subprocess.run(
        [sys.executable, "-m", "coder", "--list"], capture_output=True, text=True, env=env, check=True
    ).stdout.splitlines()
    assert lines[0].startswith("CPU: AMD EPYC 7B13: AVX2 only")
    assert "[unsupported on this CPU: IPEX BF16 needs AVX-512]" in "\n".join(lines)
    assert sum("emulated on this CPU" in line for line in lines) == len(IPEX_FP32 | TORCH_BF16)
