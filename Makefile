# Two commands on a fresh machine with Python 3.11+:  `make run` (needs DISCORD_TOKEN in .env)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test install lint typecheck dockerfile unit e2e fuzz bench check clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(INSTALLED)

run: install  ## set up, migrate the database and start the bot
	$(BIN)/nexus-bot run

test: install lint typecheck dockerfile  ## set up, lint, type check and run every test
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

dockerfile: install
	$(BIN)/hadolint Dockerfile

unit: install
	$(BIN)/python -m pytest tests/unit tests/integration

e2e: install
	$(BIN)/python -m pytest tests/e2e

fuzz: install  ## the property tests (parsers, query sanitiser, search on both engines) with 5,000 examples each
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/unit tests/integration/test_search.py -q

check: install  ## validate configuration and the knowledge base
	$(BIN)/nexus-bot check

bench: install  ## speed and memory figures, printed as a table
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
