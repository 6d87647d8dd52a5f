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

.PHONY: help install lock plan preview engine golden bench test test-fast tamper lint typecheck check docs reference report notifications-harness cel-harness promtool amtool minio helm chart-golden kube-apiserver charts jaeger

# Installs exactly what the workflows install: requirements-dev.lock pins every transitive
# dependency (pip, setuptools and pip-tools included) with the sha256 of each file, so pip
# refuses anything else, resolves nothing (--no-deps) and builds nothing (--only-binary).
PIP_LOCKED := --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary :all:
install: $(BIN)/.installed  ## create .venv from requirements-dev.lock (hash-checked); every other target does it first
$(BIN)/.installed: requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_LOCKED) -r requirements-dev.lock
	touch $@

# Regenerate the hash locks from requirements*.txt (and Locust's, beside the gate scripts)
# with pip-compile (pinned in requirements-dev.txt) for this Python, the workflows' 3.11.
# Pins already in a lock stay unless a requirement moved them; UPGRADE=1 takes the newest
# transitive versions. tests/system/test_locks.py fails while a lock is stale.
LOCUST_LOCK := components/github/workflows/scripts/locust
SEMGREP_LOCK := components/github/workflows/scripts/semgrep
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url $(if $(UPGRADE),--upgrade)
lock: install  ## rewrite requirements.lock, requirements-dev.lock, requirements-report.lock and the Locust and Semgrep locks from their inputs
	$(PIP_COMPILE) --output-file requirements.lock requirements.txt
	$(PIP_COMPILE) --output-file requirements-dev.lock requirements-dev.txt
	$(PIP_COMPILE) --output-file requirements-report.lock requirements-report.txt
	$(PIP_COMPILE) --output-file $(LOCUST_LOCK).lock $(LOCUST_LOCK).in
	$(PIP_COMPILE) --output-file $(SEMGREP_LOCK).lock $(SEMGREP_LOCK).in

plan: install  ## offline plan of STACK against BASE (default: the golden files); FULL=1 prints every input
	$(BIN)/python -m tools.plan $(STACK) $(if $(BASE),--base $(BASE)) $(if $(FULL),--full)

preview: install  ## real `pulumi preview` of STACK: offline, no credentials, fake GitHub/Linode API
	$(BIN)/python -m tools.preview $(STACK)

# Only for this team's machines and CI (../shared sits beside the clone there): builds the
# Pulumi CLI and plugins from source into ~/.cache/delivery-engine/bin, which `make preview`
# then finds by itself. Users install the Pulumi CLI instead.
engine:  ## build the Pulumi CLI and plugins from source into ~/.cache/delivery-engine/bin (this team's machines and CI)
	bash $(ENGINE_BUILD)

golden: install  ## rewrite the committed golden files of every stack; ALLOW_DELETE=1 when a resource is meant to go
	$(BIN)/python -m tools.plan --update-golden $(if $(ALLOW_DELETE),--allow-delete) development staging production

bench: install  ## time the offline plan and the program against a bare Pulumi program (ratios)
	$(BIN)/python -m tools.bench

# On every core (pytest-xdist): most of the suite's time is spent waiting on the engine, the
# local API servers and other subprocesses, and every test is independent of the others.
# loadgroup: a module marked xdist_group runs on one worker, so its module-scoped fixture (one
# API server and a whole `pulumi up`/`destroy` per stack in test_local_up.py) runs once, not once
# per worker that happens to get one of its tests.
test: install  ## the whole test suite, on every core
	$(BIN)/python -m pytest -n auto --dist loadgroup

# The policy tests alone: no real Pulumi engine, no Go-built tool, no real-tool runs (markers
# in pyproject.toml; docs/development.md, "Tests").
test-fast: install  ## the fast tests: everything but the engine, Go-tool and slow real-tool tests
	$(BIN)/python -m pytest -n auto -m "not engine and not go and not slow"

tamper: install  ## the promotion tamper suite: every attack against the old and the current design, a table per stack
	$(BIN)/python -m pytest -q -s tests/system/test_promotion_integrity.py -k tamper_table

# The DORA report from the metrics bucket (docs/dora-metrics.md): BUCKET and ENDPOINT name it
# (default: METRICS_BUCKET / METRICS_ENDPOINT), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY read it;
# writes $(REPORT_DIR)/summary.md, report.html and missed.txt.
REPORT_DIR ?= report
report: install  ## DORA report (Markdown + HTML plots) of the metrics bucket: BUCKET=... ENDPOINT=... [WEEKS=8]
	$(BIN)/python -m tools.dora $(if $(BUCKET),--bucket $(BUCKET)) $(if $(ENDPOINT),--endpoint $(ENDPOINT)) $(if $(REGION),--region $(REGION)) $(if $(WEEKS),--weeks $(WEEKS)) --out $(REPORT_DIR)

lint: install  ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install  ## mypy, strict, over components/ and tools/
	$(BIN)/mypy

check: test lint typecheck  ## test, lint and typecheck

