# The two commands of the README: `make demo` and `make test`.
# Each sets up .venv/ (the full stack: coder[all] plus coder[ipex], torch 2.8) when it is missing,
# half-built or outdated, and is quick when it is already there.
PYTHON ?= python3
VENV := .venv
LATEST_VENV := .venv-latest
EXAMPLE := coder/examples/resnet_inference.py
# the demo's transform: native on this CPU (coder/examples/pick_transform.py says why);
# `make demo DEMO_TRANSFORM=nano_jit_bf16_ipex` shows another one
DEMO_TRANSFORM ?=

.PHONY: demo test test-latest venv venv-latest clean

venv:
	@PYTHON=$(PYTHON) requirements/venv.sh $(VENV) requirements/ipex.txt all,ipex,dev

venv-latest:
	@PYTHON=$(PYTHON) requirements/venv.sh $(LATEST_VENV) requirements/latest.txt all,dev

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

# The newest torch allowed here (2.14.1), every runtime but IPEX.
test-latest: venv-latest
	$(LATEST_VENV)/bin/python -m pytest

clean:
	rm -rf $(VENV) $(LATEST_VENV)
