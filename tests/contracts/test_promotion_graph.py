"""The path from a merge to production, computed from what the program renders.

Nodes are the jobs of the rendered workflow files (production's recording: it commits
them), the triggers, the GitOps directories the jobs write, Argo CD in staging (its
rendered Helm values: the `staging-deployed` dispatch), artifacts and commit statuses. Edges:

- a trigger starts a workflow's jobs that need nothing; ``needs`` links jobs;
- a job whose step writes ``TARGET_DIR`` (with a token to push) commits to that GitOps
  directory; a job whose step reads a GitOps ``IMAGES_DIR`` needs images there;
- staging's Argo CD syncs its directory and, if its notifications send the dispatch,
  fires ``repository_dispatch`` of that event type;
- a job whose step reads staging through the observer (``OBSERVER_KUBECONFIG``) needs
  staging's Argo CD to have synced;
- a job that uploads an artifact writes it; a job whose step reads the validation evidence
  (``EVIDENCE_ARTIFACT``) cannot succeed without it (the evidence of a run of
  ``staging-validation.yml`` on main: ``test_promotion_integrity.py`` proves nothing else
  passes the gate);
- a job whose step has ``STATUS_CONTEXT`` writes that commit status; one with
  ``REQUIRED_STATUS`` cannot succeed without it.

Two readings: every path from the delivery push to a job that writes production's
directory passes the validation gate; and, with AND semantics (a job runs only when its
trigger fired, every job it needs and every requirement succeeded), without the
validation gate or the staging deploy nothing reaches production, whatever is started by
hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from components.contracts.events import STAGING_DEPLOYED_EVENT
from tests.support.stacks import run_stack
from tools.plan import render_documents

WORKFLOWS = "github/.github/workflows/"
STAGING_DIR = "gitops/clusters/staging"
PRODUCTION_DIR = "gitops/clusters/production"
VALIDATION_GATE = "staging-validation.yml:gate"
STAGING_DEPLOY = "delivery.yml:deploy-staging"


def _steps_env(job: dict[str, Any]) -> Iterator[dict[str, str]]:
    for step in job.get("steps", []):
        yield {k: str(v) for k, v in (step.get("env") or {}).items()}


def _dispatch_events(helm_values: dict[str, Any]) -> set[str]:
    """Event types staging's Argo CD sends as repository_dispatch (template and subscription)."""
    notifications = helm_values.get("notifications", {})
    subscribed = {
        trigger for sub in notifications.get("subscriptions", []) for trigger in sub.get("triggers", [])
    }
    events: set[str] = set()
    for key, trigger_text in notifications.get("triggers", {}).items():
        if key.removeprefix("trigger.") not in subscribed:
            continue
        for condition in yaml.safe_load(trigger_text):
            for template in condition["send"]:
                doc = yaml.safe_load(notifications["templates"][f"template.{template}"])
                for hook in (doc.get("webhook") or {}).values():
                    if str(hook.get("path", "")).endswith("/dispatches"):
                        for event in (STAGING_DEPLOYED_EVENT,):
                            if f'"event_type" "{event}"' in hook["body"]:
                                events.add(event)
    return events


