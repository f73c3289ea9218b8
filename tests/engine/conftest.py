"""Golden files: ``pytest tests/engine --update-goldens`` (or CODER_UPDATE_GOLDENS=1) rewrites them."""

import os

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite fixtures/<case>/<transform>.py from the engine's current output",
    )


@pytest.fixture
def update_goldens(request) -> bool:
    return request.config.getoption("--update-goldens", default=False) or os.environ.get("CODER_UPDATE_GOLDENS") == "1"
