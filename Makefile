# Two commands do all the set-up on a fresh machine: `make run` (the main job) and `make test`.
# Both create the virtual environments they need; re-running them only re-installs when
# pyproject.toml or the checkov pin changed.

PYTHON ?= python3
VENV ?= .venv
CHECKOV_VENV ?= .venv-checkov
AWSCLI_VENV ?= .venv-awscli
LOCALSTACK_VENV ?= .venv-localstack
# LocalStack 4.14.0 wants Python 3.13 (pyenv's on these machines); override with LOCALSTACK_PYTHON=...
LOCALSTACK_PYTHON ?= $(firstword $(wildcard /root/.pyenv/versions/3.13.*/bin/python) python3.13)
LOCALSTACK_PIN := localstack/constraints-4.14.0.txt
BIN := $(VENV)/bin
CHECKOV_PIN := src/gitops_harness/policy/checkov-requirements.txt
AWSCLI_PIN := src/gitops_harness/emulator/codebuild/awscli-requirements.txt
PYTEST_ARGS ?=
LINT_PATHS := src tests suites policies bench fixtures localstack conftest.py
# One worker per core; a file's tests stay on one worker (module fixtures, the session's pipeline).
PYTEST_WORKERS ?= auto

export GITOPS_HARNESS_CHECKOV_VENV := $(abspath $(CHECKOV_VENV))
export GITOPS_HARNESS_AWSCLI_VENV := $(abspath $(AWSCLI_VENV))
export GITOPS_HARNESS_LOCALSTACK_VENV := $(abspath $(LOCALSTACK_VENV))

.PHONY: run test test-localstack lint bench clean

run: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(AWSCLI_VENV)/.installed
	$(BIN)/gitops-harness run

test: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(AWSCLI_VENV)/.installed
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/ruff check $(LINT_PATHS)
	# Two runs: moto keeps its state in module globals, so the harness's own tests (some use moto's
	# mock_aws, which resets every backend) must not share a process with the suites' session pipeline.
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS) tests
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS) suites

# The e2e suites on LocalStack community 4.14.0 in host mode with the plugin (localstack/README.md).
test-localstack: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(AWSCLI_VENV)/.installed $(LOCALSTACK_VENV)/.installed
	GITOPS_HARNESS_LOCALSTACK_START=host $(BIN)/python -m pytest -p no:xdist $(PYTEST_ARGS) --target localstack suites/e2e tests/test_localstack_*.py

lint: $(VENV)/.installed
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

bench: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(LOCALSTACK_VENV)/.installed
	$(BIN)/python bench/run_all.py

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# checkov pins boto3 exactly, so it lives in its own environment and runs as a subprocess.
$(CHECKOV_VENV)/.installed: $(CHECKOV_PIN)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r $(CHECKOV_PIN)
	touch $@

# The AWS CLI that CodeBuild builds run (awscli v1 pins botocore exactly): its own environment too.
$(AWSCLI_VENV)/.installed: $(AWSCLI_PIN)
	$(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/python -m pip install --quiet -r $(AWSCLI_PIN)
	touch $@

# LocalStack's own environment: localstack-core 4.14.0 under its constraints, the harness without its
# dependencies (it pins moto; LocalStack runs its fork moto-ext, which the planes' moto imports get), the plugin.
$(LOCALSTACK_VENV)/.installed: $(LOCALSTACK_PIN) localstack/pyproject.toml pyproject.toml
	$(LOCALSTACK_PYTHON) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/python -m pip install --quiet -c $(LOCALSTACK_PIN) 'localstack-core[runtime]==4.14.0'
	$(LOCALSTACK_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(LOCALSTACK_VENV)/bin/python -m pip install --quiet -c $(LOCALSTACK_PIN) -e ./localstack
	touch $@

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(AWSCLI_VENV) $(LOCALSTACK_VENV) reports .pytest_cache .hypothesis
