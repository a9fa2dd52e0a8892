# Two commands on a fresh machine: `make run` (the app on the embedded default) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: simulate scenario S1 on the default process and print its route (the web app comes next)
run: $(STAMP)
	$(BIN)/safeguard bpmn validate bpmn/sharing-nudes-response.bpmn
	$(BIN)/safeguard bpmn simulate bpmn/sharing-nudes-response.bpmn bpmn/scenarios/s1.json

## test: the whole test suite
test: $(STAMP)
	$(BIN)/pytest

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
