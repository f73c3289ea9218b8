"""Suite-wide rules: IPEX tests run only in the IPEX stack, and say why otherwise."""

import importlib.util

import pytest

from transforms import IPEX_STACK_HINT

HAS_IPEX = importlib.util.find_spec("intel_extension_for_pytorch") is not None


def pytest_collection_modifyitems(config, items):
    if HAS_IPEX:
        return
    skip_ipex = pytest.mark.skip(reason=IPEX_STACK_HINT)
    for item in items:
        if "ipex" in item.keywords:
            item.add_marker(skip_ipex)
