# Two commands on a fresh machine with Python 3.11+:  `make run` (needs DISCORD_TOKEN in .env)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# One .venv, two levels: `run` installs what running needs (Nexus and the PostgreSQL driver, so DATABASE_URL may
# name either engine); everything else adds the dev tools (pytest, ruff, mypy, hadolint).
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
# `make lock` keeps the current pins where pyproject.toml still allows them; `make lock LOCK_FLAGS=--upgrade`
# moves every pin to the newest release.
LOCK_FLAGS ?=

.PHONY: run web test install lint typecheck dockerfile lockcheck lock unit e2e fuzz bench check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[postgres]'
	touch $@

# The dev extra includes everything the runtime needs, so it counts as the runtime install too.
$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUNTIME)

install: $(DEV)

run: $(RUNTIME)  ## set up (runtime only), migrate the database and start the bot
	$(BIN)/nexus-bot run

web: $(RUNTIME)  ## serve the web hub (NEXUS_WEB_HOST:NEXUS_WEB_PORT, default 127.0.0.1:8080) from the database
	$(BIN)/nexus-bot web

test: $(DEV) lint typecheck dockerfile lockcheck  ## set up, lint, type check, check the lock and run every test
	$(BIN)/python -m pytest

lint: $(DEV)  ## ruff, and the import contracts of pyproject.toml ([tool.importlinter])
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(DEV)
	$(BIN)/mypy

dockerfile: $(DEV)
	$(BIN)/hadolint Dockerfile

lockcheck: $(DEV)  ## requirements.lock (the image's hash-checked dependencies) still matches pyproject.toml; offline
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit/test_lock.py

lock: $(DEV)  ## rewrite requirements.lock: the runtime dependencies with the postgres extra, for CPython 3.11 on Linux
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --extra postgres --generate-hashes --python-version 3.11 \
		--python-platform linux --custom-compile-command 'make lock' $(LOCK_FLAGS) -o requirements.lock

unit: $(DEV)
	$(BIN)/python -m pytest tests/unit tests/integration

e2e: $(DEV)
	$(BIN)/python -m pytest tests/e2e

fuzz: $(DEV)  ## the property tests (parsers, query sanitiser, search on both engines) with 5,000 examples each
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/unit tests/integration/test_search.py -q

check: $(RUNTIME)  ## validate configuration and the knowledge base
	$(BIN)/nexus-bot check

bench: $(DEV)  ## speed and memory figures, printed as a table
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
