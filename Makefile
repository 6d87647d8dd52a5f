# Two commands from a fresh clone:  make install plan  /  make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STACK ?= staging

.PHONY: install plan golden bench test lint typecheck check

install: $(BIN)/.installed
$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

plan: install  ## offline plan of STACK against BASE (default: the golden files); FULL=1 prints every input
	$(BIN)/python -m tools.plan $(STACK) $(if $(BASE),--base $(BASE)) $(if $(FULL),--full)

golden: install  ## rewrite the committed golden files of every stack
	$(BIN)/python -m tools.plan --update-golden development staging production

bench: install  ## time the offline plan and the program against a bare Pulumi program (ratios)
	$(BIN)/python -m tools.bench

test: install  ## the whole test suite
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: test lint typecheck
