# `make run`: create .venv, install, start the app. `make test`: create .venv, install, lint, test.
# Re-runs are quick: installs happen again only when a dependency file changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: run test lint unit browser bench format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-app: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt -e .
	touch $@

$(VENV)/.installed-test: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt -e ".[test]"
	touch $@ $(VENV)/.installed-app

run: $(VENV)/.installed-app
	$(BIN)/streamlit run app.py --server.port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

unit: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "not browser"

browser: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m browser

bench: $(VENV)/.installed-test
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
