# The whole set-up: `make run` (install, then `mcx run`: migrate, demo, the web app and the worker
# together) and `make test` (install, check, test).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
LOG_LEVEL ?= warning

.PHONY: run test install install-dev lint bench rigour clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/mcx run --host $(HOST) --port $(PORT) --log-level $(LOG_LEVEL)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Two test processes by default (CI has 2 cores); TEST_WORKERS=0 runs them in this one.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

# Benchmarks against 127.0.0.1 only; bounded; writes bench/RESULTS.md.
bench: install-dev
	$(BIN)/python -m bench.run_all

# The reviewer-population simulator against a real MCX; writes bench/RIGOUR.md and bench/rigour.svg.
rigour: install-dev
	$(BIN)/python -m bench.rigour

clean:
	rm -rf $(VENV) .mcx-test .pytest_cache
