# The two commands of the README: `make demo` and `make test`.
# Each sets up .venv/ (the newest torch allowed here with every runtime but IPEX: coder[all])
# when it is missing, half-built or outdated, and is quick when it is already there.
# IPEX's last release needs torch 2.8: it has its own environment and lane (`make test-ipex`).
PYTHON ?= python3
VENV := .venv
IPEX_VENV := .venv-ipex
EXAMPLE := coder/examples/resnet_inference.py
# the demo's transform: native on this CPU (coder/examples/pick_transform.py says why);
# `make demo DEMO_TRANSFORM=nano_jit_bf16` shows another one
DEMO_TRANSFORM ?=
# the fast lane: the engine, the CLI, the pure-Python units (no model is converted) and the style
FAST_TESTS := tests/engine tests/test_cli.py tests/test_cpu.py tests/auto/test_report.py tests/auto/test_progress.py \
	tests/test_style.py
# the IPEX lane: the tests that need IPEX (marked ipex), and the stack's own checks on torch 2.8;
# every other runtime's tests run in `make test` on the newest torch

.PHONY: demo test test-fast test-ipex venv venv-ipex clean

venv:
	@PYTHON=$(PYTHON) requirements/venv.sh $(VENV) requirements/latest.txt all,dev

venv-ipex:
	@PYTHON=$(PYTHON) requirements/venv.sh $(IPEX_VENV) requirements/ipex.txt all,ipex,dev

demo: venv
	@name="$(DEMO_TRANSFORM)"; name=$${name:-$$($(VENV)/bin/python coder/examples/pick_transform.py)} && \
	echo "== what coder changes in $(EXAMPLE) for -o $$name" && \
	$(VENV)/bin/python -m coder -o $$name --diff $(EXAMPLE) && \
	echo "== the script as written" && \
	$(VENV)/bin/python $(EXAMPLE) && \
	echo "== the script patched by coder (python -m coder -o $$name $(EXAMPLE))" && \
	$(VENV)/bin/python -m coder -o $$name $(EXAMPLE) && \
	echo "== python -m coder --list shows every transform and its verdict for this CPU; -o auto tries them all"

test: venv
	$(VENV)/bin/python -m pytest

test-fast: venv
	$(VENV)/bin/python -m pytest -m "not slow" $(FAST_TESTS)

test-ipex: venv-ipex
	$(IPEX_VENV)/bin/python -m pytest -m ipex tests/backend
	$(IPEX_VENV)/bin/python -m pytest tests/test_stack.py

clean:
	rm -rf $(VENV) $(IPEX_VENV)
