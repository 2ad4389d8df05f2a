# `make run`: create .venv, install, start the app. `make test`: create .venv, install, lint, test.
# Re-runs are quick: installs happen again only when a dependency file changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
# axe-core for the browser tests' accessibility audit, from npm into tests/browser/node_modules
# (pinned in tests/browser/package.json, no lock file). Without npm the audit test skips
# locally; .ci/run installs npm and makes it mandatory.
NPM    := $(shell command -v npm 2>/dev/null)
AXE    := tests/browser/node_modules/.installed-axe
AXE_IF_NPM := $(if $(NPM),$(AXE))

.PHONY: run test lint unit browser axe bench format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-app: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt -e .
	touch $@

$(VENV)/.installed-test: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt -e ".[test]"
	touch $@ $(VENV)/.installed-app

$(AXE): tests/browser/package.json
	cd tests/browser && npm install --no-package-lock --no-audit --no-fund --loglevel=error
	touch $@

axe: $(AXE)

run: $(VENV)/.installed-app
	$(BIN)/streamlit run app.py --server.port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint $(AXE_IF_NPM)
	$(BIN)/python -m pytest

unit: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "not browser"

browser: $(VENV)/.installed-test $(AXE_IF_NPM)
	$(BIN)/python -m pytest -m browser

bench: $(VENV)/.installed-test
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/browser/node_modules
