# Two commands from a fresh clone:  make install plan  /  make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STACK ?= staging
# Go tool binaries build outside the repository; tests that need one skip loudly without it.
TOOLS_CACHE ?= $(HOME)/.cache/delivery-tools

.PHONY: install plan golden test lint typecheck check promtool

install: $(BIN)/.installed
$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

plan: install  ## offline plan of STACK: resource tree + rendered documents under build/STACK
	$(BIN)/python -m tools.plan $(STACK)

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

promtool: $(TOOLS_CACHE)/promtool  ## promtool of Prometheus v3.14.0 (pinned in tools/promtool/go.mod) for the alert-rule tests
$(TOOLS_CACHE)/promtool: tools/promtool/go.mod tools/promtool/go.sum
	mkdir -p $(TOOLS_CACHE)
	cd tools/promtool && nice -n 10 go build -trimpath -o $(TOOLS_CACHE)/promtool github.com/prometheus/prometheus/cmd/promtool
