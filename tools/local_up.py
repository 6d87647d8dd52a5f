"""A real `pulumi up` of a stack's Kubernetes half against an existing cluster, the
`pulumi preview --expect-no-changes` that must follow it, and the `pulumi destroy` that ends it.

The stack's committed config, switched to existing-cluster mode (`cluster.source:
kubeconfig`, `github.enabled: false`: no GitHub object, Argo CD reading the public https
URL; production adopted explicitly, `cluster.existingInProduction`), charts from
`charts.repository` without waiting for workloads (`charts.skipAwait`), the chart versions
the local repository holds (tools/charts.json: stand-ins where the pinned one is not
obtainable, subcharts it lacks left out with `charts.withoutSubcharts`). The engine, state
and PULUMI_HOME are tools/preview.py's: a file backend in a scratch directory, a throwaway
passphrase, no plugin downloads, no ambient credentials.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
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
    # Not in the local chart repository (docs/local-cluster.md, "What is not checked"): the
    # OpenTelemetry collector, whose repository the Go module proxy here refuses (403). So tracing
    # is off (the in-cluster Jaeger goes with it).
    monitoring["tracing"] = {**dict(monitoring.get("tracing") or {}), "enabled": False}
    values["delivery:monitoring"] = monitoring
    ingress = dict(values.get("delivery:ingress") or {})
    ingress["traefikChartVersion"] = versions["traefik"]
    ingress["certManagerChartVersion"] = versions["cert-manager"]
    values["delivery:ingress"] = ingress
    return values


@dataclass
class Step:
    command: str
    returncode: int
    output: str
    events: list[dict[str, Any]]

    def order(self, event: str, op: str) -> dict[str, int]:
        """urn -> position in the event log of its `event` (`resourcePreEvent`: the step started,
        `resOutputsEvent`: it finished) for steps of kind `op`."""
        return {
            str(e[event]["metadata"]["urn"]): i
            for i, e in enumerate(self.events)
            if event in e and e[event]["metadata"]["op"] == op
        }

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

    def run(
        self,
        *args: str,
        extra_env: Mapping[str, str] | None = None,
        give_up: Callable[[], str | None] | None = None,
    ) -> Step:
        """`pulumi <args>` with its event log; never raises on the command's own failure.

        `give_up`, asked every second, returns why the command can never finish (say, a
        finalizer nobody will clear): the command is then interrupted (SIGINT, as Ctrl-C: the
        engine stops and saves its state) instead of waiting for the provider's own timeout.
        """
        events_file = self.work / f"events-{args[0]}-{len(list(self.work.glob('events-*')))}.jsonl"
        output = self.work / f"output-{events_file.stem}.txt"
        deadline = time.monotonic() + self.timeout
        reason = None
        with output.open("w") as out:
            process = subprocess.Popen(
                [
                    self.pulumi,
                    *args,
                    "--stack",
                    self.stack,
                    "--non-interactive",
                    "--event-log",
                    str(events_file),
                ],
                cwd=self.project,
                env={**self.env, **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            try:
                while process.poll() is None:
                    if reason is None and give_up is not None and (reason := give_up()) is not None:
                        process.send_signal(signal.SIGINT)
                        # The engine waits for the steps under way; a provider still waiting
                        # gets a minute to notice the cancellation.
                        deadline = min(deadline, time.monotonic() + 60)
                    if time.monotonic() > deadline:
                        reason = reason or f"still running after {self.timeout:.0f}s"
                        process.kill()
                    time.sleep(1)
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait()
        events = (
            [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
            if events_file.exists()
            else []
        )
        text = output.read_text(errors="replace") + (f"\n(interrupted: {reason})" if reason else "")
        return Step(" ".join(args), process.returncode, text, events)

    def up(self) -> Step:
        return self.run("up", "--yes", "--skip-preview")

    def preview_no_changes(self) -> Step:
        return self.run("preview", "--expect-no-changes")

    def destroy(self, give_up: Callable[[], str | None] | None = None) -> Step:
        return self.run("destroy", "--yes", "--skip-preview", give_up=give_up)

    def unprotect_all(self) -> None:
        """`pulumi state unprotect --all`: what production's removal starts with (docs/operations.md)."""
        self._cli("state", "unprotect", "--all", "--yes")

    def resources(self) -> list[dict[str, Any]]:
        """The resources of the stack's state (`pulumi stack export`)."""
        exported = subprocess.run(
            [self.pulumi, "stack", "export", "--stack", self.stack],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        return list(json.loads(exported.stdout)["deployment"].get("resources") or [])
