"""coder's messages as a user sees them: one whole line on stderr, no warning location, no source
line; the library's full error with CODER_DEBUG=1; ``warnings`` filters still apply."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from coder.backend.libraries import MissingLibrary
from coder.backend.messages import error_text, not_used

SCRIPT = """
import warnings, torch
from coder.backend import InferenceOptimizer
{setup}
class Label(torch.nn.Module):
    def forward(self, x):
        return x * 2, "cat"
model = InferenceOptimizer.trace(Label(), accelerator="jit")
with torch.no_grad():
    print(model(torch.ones(2))[1])
"""


def run(setup: str = "", **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(setup=setup)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def coder_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_a_fallback_is_one_line_and_nothing_else():
    result = run()
    assert result.returncode == 0 and result.stdout == "cat\n"
    [line] = coder_lines(result.stderr)
    assert line.startswith("coder: nano_jit_fp32 not used (") and line.endswith("): running the original model")
    assert "non-tensor" in line


def test_debug_shows_the_library_error_with_its_traceback():
    lines = coder_lines(run(CODER_DEBUG="1").stderr)
    assert any(line.startswith("Traceback") for line in lines)
    assert lines[-1].startswith("coder: nano_jit_fp32 not used (")


def test_warning_filters_still_work():
    setup = "from coder.backend.messages import CoderWarning\nwarnings.simplefilter('ignore', CoderWarning)"
    assert coder_lines(run(setup).stderr) == []


@pytest.mark.parametrize(
    "message, shown",
    [
        (
            "BF16 weight prepack needs the cpu support avx512bw, avx512vl and avx512dq, but the desired\n"
            "instruction sets are not available. Please set dtype to torch.float or set weights_prepack\nto False.",
            "AssertionError: BF16 weight prepack needs the cpu support avx512bw, avx512vl and avx512dq, but the "
            "desired instruction sets are not available. Please set dtype to torch.float or set weights_prepack "
            "to False.",
        ),
        (
            "The following operation failed in the TorchScript interpreter.\nTraceback of TorchScript (most recent "
            'call last):\n  File "code/__torch__.py", line 9\nRuntimeError: mkldnn bf16 path needs avx512bw',
            "RuntimeError: mkldnn bf16 path needs avx512bw",
        ),
        ("short", "AssertionError: short"),
    ],
)
def test_library_errors_become_whole_sentences(message, shown):
    assert error_text(AssertionError(message)) == shown


def test_a_long_line_without_a_sentence_end_is_kept_whole():
    long = "x" * 500
    assert error_text(ValueError(long)) == f"ValueError: {long}"


def test_missing_library_and_cpu_messages():
    assert error_text(MissingLibrary("onnxruntime")) == (
        "onnxruntime is not installed: pip install onnx onnxruntime onnxscript"
    )
    assert not_used("nano_jit_bf16_ipex", "IPEX BF16 needs AVX-512", on_this_cpu=True) == (
        "coder: nano_jit_bf16_ipex not used on this CPU (IPEX BF16 needs AVX-512): running the original model"
    )
