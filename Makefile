# Two commands from a fresh clone:  make install plan  /  make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STACK ?= staging
ENGINE_BUILD ?= ../shared/engine/build.sh
# Go tool binaries build here, outside the repository (CI keeps ~/.cache between runs);
# exported so the tests find them.
TOOLS_CACHE ?= $(HOME)/.cache/delivery-tools
export TOOLS_CACHE

.PHONY: install lock plan preview engine golden bench test tamper lint typecheck check notifications-harness cel-harness promtool amtool kube-apiserver charts

# Installs exactly what the workflows install: requirements-dev.lock pins every transitive
# dependency (pip, setuptools and pip-tools included) with the sha256 of each file, so pip
# refuses anything else, resolves nothing (--no-deps) and builds nothing (--only-binary).
PIP_LOCKED := --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary :all:
install: $(BIN)/.installed
$(BIN)/.installed: requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_LOCKED) -r requirements-dev.lock
	touch $@

# Regenerate the hash locks from requirements*.txt (and Locust's, beside the gate scripts)
# with pip-compile (pinned in requirements-dev.txt) for this Python, the workflows' 3.11.
# Pins already in a lock stay unless a requirement moved them; UPGRADE=1 takes the newest
# transitive versions. tests/test_locks.py fails while a lock is stale.
LOCUST_LOCK := components/github/workflows/scripts/locust
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url $(if $(UPGRADE),--upgrade)
lock: install  ## rewrite requirements.lock, requirements-dev.lock and the Locust lock from their inputs
	$(PIP_COMPILE) --output-file requirements.lock requirements.txt
	$(PIP_COMPILE) --output-file requirements-dev.lock requirements-dev.txt
	$(PIP_COMPILE) --output-file $(LOCUST_LOCK).lock $(LOCUST_LOCK).in

plan: install  ## offline plan of STACK against BASE (default: the golden files); FULL=1 prints every input
	$(BIN)/python -m tools.plan $(STACK) $(if $(BASE),--base $(BASE)) $(if $(FULL),--full)

preview: install  ## real `pulumi preview` of STACK: offline, no credentials, fake GitHub/Linode API
	$(BIN)/python -m tools.preview $(STACK)

# Only for this team's machines and CI (../shared sits beside the clone there): builds the
# Pulumi CLI and plugins from source into ~/.cache/delivery-engine/bin, which `make preview`
# then finds by itself. Users install the Pulumi CLI instead.
engine:
	bash $(ENGINE_BUILD)

golden: install  ## rewrite the committed golden files of every stack; ALLOW_DELETE=1 when a resource is meant to go
	$(BIN)/python -m tools.plan --update-golden $(if $(ALLOW_DELETE),--allow-delete) development staging production

bench: install  ## time the offline plan and the program against a bare Pulumi program (ratios)
	$(BIN)/python -m tools.bench

test: install  ## the whole test suite
	$(BIN)/python -m pytest

tamper: install  ## the promotion tamper suite: every attack against the old and the current design, a table per stack
	$(BIN)/python -m pytest -q -s tests/test_promotion_integrity.py -k tamper_table

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: test lint typecheck

promtool: $(TOOLS_CACHE)/promtool  ## promtool of Prometheus v3.14.0 (pinned in tools/promtool/go.mod) for the alert-rule tests
$(TOOLS_CACHE)/promtool: tools/promtool/go.mod tools/promtool/go.sum
	@command -v go >/dev/null || { echo "go not found: promtool needs Go (https://go.dev/dl/)" >&2; exit 1; }
	mkdir -p $(TOOLS_CACHE)
	cd tools/promtool && GOFLAGS=-mod=readonly nice -n 10 go build -trimpath -o $(TOOLS_CACHE)/promtool github.com/prometheus/prometheus/cmd/promtool

# Argo CD's notifications engine, pinned in tools/notifications/go.mod, evaluating the
# rendered triggers and templates (tests/notifications_harness.py runs it).
NOTIFICATIONS_HARNESS := $(TOOLS_CACHE)/notifications-harness
notifications-harness: $(NOTIFICATIONS_HARNESS)  ## build the notifications harness (needs Go)
$(NOTIFICATIONS_HARNESS): tools/notifications/main.go tools/notifications/go.mod tools/notifications/go.sum
	@command -v go >/dev/null || { echo "go not found: the notifications harness needs Go (https://go.dev/dl/)" >&2; exit 1; }
	mkdir -p $(dir $(abspath $@))
	cd tools/notifications && GOFLAGS=-mod=readonly go build -trimpath -o $(abspath $@) .

