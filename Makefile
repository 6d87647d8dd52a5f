# Two commands from a fresh clone:  make install plan  /  make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STACK ?= staging
ENGINE_BUILD ?= ../shared/engine/build.sh

.PHONY: install plan preview engine golden test lint typecheck check

install: $(BIN)/.installed
$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

plan: install  ## offline plan of STACK: resource tree + rendered documents under build/STACK
	$(BIN)/python -m tools.plan $(STACK)

preview: install  ## real `pulumi preview` of STACK: offline, no credentials, fake GitHub/Linode API
	$(BIN)/python -m tools.preview $(STACK)

# Only for this team's machines and CI (../shared sits beside the clone there): builds the
# Pulumi CLI and plugins from source into ~/.cache/delivery-engine/bin, which `make preview`
# then finds by itself. Users install the Pulumi CLI instead.
engine:
	bash $(ENGINE_BUILD)

golden: install  ## rewrite the committed golden files of every stack
	$(BIN)/python -m tools.plan --update-golden development staging production

test: install  ## the whole test suite
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: test lint typecheck
