"""Suite-wide rules: IPEX tests run only in the IPEX stack (and say why otherwise); no timing gate."""

import importlib.util
import os

import pytest

from coder.transforms import IPEX_STACK_HINT

# Timings decide nothing in tests: the never-slower check (and with it the conversion budget)
# is off unless a test turns it on (``never_slower=True``); subprocesses inherit this too.
os.environ["CODER_NEVER_SLOWER"] = "0"
# No test reads or fills the user's conversion cache; the cache tests give their own folder.
os.environ["CODER_CACHE"] = "off"

HAS_IPEX = importlib.util.find_spec("intel_extension_for_pytorch") is not None


def pytest_collection_modifyitems(config, items):
    if HAS_IPEX:
        return
    skip_ipex = pytest.mark.skip(reason=IPEX_STACK_HINT)
    for item in items:
        if "ipex" in item.keywords:
            item.add_marker(skip_ipex)
