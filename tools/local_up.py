"""A real `pulumi up` of a stack's Kubernetes half against an existing cluster, then the
`pulumi preview --expect-no-changes` that must follow it.

The stack's committed config, switched to existing-cluster mode (`cluster.source:
kubeconfig`, `github.enabled: false`: no GitHub object, Argo CD reading the public https
URL), charts from `charts.repository` without waiting for workloads (`charts.skipAwait`),
the chart versions the local repository holds (tools/charts.json: stand-ins where the
pinned one is not obtainable). The engine, state and PULUMI_HOME are tools/preview.py's:
a file backend in a scratch directory, a throwaway passphrase, no plugin downloads, no
ambient credentials.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.charts import listed
from tools.offline import declared_secrets, read_stack_file, stack_file, with_offline_pins
from tools.preview import PASSPHRASE, _current_venv, _environment, _scratch_project, require_pulumi

# Every stack's shape. Production's as an adopted cluster (cluster.existingInProduction) without
# GitHub, everything else of it kept: HA Argo CD, its protected namespaces and Applications,
# manual sync, two Prometheus and Alertmanager replicas. Its redis-ha subchart is not in the
# local repository (tools/charts.json), so its Argo CD runs the replicated components with the
# chart's single Redis (charts.withoutSubcharts).
SHAPES = ("development", "staging", "production")
PUBLIC_REPO_URL = "https://github.com/{owner}/{repository}.git"


def local_values(stack: str, repository: str) -> dict[str, Any]:
    """The committed `config:` block of `stack`, pointed at an existing cluster and a chart mirror."""
    values: dict[str, Any] = with_offline_pins(read_stack_file(stack_file(stack)).get("config") or {}, stack)
    github = dict(values["delivery:github"])
    github["enabled"] = False
    # Without GitHub no stack declares the repository-wide objects (config refuses it).
    github.pop("manageRepository", None)
    values["delivery:github"] = github
    cluster = dict(values.get("delivery:cluster") or {})
    cluster["source"] = "kubeconfig"
    cluster.pop("controlPlaneAcl", None)
    if values.get("delivery:environment", stack) == "production":
        cluster["existingInProduction"] = True
    values["delivery:cluster"] = cluster
    gitops = dict(values.get("delivery:gitops") or {})
    gitops["repoUrl"] = PUBLIC_REPO_URL.format(owner=github["owner"], repository=github["repository"])
    values["delivery:gitops"] = gitops
    charts: dict[str, Any] = {"repository": repository, "skipAwait": True}
    # Subcharts the local repository lacks that this stack would install (tools/charts.json).
    dropped = {sub for c in listed() for sub in c.get("drop", {})}
    argocd_ha = bool((values.get("delivery:argocd") or {}).get("highAvailability"))
    if argocd_ha and "redis-ha" in dropped:
        charts["withoutSubcharts"] = ["redis-ha"]
    values["delivery:charts"] = charts
    versions = {c["name"]: c["version"] for c in listed()}
    argocd = dict(values.get("delivery:argocd") or {})
    argocd["chartVersion"] = versions["argo-cd"]
    rollouts = dict(argocd.get("rollouts") or {})
    if rollouts.get("enabled", True):
        rollouts["chartVersion"] = versions["argo-rollouts"]
        argocd["rollouts"] = rollouts
    values["delivery:argocd"] = argocd
    monitoring = dict(values.get("delivery:monitoring") or {})
    monitoring["chartVersion"] = versions["kube-prometheus-stack"]
    # Not in the local chart repository (docs/local-cluster.md, "What the test cannot check"):
    # the OpenTelemetry collector, ingress-nginx and cert-manager (whose chart is generated at
    # its release, not kept in its repository), so neither the add-ons nor the issuers go up here.
    monitoring["tracing"] = {**dict(monitoring.get("tracing") or {}), "enabled": False}
    values["delivery:monitoring"] = monitoring
    values["delivery:ingress"] = {**dict(values.get("delivery:ingress") or {}), "enabled": False}
    return values


@dataclass
class Step:
    command: str
    returncode: int
    output: str
    events: list[dict[str, Any]]

    def operations(self) -> list[tuple[str, str]]:
        """(op, urn) of every finished step, in the engine's order."""
        return [
            (str(e["resOutputsEvent"]["metadata"]["op"]), str(e["resOutputsEvent"]["metadata"]["urn"]))
            for e in self.events
            if "resOutputsEvent" in e
        ]

    def changes(self) -> dict[str, int]:
        for event in self.events:
            if "summaryEvent" in event:
                return dict(event["summaryEvent"].get("resourceChanges") or {})
        return {}


class LocalStack:
    """One stack's scratch project, state and engine environment."""

    def __init__(self, stack: str, work: Path, kubeconfig: str, repository: str, *, timeout: float = 1500):
        self.stack = stack
        self.work = work
        self.timeout = timeout
        self.values = local_values(stack, repository)
        self.project = _scratch_project(work, stack, self.values, _current_venv())
        self.env = _environment(work)
        self.pulumi = require_pulumi()
        self._cli("stack", "init")
        for key in declared_secrets():
            value = PASSPHRASE if key == "ciPulumiPassphrase" else f"dummy-{key}"
            self._cli("config", "set", "--secret", key, value)
        self._cli("config", "set", "--secret", "kubeconfig", kubeconfig)

    def _cli(self, *args: str) -> None:
        done = subprocess.run(
            [self.pulumi, *args, "--stack", self.stack, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=self.timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"`pulumi {args[0]} {args[1]}` failed:\n{done.stdout}{done.stderr}")

    def run(self, *args: str, extra_env: Mapping[str, str] | None = None) -> Step:
        """`pulumi <args>` with its event log; never raises on the command's own failure."""
        events_file = self.work / f"events-{args[0]}-{len(list(self.work.glob('events-*')))}.jsonl"
        done = subprocess.run(
            [self.pulumi, *args, "--stack", self.stack, "--non-interactive", "--event-log", str(events_file)],
            cwd=self.project,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=self.timeout,
        )
        events = (
            [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
            if events_file.exists()
            else []
        )
        return Step(" ".join(args), done.returncode, done.stdout + done.stderr, events)

    def up(self) -> Step:
        return self.run("up", "--yes", "--skip-preview")

    def preview_no_changes(self) -> Step:
        return self.run("preview", "--expect-no-changes")

    def destroy(self) -> Step:
        return self.run("destroy", "--yes", "--skip-preview")