# The Kubernetes API server's ValidatingAdmissionPolicy plugin (k8s.io/apiserver, pinned in
# tools/cel/go.mod) compiling the declared admission policies and judging sample Pods
# (tests/cel_harness.py runs it). A cold build compiles much of k8s.io/apiserver: 11 minutes
# on this shared 2-core machine (README, "Pod admission policies").
CEL_HARNESS := $(TOOLS_CACHE)/cel-harness
cel-harness: $(CEL_HARNESS)  ## build the admission-policy CEL harness (needs Go)
$(CEL_HARNESS): tools/cel/main.go tools/cel/go.mod tools/cel/go.sum
	@command -v go >/dev/null || { echo "go not found: the CEL harness needs Go (https://go.dev/dl/)" >&2; exit 1; }
	mkdir -p $(dir $(abspath $@))
	cd tools/cel && GOFLAGS=-mod=readonly nice -n 10 go build -trimpath -o $(abspath $@) .

amtool: $(TOOLS_CACHE)/amtool  ## amtool of Alertmanager v0.34.0 (pinned in tools/amtool/go.mod) for the routing tests
$(TOOLS_CACHE)/amtool: tools/amtool/go.mod tools/amtool/go.sum
	@command -v go >/dev/null || { echo "go not found: amtool needs Go (https://go.dev/dl/)" >&2; exit 1; }
	mkdir -p $(TOOLS_CACHE)
	cd tools/amtool && GOFLAGS=-mod=readonly nice -n 10 go build -trimpath -o $(TOOLS_CACHE)/amtool github.com/prometheus/alertmanager/cmd/amtool

# A local Kubernetes API server for tests/test_local_cluster.py: kube-apiserver of
# Kubernetes v1.34.12 and etcd v3.6.4, both pinned in tools/kube-apiserver/go.mod. The
# version stamps are what the API server reports (/version), which the Kubernetes provider
# reads. A cold build compiles most of Kubernetes: see docs/local-cluster.md for its cost.
KUBE_VERSION := v1.34.12
KUBE_LDFLAGS := -s -w $(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,-X $(p).gitVersion=$(KUBE_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=34 -X $(p).gitTreeState=clean)
kube-apiserver: $(TOOLS_CACHE)/kube-apiserver $(TOOLS_CACHE)/etcd  ## build kube-apiserver and etcd for the local API server test (needs Go)
$(TOOLS_CACHE)/kube-apiserver: tools/kube-apiserver/go.mod tools/kube-apiserver/go.sum
	@command -v go >/dev/null || { echo "go not found: kube-apiserver needs Go (https://go.dev/dl/)" >&2; exit 1; }
	mkdir -p $(TOOLS_CACHE)
	cd tools/kube-apiserver && GOFLAGS=-mod=readonly nice -n 10 go build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $(TOOLS_CACHE)/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
$(TOOLS_CACHE)/etcd: tools/kube-apiserver/etcd/main.go tools/kube-apiserver/go.mod tools/kube-apiserver/go.sum
	@command -v go >/dev/null || { echo "go not found: etcd needs Go (https://go.dev/dl/)" >&2; exit 1; }
	mkdir -p $(TOOLS_CACHE)
	cd tools/kube-apiserver && GOFLAGS=-mod=readonly nice -n 10 go build -trimpath -ldflags '-s -w' -o $(TOOLS_CACHE)/etcd ./etcd

# The Helm charts of tools/charts.json as a local Helm repository in $(CHARTS_CACHE), read
# once through the Go module proxy (a public GitHub repository at a commit, as a module zip);
# nothing fetched is committed. `python -m tools.charts --serve` serves it on 127.0.0.1 for
# delivery:charts.repository (docs/local-cluster.md).
CHARTS_CACHE ?= $(HOME)/.cache/delivery-charts
export CHARTS_CACHE
charts: $(CHARTS_CACHE)/index.yaml  ## fetch the pinned charts once into a local Helm repository (needs Go)
$(CHARTS_CACHE)/index.yaml: tools/charts.json tools/charts.py | install
	@command -v go >/dev/null || { echo "go not found: make charts reads the charts through the Go module proxy" >&2; exit 1; }
	$(BIN)/python -m tools.charts
