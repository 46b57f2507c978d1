# The single entry point: README, pre-commit and CI all call these targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ENV ?= dev
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help demo test lint typecheck bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "error: Python 3.11+ is needed ($(PYTHON) is $$($(PYTHON) --version))" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.0.1

# One stamp per dependency group: each target installs only what its part needs.
$(VENV)/.group-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable . --group $*
	@touch $@

demo: $(VENV)/.group-cli ## Simulate homes for 2 weeks, ingest them through the event processor, score
	$(BIN)/livability demo

test: $(VENV)/.group-dev ## Run the test suite
	$(BIN)/pytest

lint: $(VENV)/.group-dev ## Run pre-commit (ruff lint + format, mypy) on every file
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pre-commit run --all-files --show-diff-on-failure

typecheck: $(VENV)/.group-dev ## Type-check the packages with mypy
	$(BIN)/mypy

bench: $(VENV)/.group-dev ## Benchmarks, as ratios against a named baseline
	$(BIN)/python -m benchmarks

clean: ## Remove the venv and the local state folder
	rm -rf $(VENV) .livability .pytest_cache .ruff_cache .mypy_cache
