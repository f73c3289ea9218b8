"""IPEX's import noise stays out of the user's script output."""

from __future__ import annotations

import subprocess
import sys

import pytest

LOAD_IPEX = "from coder.backend.libraries import load; load('intel_extension_for_pytorch'); print('loaded')"


@pytest.mark.ipex
def test_loading_ipex_prints_neither_the_kernel_override_nor_the_cuda_notice():
    result = subprocess.run([sys.executable, "-c", LOAD_IPEX], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "loaded"
    assert "Overriding a previously registered kernel" not in result.stderr
    assert "No CUDA runtime is found" not in result.stderr


@pytest.mark.ipex
def test_plain_import_of_ipex_does_print_that_noise():
    """The counterpart: what load() holds back is really there without it."""
    result = subprocess.run(
        [sys.executable, "-c", "import intel_extension_for_pytorch"], capture_output=True, text=True, timeout=300
    )
    assert "Overriding a previously registered kernel" in result.stderr