class Graph:
    def __init__(self, workflows: dict[str, dict[str, Any]], staging_values: dict[str, Any]) -> None:
        self.edges: dict[str, set[str]] = {}
        # job -> groups of alternatives: it succeeds when every group has one node succeeded
        self.requires: dict[str, list[set[str]]] = {}
        self.entries: set[str] = set()
        for file, doc in workflows.items():
            triggers: set[str] = set()
            for event, spec in doc["on"].items():
                if event == "repository_dispatch":
                    triggers |= {f"event:repository_dispatch:{t}" for t in spec["types"]}
                else:
                    triggers.add(f"event:{event}:{file}")
                    self.entries.add(f"event:{event}:{file}")
            for job_id, job in doc["jobs"].items():
                node = f"{file}:{job_id}"
                needs = [f"{file}:{n}" for n in job.get("needs", [])]
                groups = [{need} for need in needs] or [triggers]
                for group in groups:
                    for source in group:
                        self._edge(source, node)
                for env in _steps_env(job):
                    if "TARGET_DIR" in env and ("PUSH_TOKEN" in env or "GH_TOKEN" in env):
                        self._edge(node, f"gitops:{env['TARGET_DIR']}")
                    # (the deploy jobs' IMAGES_DIR is the runner's download directory, not GitOps)
                    if "IMAGES_DIR" in env and "${{" not in env["IMAGES_DIR"]:
                        gitops = f"gitops:{env['IMAGES_DIR'].removesuffix('/images')}"
                        self._edge(gitops, node)
                        groups.append({gitops})
                    if "OBSERVER_KUBECONFIG" in env:
                        # Reads what staging's Argo CD runs: needs staging synced.
                        self._edge("argocd:staging", node)
                        groups.append({"argocd:staging"})
                    if "EVIDENCE_ARTIFACT" in env:
                        artifact = f"artifact:{env['EVIDENCE_ARTIFACT']}"
                        self._edge(artifact, node)
                        groups.append({artifact})
                    if "STATUS_CONTEXT" in env:
                        self._edge(node, f"status:{env['STATUS_CONTEXT']}")
                    if "REQUIRED_STATUS" in env:
                        status = f"status:{env['REQUIRED_STATUS']}"
                        self._edge(status, node)
                        groups.append({status})
                for step in job.get("steps", []):
                    if str(step.get("uses", "")).startswith("actions/upload-artifact@"):
                        self._edge(node, f"artifact:{step['with']['name']}")
                self.requires[node] = groups
        self._edge(f"gitops:{STAGING_DIR}", "argocd:staging")
        for event in _dispatch_events(staging_values):
            self._edge("argocd:staging", f"event:repository_dispatch:{event}")

    def _edge(self, a: str, b: str) -> None:
        self.edges.setdefault(a, set()).add(b)

    def paths(self, start: str, goal: set[str]) -> list[list[str]]:
        """Every path without repeated nodes from `start` to a node of `goal`."""
        found: list[list[str]] = []

        def walk(node: str, path: list[str]) -> None:
            if node in goal:
                found.append(path)
                return
            for nxt in sorted(self.edges.get(node, ())):
                if nxt not in path:
                    walk(nxt, [*path, nxt])

        walk(start, [start])
        return found

    def runnable(self, removed: frozenset[str] = frozenset()) -> set[str]:
        """What can succeed with every entry (push, schedule, by hand...) fired: a job when
        each of its requirement groups has a succeeded node, anything else (a directory, a
        status, an event) when one of its sources succeeded."""
        sources: dict[str, set[str]] = {}
        for a, targets in self.edges.items():
            for b in targets:
                sources.setdefault(b, set()).add(a)
        done = set(self.entries)
        changed = True
        while changed:
            changed = False
            for node, origins in sources.items():
                if node in done or node in removed:
                    continue
                if node in self.requires:
                    ok = all(group & done for group in self.requires[node])
                else:
                    ok = bool(origins & done)
                if ok:
                    done.add(node)
                    changed = True
        return done


@pytest.fixture(scope="module")
def graph() -> Graph:
    docs = render_documents(run_stack("production"))
    workflows = {
        rel.removeprefix(WORKFLOWS): yaml.safe_load(text)
        for rel, text in docs.items()
        if rel.startswith(WORKFLOWS)
    }
    for doc in workflows.values():
        doc["on"] = doc.pop(True)  # YAML 1.1 reads the key `on` as True; GitHub as "on"
    staging = yaml.safe_load(render_documents(run_stack("staging"))["helm/argocd.values.yaml"])
    return Graph(workflows, staging)


def production_writers(graph: Graph) -> set[str]:
    return {a for a, targets in graph.edges.items() if f"gitops:{PRODUCTION_DIR}" in targets}


def test_staging_argocd_dispatches_the_event_validation_runs_on(graph: Graph) -> None:
    assert "event:repository_dispatch:staging-deployed" in graph.edges["argocd:staging"]
    assert "staging-validation.yml:target" in graph.edges["event:repository_dispatch:staging-deployed"]


def test_every_path_from_the_delivery_push_to_production_passes_the_validation_gate(graph: Graph) -> None:
    writers = production_writers(graph)
    assert writers == {"promote.yml:promote"}
    paths = graph.paths("event:push:delivery.yml", writers)
    assert paths, "no path from the delivery push to production's release branch"
    for path in paths:
        assert VALIDATION_GATE in path, " -> ".join(path)
        assert path.index(STAGING_DEPLOY) < path.index(VALIDATION_GATE)


def test_promotion_needs_validation_and_validation_needs_the_staging_deploy(graph: Graph) -> None:
    everything = graph.runnable()
    assert {VALIDATION_GATE, "promote.yml:promote"} <= everything
    # Started by hand or not, nothing reaches production without a green validation...
    assert "promote.yml:promote" not in graph.runnable(frozenset({VALIDATION_GATE}))
    # ...and validation has nothing to validate without the staging deploy.
    without_deploy = graph.runnable(frozenset({STAGING_DEPLOY}))
    assert VALIDATION_GATE not in without_deploy
    assert "promote.yml:promote" not in without_deploy