# The documentation site from docs/ (mkdocs.yml): --strict turns every warning, a broken link
# or anchor among them, into a failure.
docs: install  ## build the documentation site into build/site; a broken link or anchor fails
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

reference: install  ## rewrite the generated parts of docs/reference/ (configuration, identities, make targets, workflows)
	$(BIN)/python -m tools.docs_sections --write

help:  ## list the targets
	@grep -E '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## (.*)/  \1\t\2/' | expand -t 24

promtool: $(TOOLS_CACHE)/promtool  ## promtool of Prometheus v3.14.0 (pinned in tools/promtool/go.mod) for the alert-rule tests
$(TOOLS_CACHE)/promtool: tools/promtool/go.mod tools/promtool/go.sum
	@command -v go >/dev/null || { echo "go not found: promtool needs Go (https://go.dev/dl/)" >&2; exit 1; }
	mkdir -p $(TOOLS_CACHE)
	cd tools/promtool && GOFLAGS=-mod=readonly nice -n 10 go build -trimpath -o $(TOOLS_CACHE)/promtool github.com/prometheus/prometheus/cmd/promtool

# Argo CD's notifications engine, pinned in tools/notifications/go.mod, evaluating the
# rendered triggers and templates (tests/support/notifications_harness.py runs it).
NOTIFICATIONS_HARNESS := $(TOOLS_CACHE)/notifications-harness
notifications-harness: $(NOTIFICATIONS_HARNESS)  ## build the notifications harness (needs Go)
$(NOTIFICATIONS_HARNESS): tools/notifications/main.go tools/notifications/go.mod tools/notifications/go.sum
	@command -v go >/dev/null || { echo "go not found: the notifications harness needs Go (https://go.dev/dl/)" >&2; exit 1; }
	mkdir -p $(dir $(abspath $@))
	cd tools/notifications && GOFLAGS=-mod=readonly go build -trimpath -o $(abspath $@) .

# The Kubernetes API server's ValidatingAdmissionPolicy plugin (k8s.io/apiserver, pinned in
# tools/cel/go.mod) compiling the declared admission policies and judging sample Pods
# (tests/support/cel_harness.py runs it). A cold build compiles much of k8s.io/apiserver
# (docs/benchmarks.md, "Tool builds").
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

# MinIO, the S3-compatible server the report's tests load event histories into (pinned in
# tools/minio/go.mod; tests/support/s3_server.py starts it on 127.0.0.1).
minio: $(TOOLS_CACHE)/minio  ## MinIO server (pinned in tools/minio/go.mod) for the DORA report tests
$(TOOLS_CACHE)/minio: tools/minio/go.mod tools/minio/go.sum
	@command -v go >/dev/null || { echo "go not found: MinIO needs Go (https://go.dev/dl/)" >&2; exit 1; }
	mkdir -p $(TOOLS_CACHE)
	cd tools/minio && GOFLAGS=-mod=readonly nice -n 10 go build -trimpath -o $(TOOLS_CACHE)/minio github.com/minio/minio

# Jaeger v2 (the OpenTelemetry-collector-based single binary, pinned in tools/jaeger/go.mod at
# module v1.75.0, the release of the v2.12.0 image) for the tracing test: it runs the config
# components/monitoring/jaeger.py renders, on 127.0.0.1 (tests/monitoring/test_jaeger_engine.py).
jaeger: $(TOOLS_CACHE)/jaeger  ## Jaeger v2 (pinned in tools/jaeger/go.mod) for the tracing backend test
$(TOOLS_CACHE)/jaeger: tools/jaeger/go.mod tools/jaeger/go.sum
	@command -v go >/dev/null || { echo "go not found: Jaeger needs Go (https://go.dev/dl/)" >&2; exit 1; }
	mkdir -p $(TOOLS_CACHE)
	cd tools/jaeger && GOFLAGS=-mod=readonly nice -n 10 go build -trimpath -o $(TOOLS_CACHE)/jaeger github.com/jaegertracing/jaeger/cmd/jaeger

# The Helm CLI (helm.sh/helm/v3, pinned in tools/helm/go.mod) rendering the service chart for
# every service and environment (tools/service_chart.py runs it).
helm: $(TOOLS_CACHE)/helm  ## Helm v3.22.0 (pinned in tools/helm/go.mod) for the service-chart renders
$(TOOLS_CACHE)/helm: tools/helm/go.mod tools/helm/go.sum
	@command -v go >/dev/null || { echo "go not found: helm needs Go (https://go.dev/dl/)" >&2; exit 1; }
	mkdir -p $(TOOLS_CACHE)
	cd tools/helm && GOFLAGS=-mod=readonly nice -n 10 go build -trimpath -o $(TOOLS_CACHE)/helm helm.sh/helm/v3/cmd/helm

chart-golden: install helm  ## rewrite tests/golden/charts: every service's chart rendered by Helm for every stack
	$(BIN)/python -m tools.service_chart golden

# A local Kubernetes API server for tests/kubernetes/test_local_cluster.py: kube-apiserver of
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
