# Two commands on a fresh machine: `make run` (the app on the embedded default) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format clean

$(STAMP): pyproject.toml package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build:assets
	touch $(STAMP)

## run: set up the database with the DEMO ONLY school and sign-ins, then serve http://127.0.0.1:5000
run: $(STAMP)
	$(BIN)/safeguard init --demo
	$(BIN)/safeguard serve

## test: the whole test suite, on PYTEST_WORKERS processes (pytest-xdist; each has its own
## SQLite files and PostgreSQL schema)
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

## lint: ruff, mypy (strict on workflow/ and forms/) and the import contracts
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache node_modules services/web/static/govuk \
		services/web/static/app/build
