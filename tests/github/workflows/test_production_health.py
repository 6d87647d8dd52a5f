"""The promotion's production-health job (promote.yml): after the release branch moved, it
waits for the operator's sync, the blue-green promotion and its post-promotion analysis,
reports production's health to the promotion's run, and pages PagerDuty when production is
not healthy at the release (an aborted Rollout, switched back to the previous version, makes
its Application Degraded: argo-cd docs, "Resource Health", argoproj.io/Rollout).

The job's scripts run here as a runner runs them: bash, a kubectl that replays Application
listings, the real staging_state.py, a git checkout of the release, a curl that records
what it would send."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.contracts.gitops_layout import LABEL_ENVIRONMENT
from components.github import ci_contract
from components.github.workflows import promote
from components.github.workflows.scripts import staging_state
from tests.support.scratch import bash, git, kubectl_replaying, shim
from tests.support.workflows import committed_workflows
from tools.offline import Run

pytestmark = pytest.mark.slow

STATE_SCRIPT = Path(staging_state.__file__)
REGISTRY = "ghcr.io/ai-aas"
IMAGES = "gitops/clusters/production/images"
DIGESTS = {"api-router-service": "sha256:" + "a" * 64, "web-portal": "sha256:" + "b" * 64}
OLD = {"api-router-service": "sha256:" + "c" * 64, "web-portal": "sha256:" + "d" * 64}


def image_file(service: str, digest: str) -> str:
    return (
        f'image:\n  repository: {REGISTRY}/{service}\n  tag: "{"1" * 40}@{digest}"\n'
        f"  digest: {digest}\n  reference: {REGISTRY}/{service}@{digest}\n"
    )


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, str, str]:
    """A checkout at the release commit; (work tree, previous release, release)."""
    work = tmp_path / "release"
    work.mkdir()
    git(work, "init", "--quiet", "-b", "release/production")
    commits = []
    for digests in (OLD, DIGESTS):
        for service, digest in digests.items():
            path = work / IMAGES / f"{service}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(image_file(service, digest))
        git(work, "add", ".")
        git(work, "commit", "--quiet", "-m", "promote")
        commits.append(git(work, "rev-parse", "HEAD"))
    return work, commits[0], commits[1]


def application(service: str, revision: str, images: list[str], health: str = "Healthy") -> dict[str, Any]:
    return {
        "metadata": {"name": f"platform-production-{service}", "labels": {LABEL_ENVIRONMENT: "production"}},
        "status": {
            "sync": {"status": "Synced", "revisions": [revision, revision]},
            "health": {"status": health},
            "operationState": {"phase": "Succeeded"},
            "summary": {"images": images},
        },
    }


def listing(revision: str, digests: dict[str, str], health: dict[str, str] | None = None) -> dict[str, Any]:
    health = health or {}
    return {
        "items": [
            application(s, revision, [f"{REGISTRY}/{s}@{d}"], health.get(s, "Healthy"))
            for s, d in digests.items()
        ]
    }


def run_health(
    tmp_path: Path, work: Path, release_commit: str, answers: list[dict[str, Any]], minutes: int = 30
) -> tuple[int, str, str]:
    bin_dir = kubectl_replaying(tmp_path, answers)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "OBSERVER_KUBECONFIG": "apiVersion: v1\nkind: Config\n",
        "SELECTOR": f"{LABEL_ENVIRONMENT}=production",
        "ENVIRONMENT": "production",
        "REGISTRY": REGISTRY,
        "IMAGES_DIR": IMAGES,
        "STATE_SCRIPT": str(STATE_SCRIPT),
        "RELEASE": release_commit,
        "HEALTH_MINUTES": str(minutes),
        "POLL_SECONDS": "0",
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "OUTCOME_FILE": str(tmp_path / "outcome"),
    }
    done = bash(promote.HEALTH_SCRIPT, work, env)
    summary = (tmp_path / "summary").read_text() if (tmp_path / "summary").exists() else ""
    return done.returncode, done.stdout + done.stderr, summary


def test_health_waits_for_the_sync_and_the_promotion_then_reports_to_the_run(
    tmp_path: Path, release: tuple[Path, str, str]
) -> None:
    work, previous, commit = release
    answers = [
        listing(previous, OLD),  # not synced yet: the previous release, healthy
        listing(commit, DIGESTS, {"web-portal": "Suspended"}),  # blue-green paused for its promotion
        listing(commit, {**DIGESTS, "web-portal": OLD["web-portal"]}),  # promoted, old RS not scaled down
        listing(commit, DIGESTS),
    ]
    code, says, summary = run_health(tmp_path, work, commit, answers)
    assert code == 0, says
    assert (tmp_path / "outcome").read_text() == "healthy\n"
    assert json.loads((tmp_path / "applications.json").read_text()) == answers[-1], "the last listing is kept"
    assert f"production healthy at `{commit}`" in summary
    assert "| platform-production-web-portal | Synced/Healthy |" in summary
    calls = (tmp_path / "kubectl" / "args").read_text().splitlines()
    assert len(calls) == 4 and all(f"--selector {LABEL_ENVIRONMENT}=production" in c for c in calls)


def test_an_aborted_rollout_fails_the_promotion_at_once(
    tmp_path: Path, release: tuple[Path, str, str]
) -> None:
    """A failed post-promotion analysis aborts the Rollout: Argo Rollouts switches the
    active Service back, the Application turns Degraded, the job fails (and pages)."""
    work, _, commit = release
    aborted = listing(commit, DIGESTS, {"api-router-service": "Degraded"})
    code, says, _ = run_health(tmp_path, work, commit, [aborted, listing(commit, DIGESTS)])
    assert code == 1
    assert (tmp_path / "outcome").read_text() == "unhealthy\n"
    assert "production is unhealthy after the sync" in says and "Degraded" in says
    assert (tmp_path / "kubectl" / "count").read_text().strip() == "1", "no waiting once Degraded"


def test_no_sync_within_the_deadline_fails(tmp_path: Path, release: tuple[Path, str, str]) -> None:
    work, previous, commit = release
    code, says, _ = run_health(tmp_path, work, commit, [listing(previous, OLD)], minutes=0)
    assert code == 1 and "was not Synced and Healthy" in says and "not yet synced to the release" in says
    assert (tmp_path / "outcome").read_text() == "timeout\n"


def run_page(tmp_path: Path, routing_key: str | None) -> tuple[int, str, dict[str, Any] | None]:
    sent = tmp_path / "sent.json"
    bin_dir = shim(
        tmp_path,
        "curl",
        f'printf "%s\\n" "$@" > {tmp_path}/curl-args\n'
        'for a in "$@"; do if [[ "$a" == @* ]]; then cat "${a#@}" > ' + str(sent) + "; fi; done\n"
        'echo \'{"status":"success"}\'\n',
    )
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "ENVIRONMENT": "production",
        "RELEASE": "f" * 40,
        "SERVER": "https://github.com",
        "REPO": "ai-aas/platform",
        "RUN_ID": "42",
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        **({"ROUTING_KEY": routing_key} if routing_key is not None else {}),
    }
    done = bash(promote.PAGE_SCRIPT, tmp_path, env)
    return done.returncode, done.stdout + done.stderr, json.loads(sent.read_text()) if sent.exists() else None


def test_a_failed_health_check_pages_with_a_link_to_the_promotion(tmp_path: Path) -> None:
    code, says, event = run_page(tmp_path, "pd-routing-key")
    assert code == 0, says
    assert event is not None
    assert event["routing_key"] == "pd-routing-key" and event["event_action"] == "trigger"
    assert event["payload"]["severity"] == "critical"
    assert event["dedup_key"] == f"promote-production-{'f' * 40}", "a re-run does not page twice"
    assert event["links"] == [
        {"href": "https://github.com/ai-aas/platform/actions/runs/42", "text": "promotion run"}
    ]
    assert "https://events.pagerduty.com/v2/enqueue" in (tmp_path / "curl-args").read_text()


def test_without_a_routing_key_the_page_step_fails_loudly(tmp_path: Path) -> None:
    code, says, event = run_page(tmp_path, "")
    assert code == 1 and "nobody was paged" in says and event is None


def test_the_job_follows_every_promotion_and_pages_on_any_failure(runs: dict[str, Run]) -> None:
    workflow = committed_workflows(runs)[".github/workflows/promote.yml"]
    job = workflow["jobs"][promote.HEALTH_JOB]
    assert job["needs"] == ["promote"]
    assert job["permissions"] == {"contents": "read"}
    assert job["environment"] == ci_contract.observer_environment("production")
    wait, observe, keep, page = job["steps"][-4:]
    assert wait["env"]["RELEASE"] == page["env"]["RELEASE"] == "${{ needs.promote.outputs.release }}"
    # Whatever the wait found, what Argo CD reported is noted and handed to the events job.
    assert observe["if"] == "always()" and observe["continue-on-error"] is True
    assert observe["env"]["OUTCOME_FILE"] == wait["env"]["OUTCOME_FILE"]
    assert observe["env"]["RELEASE"] == wait["env"]["RELEASE"]
    assert keep["uses"].startswith("actions/upload-artifact@") and keep["continue-on-error"] is True
    assert keep["with"]["name"] == promote.HEALTH_OBSERVATION_ARTIFACT
    assert keep["with"]["path"] == observe["env"]["OBSERVATION"]
    assert wait["env"]["OBSERVER_KUBECONFIG"] == f"${{{{ secrets.{ci_contract.OBSERVER_KUBECONFIG} }}}}"
    assert page["if"] == "failure()"
    assert page["env"]["ROUTING_KEY"] == f"${{{{ secrets.{ci_contract.PAGERDUTY_ROUTING_KEY} }}}}"
    assert workflow["jobs"]["promote"]["outputs"]["release"] == "${{ steps.release.outputs.release }}"


def test_productions_observer_environment_holds_the_kubeconfig_and_the_routing_key(
    runs: dict[str, Run],
) -> None:
    secrets = {
        r.plain["secretName"]: r
        for r in runs["production"].recorder.of_type(
            "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"
        )
        if r.plain["environment"] == ci_contract.observer_environment("production")
    }
    assert set(secrets) == {ci_contract.OBSERVER_KUBECONFIG, ci_contract.PAGERDUTY_ROUTING_KEY}
    staging = {
        r.plain["secretName"]
        for r in runs["staging"].recorder.of_type(
            "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"
        )
        if r.plain["environment"] == ci_contract.observer_environment("staging")
    }
    assert staging == {ci_contract.OBSERVER_KUBECONFIG}


def test_the_events_job_records_what_the_health_job_saw_and_neither_holds_the_others_credential(
    runs: dict[str, Run],
) -> None:
    """The health job (production's observer kubeconfig) holds no bucket key; the events job
    (ci-main's bucket key) holds no production credential: the observation artifact is all
    that passes between them."""
    workflow = committed_workflows(runs)[".github/workflows/promote.yml"]
    health, events = workflow["jobs"][promote.HEALTH_JOB], workflow["jobs"]["events"]
    assert promote.HEALTH_JOB in events["needs"] and events["if"].startswith("always()")
    assert set(re.findall(r"secrets\.(\w+)", json.dumps(health))) == {
        ci_contract.OBSERVER_KUBECONFIG, ci_contract.PAGERDUTY_ROUTING_KEY,
    }  # fmt: skip
    assert set(re.findall(r"secrets\.(\w+)", json.dumps(events))) == {
        ci_contract.METRICS_ACCESS_KEY_ID, ci_contract.METRICS_SECRET_ACCESS_KEY,
    }  # fmt: skip
    fetch = next(s for s in events["steps"] if "download-artifact" in str(s.get("uses")))
    assert fetch["with"]["name"] == promote.HEALTH_OBSERVATION_ARTIFACT
    record = next(s for s in events["steps"] if s.get("run") == promote.HEALTH_EVENTS_SCRIPT)
    assert record["env"]["OBSERVATION"] == f"{fetch['with']['path']}/{promote.HEALTH_OBSERVATION_FILE}"
    assert record["env"]["RELEASE_COMMIT"] == "${{ needs.promote.outputs.release }}"
