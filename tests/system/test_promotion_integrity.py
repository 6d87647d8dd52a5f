"""Only what staging validated reaches production, and nobody with write access can fake it.

The scripts the workflows run are run here for real (bash, git, the runner's Python) against
scratch repositories, with `kubectl` and `gh` stand-ins that answer in the documented shapes
of the APIs they call. What each shape rests on:

- Argo CD's Application status (`status.sync.status` / `revision` / `revisions` for
  multi-source Applications, `status.health.status`, `status.operationState.phase`,
  `status.summary.images`: "Images holds all images of application child resources") is the
  Application CRD's own schema (`components/schemas/argoproj.io/application_v1alpha1.json`).
  An aborted Rollout is `Degraded` in Argo CD's built-in Rollout health check (Argo CD docs,
  "Resource Health": argoproj.io/Rollout).
- The workflow-runs listing (`GET /repos/{owner}/{repo}/actions/workflows/{file}/runs`) with
  `id`, `path`, `event`, `head_branch`, `head_sha`, `status`, `conclusion`,
  `repository.full_name`, `head_repository.full_name`, `created_at`: GitHub REST docs,
  "List workflow runs for a workflow".
- Every job's `GITHUB_TOKEN` is an installation token of the GitHub Actions app, so a commit
  status it writes reports `creator.login: github-actions[bot]`, whichever workflow or branch
  wrote it (GitHub docs, "Automatic token authentication"; "Create a commit status" needs
  only `statuses: write`).
- `repository_dispatch` and `workflow_dispatch` events created with a `GITHUB_TOKEN` do start
  workflows, unlike other events it creates (GitHub docs, "Triggering a workflow from a
  workflow"); a `repository_dispatch` run uses the default branch's workflow file, a
  `workflow_dispatch` run the chosen ref's (GitHub docs, "Events that trigger workflows").
- An artifact is uploaded by a job of its own run only: the upload authenticates with the
  run's runtime token (GitHub docs, "Storing workflow data as artifacts"); GitHub offers no
  API to add an artifact to another run.
- A deployment branch policy of an environment refuses a job of a run on any other ref
  before its first step (GitHub docs, "Deployment branches and tags").
- A ruleset's `update` rule lets only its bypass actors push to a matching branch, merges
  of pull requests included (GitHub docs, "Available rules for rulesets").

The tamper suite at the end runs each attack against the design before this change (its
rendered files under `tests/fixtures/tamper/old_design/`) and against what the stacks
declare now, and prints one table per stack (`make tamper` shows them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.contracts.gitops_layout import LABEL_ENVIRONMENT, release_branch
from components.github import ci_contract
from components.github.identities import OBSERVER_GRANTS
from components.github.workflows import promote, promotion_guard, staging_validation
from components.github.workflows.delivery import WRITE_IMAGES_FUNCTION
from components.github.workflows.scripts import staging_state, validation_evidence
from components.github.workflows.settings import REFERENCE
from tests.support import cel_harness, pods
from tests.support.paths import FIXTURES
from tests.support.scratch import bash, git, kubectl_replaying, shim
from tests.support.stacks import k8s_version
from tools.offline import Run
from tools.plan import render_documents

# Real tools and processes (docs/development.md, "Tests"): left out of `make test-fast`.
pytestmark = pytest.mark.slow

SCRIPTS = Path(staging_state.__file__).parent
STATE_SCRIPT = SCRIPTS / "staging_state.py"
EVIDENCE_SCRIPT = SCRIPTS / "validation_evidence.py"
OLD = FIXTURES / "tamper" / "old_design"
REGISTRY = "ghcr.io/ai-aas"
REPO = "ai-aas/platform"
STAGING_DIR = "gitops/clusters/staging"
STAGING_IMAGES = f"{STAGING_DIR}/images"
PRODUCTION_IMAGES = "gitops/clusters/production/images"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64
SERVICES = ("api-router-service", "web-portal")


def build_record(tmp_path: Path) -> Path:
    """The images job's record of web-portal's build, as the deploy jobs receive it."""
    record = tmp_path / "record.json"
    record.write_text(
        json.dumps(
            {
                "service": "web-portal",
                "repository": f"{REGISTRY}/web-portal",
                "tag": "1" * 40,
                "digest": DIGEST_B,
            }
        )
    )
    return record


def image_file_text(service: str, commit: str, digest: str) -> str:
    """An image file as delivery.yml writes it (the values contract)."""
    return (
        "# Written by the delivery workflow; Argo CD deploys this image, by digest.\n"
        f'image:\n  repository: {REGISTRY}/{service}\n  tag: "{commit}@{digest}"\n'
        f"  digest: {digest}\n  reference: {REGISTRY}/{service}@{digest}\n"
    )


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@dataclass
class Main:
    """A bare origin, a checkout of main, and the revision that set staging's images."""

    origin: Path
    work: Path
    revision: str
    digests: dict[str, str]

    def commit(self, rel: str, text: str, message: str) -> str:
        write(self.work, rel, text)
        git(self.work, "add", ".")
        git(self.work, "commit", "--quiet", "-m", message)
        git(self.work, "push", "--quiet", "origin", "HEAD:main")
        return git(self.work, "rev-parse", "HEAD")


@pytest.fixture
def main(tmp_path: Path) -> Main:
    built = fresh_main(tmp_path)
    # A chart's values and a stale production image file main should never hand production.
    write(built.work, "infra/helm/charts/web-portal/values-production.yaml", "replicaCount: 3\n")
    write(built.work, f"{PRODUCTION_IMAGES}/stale.yaml", "a hand-made file nothing should keep\n")
    git(built.work, "add", ".")
    git(built.work, "commit", "--quiet", "-m", "chart and a stale file")
    git(built.work, "push", "--quiet", "origin", "HEAD:main")
    built.revision = git(built.work, "rev-parse", "HEAD")
    return built


# --------------------------------------------------------------------------- Argo CD, as it reports


def application(
    service: str,
    revision: str,
    images: list[str],
    *,
    sync: str = "Synced",
    health: str = "Healthy",
    phase: str = "Succeeded",
) -> dict[str, Any]:
    """A staging Application as `kubectl get applications.argoproj.io -o json` lists it."""
    multi = service != "infrastructure"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": f"platform-staging-{service}", "labels": {LABEL_ENVIRONMENT: "staging"}},
        "status": {
            "sync": {
                "status": sync,
                **({"revisions": [revision, revision]} if multi else {"revision": revision}),
            },
            "health": {"status": health},
            "operationState": {"phase": phase},
            "summary": {"images": images},
        },
    }


def settled(main: Main, **overrides: dict[str, Any]) -> dict[str, Any]:
    """Every staging Application synced and healthy at main.revision, running the files' digests."""
    apps = [application("infrastructure", main.revision, [])]
    for service in SERVICES:
        images = [f"{REGISTRY}/{service}:{'1' * 40}@{main.digests[service]}", "docker.io/library/nginx:1.27"]
        apps.append(application(service, main.revision, images, **overrides.get(service, {})))
    return {"apiVersion": "v1", "kind": "List", "items": apps}


def observe(main: Main, apps: dict[str, Any], tmp_path: Path) -> tuple[int, str, dict[str, Any] | None]:
    listing = tmp_path / "applications.json"
    listing.write_text(json.dumps(apps))
    out = tmp_path / "state.json"
    out.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, str(STATE_SCRIPT), "observe", str(listing), "--environment", "staging",
         "--registry", REGISTRY, "--images-dir", STAGING_IMAGES, "--out", str(out)],
        cwd=main.work, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout, json.loads(out.read_text()) if out.exists() else None


def test_settled_staging_names_its_revision_and_the_digests_it_runs(main: Main, tmp_path: Path) -> None:
    code, says, state = observe(main, settled(main), tmp_path)
    assert code == 0, says
    assert state == {
        "revision": main.revision,
        "images": main.digests,
        "applications": {f"platform-staging-{a}": "Synced/Healthy" for a in ("infrastructure", *SERVICES)},
    }


@pytest.mark.parametrize(
    ("case", "overrides", "code", "says"),
    [
        ("a sync still running", {"web-portal": {"phase": "Running"}}, 75, "sync running"),
        (
            "out of sync",
            {"web-portal": {"sync": "OutOfSync"}},
            75,
            "platform-staging-web-portal is OutOfSync",
        ),
        ("a canary in progress", {"web-portal": {"health": "Progressing"}}, 75, "Synced/Progressing"),
        ("a paused rollout", {"web-portal": {"health": "Suspended"}}, 75, "Synced/Suspended"),
        ("an aborted canary", {"web-portal": {"health": "Degraded"}}, 1, "Degraded (an aborted rollout"),
        ("a failed sync", {"web-portal": {"phase": "Failed"}}, 1, "last sync failed"),
    ],
)
def test_validation_waits_for_or_refuses_a_staging_that_has_not_settled(
    main: Main, tmp_path: Path, *, case: str, overrides: dict[str, Any], code: int, says: str
) -> None:
    done, output, state = observe(main, settled(main, **overrides), tmp_path)
    assert (done, state) == (code, None), case
    assert says in output, output


def test_one_application_at_another_revision_is_not_one_image_set(main: Main, tmp_path: Path) -> None:
    apps = settled(main)
    newer = main.commit("README.md", "later\n", "docs")
    apps["items"][1] = application("api-router-service", newer, [f"{REGISTRY}/api-router-service@{DIGEST_A}"])
    code, says, _ = observe(main, apps, tmp_path)
    assert code == 75 and "synced at different revisions" in says


def test_an_old_replica_set_still_running_keeps_validation_waiting(main: Main, tmp_path: Path) -> None:
    apps = settled(main)
    # The stable ReplicaSet of a canary still runs the previous digest beside the new one.
    apps["items"][2]["status"]["summary"]["images"].append(f"{REGISTRY}/web-portal@{DIGEST_C}")
    code, says, _ = observe(main, apps, tmp_path)
    assert code == 75 and f"still runs {REGISTRY}/web-portal@{DIGEST_C}" in says


def test_a_platform_image_by_tag_alone_is_refused(main: Main, tmp_path: Path) -> None:
    apps = settled(main)
    apps["items"][2]["status"]["summary"]["images"] = [f"{REGISTRY}/web-portal:{'1' * 40}"]
    code, says, _ = observe(main, apps, tmp_path)
    assert code == 1 and "not pinned by digest" in says


def test_a_revision_that_is_not_a_commit_of_main_is_refused(main: Main, tmp_path: Path) -> None:
    git(main.work, "checkout", "--quiet", "-b", "side")
    side = main.commit("x", "y\n", "side")
    git(main.work, "checkout", "--quiet", "main")
    apps = settled(main)
    for app in apps["items"]:
        sync = app["status"]["sync"]
        for key in ("revision", "revisions"):
            if key in sync:
                sync[key] = side if key == "revision" else [side, side]
    code, says, _ = observe(main, apps, tmp_path)
    assert code == 1 and "not a commit of main" in says


# --------------------------------------------------------------------------- staging-validation.yml


def observer_env(tmp_path: Path, bin_dir: Path) -> dict[str, str]:
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "OBSERVER_KUBECONFIG": "apiVersion: v1\nkind: Config\n",
        "SELECTOR": f"{LABEL_ENVIRONMENT}=staging",
        "ENVIRONMENT": "staging",
        "REGISTRY": REGISTRY,
        "IMAGES_DIR": STAGING_IMAGES,
        "STATE_SCRIPT": str(STATE_SCRIPT),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }


def run_target(
    main: Main, tmp_path: Path, answers: list[dict[str, Any]], minutes: int = 30
) -> tuple[int, str]:
    env = {
        **observer_env(tmp_path, kubectl_replaying(tmp_path, answers)),
        "SETTLE_MINUTES": str(minutes),
        "POLL_SECONDS": "0",
    }
    (tmp_path / "output").write_text("")
    done = bash(staging_validation.TARGET_SCRIPT, main.work, env)
    return done.returncode, done.stdout + done.stderr


def test_target_waits_until_staging_settles_then_records_what_it_runs(main: Main, tmp_path: Path) -> None:
    moving = settled(main, **{"web-portal": {"health": "Progressing"}})
    code, says = run_target(main, tmp_path, [moving, moving, settled(main)])
    assert code == 0, says
    output = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())
    assert output["revision"] == main.revision
    # The commit that set the image files, older than the revision (a chart change came after).
    assert output["image_commit"] == git(main.work, "log", "-1", "--format=%H", "--", STAGING_IMAGES)
    assert output["image_commit"] != main.revision
    assert json.loads(output["state"])["images"] == main.digests
    args = (tmp_path / "kubectl" / "args").read_text().splitlines()
    assert len(args) == 3 and all(f"--selector {LABEL_ENVIRONMENT}=staging" in a for a in args)
    # The kubeconfig reaches kubectl through a file only its user can read.
    assert oct((tmp_path / "observer.kubeconfig").stat().st_mode & 0o777) == "0o600"


def test_target_gives_up_at_its_deadline_and_at_once_on_an_aborted_canary(main: Main, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    code, says = run_target(
        main, tmp_path / "a", [settled(main, **{"web-portal": {"sync": "OutOfSync"}})], minutes=0
    )
    assert code == 1 and "did not settle at one revision within 0 minutes" in says
    (tmp_path / "b").mkdir()
    code, says = run_target(main, tmp_path / "b", [settled(main, **{"web-portal": {"health": "Degraded"}})])
    assert code == 1 and "Degraded" in says
    assert (tmp_path / "b" / "kubectl" / "count").read_text().strip() == "1"


def run_gate(
    main: Main, tmp_path: Path, after: dict[str, Any], results: dict[str, str]
) -> tuple[int, str, dict[str, Any], list[str]]:
    bin_dir = kubectl_replaying(tmp_path, [after])
    shim(tmp_path, "gh", f'printf "%s\\n" "$@" > {tmp_path}/gh-args\n')
    before = {"revision": main.revision, "images": main.digests, "applications": {}}
    env = {
        **observer_env(tmp_path, bin_dir),
        "NEEDS": json.dumps({job: {"result": r, "outputs": {}} for job, r in results.items()}),
        "BEFORE": json.dumps(before),
        "IMAGE_COMMIT": main.revision,
        "FIGURES": str(tmp_path / "none.json"),
        "EVIDENCE_SCHEMA": str(validation_evidence.SCHEMA),
        "STATUS_CONTEXT": ci_contract.STAGING_VALIDATION_STATUS,
        "GH_TOKEN": "t",
        "REPO": REPO,
        "RUN_ID": "7",
        "RUN_ATTEMPT": "2",
        "RUN_URL": f"https://github.com/{REPO}/actions/runs/7",
    }
    done = bash(staging_validation.VALIDATION_GATE_SCRIPT, main.work, env)
    evidence = json.loads((main.work / "evidence" / "evidence.json").read_text())
    return done.returncode, done.stdout, evidence, (tmp_path / "gh-args").read_text().splitlines()


JOBS = ("target", "smoke", "api", "e2e", "migrations", "dast", "load")


def test_gate_records_the_evidence_of_this_run_and_a_status_for_people(main: Main, tmp_path: Path) -> None:
    code, says, evidence, gh_args = run_gate(main, tmp_path, settled(main), dict.fromkeys(JOBS, "success"))
    assert code == 0, says
    assert evidence["schema"] == validation_evidence.SCHEMA
    assert (evidence["run_id"], evidence["run_attempt"], evidence["result"]) == ("7", "2", "success")
    assert evidence["revision"] == main.revision and evidence["images"] == main.digests
    assert f"repos/{REPO}/statuses/{main.revision}" in gh_args and "state=success" in gh_args


def test_gate_fails_when_staging_moved_while_the_tests_ran(main: Main, tmp_path: Path) -> None:
    newer = main.commit(
        f"{STAGING_IMAGES}/web-portal.yaml", image_file_text("web-portal", "2" * 40, DIGEST_C), "deploy"
    )
    moved = settled(main)
    for app in moved["items"]:
        sync = app["status"]["sync"]
        sync.update({"revision": newer} if "revision" in sync else {"revisions": [newer, newer]})
    moved["items"][2]["status"]["summary"]["images"] = [f"{REGISTRY}/web-portal@{DIGEST_C}"]
    code, says, evidence, gh_args = run_gate(main, tmp_path, moved, dict.fromkeys(JOBS, "success"))
    assert code == 1 and "staging changed while the tests ran" in says
    assert evidence["result"] == "failure" and evidence["revision"] == main.revision
    assert "state=failure" in gh_args


def test_gate_records_a_red_verdict_for_failed_checks(main: Main, tmp_path: Path) -> None:
    results = {**dict.fromkeys(JOBS, "success"), "dast": "failure", "load": "cancelled"}
    code, _, evidence, gh_args = run_gate(main, tmp_path, settled(main), results)
    assert code == 1 and evidence["result"] == "failure"
    assert "description=failed: dast, load" in gh_args


def test_validation_never_reads_the_dispatch_payload_and_runs_only_on_main() -> None:
    wf = staging_validation.workflow(REFERENCE)
    text = json.dumps(wf.to_dict())
    assert "client_payload" not in text
    target = wf.job("target")
    assert target.if_ == staging_validation.ON_MAIN
    for job in (target, wf.job("gate")):
        assert job.environment == ci_contract.observer_environment("staging")


# --------------------------------------------------------------------------- the promotion gate


def run_record(
    run_id: int,
    *,
    head_sha: str,
    created: str,
    conclusion: str = "success",
    event: str = "repository_dispatch",
    branch: str = "main",
    path: str = validation_evidence.WORKFLOW_PATH,
    repository: str = REPO,
) -> dict[str, Any]:
    """One entry of the workflow-runs listing (GitHub REST, "List workflow runs")."""
    return {
        "id": run_id,
        "path": path,
        "event": event,
        "head_branch": branch,
        "head_sha": head_sha,
        "status": "completed",
        "conclusion": conclusion,
        "created_at": created,
        "html_url": f"https://github.com/{REPO}/actions/runs/{run_id}",
        "repository": {"full_name": repository},
        "head_repository": {"full_name": repository},
    }


def evidence_of(main: Main, run: int, **changes: Any) -> dict[str, Any]:
    return {
        "schema": validation_evidence.SCHEMA,
        "run_id": str(run),
        "revision": main.revision,
        "images": dict(main.digests),
        "result": "success",
        **changes,
    }


@dataclass
class GitHub:
    """What the `gh` stand-in answers: the runs listing and each run's evidence artifact."""

    runs: list[dict[str, Any]]
    evidence: dict[int, dict[str, Any]]

    def install(self, tmp_path: Path) -> Path:
        data = tmp_path / "github"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        (data / "runs.json").write_text(
            json.dumps({"total_count": len(self.runs), "workflow_runs": self.runs})
        )
        for run_id, doc in self.evidence.items():
            (data / f"evidence-{run_id}.json").write_text(json.dumps(doc))
        return shim(
            tmp_path,
            "gh",
            f'printf "%s\\n" "$*" >> {data}/calls\n'
            'case "$1 $2" in\n'
            f'  "api "*) cat {data}/runs.json ;;\n'
            '  "run download")\n'
            '    id="$3"; dir=""\n'
            '    while (( $# )); do [[ "$1" == --dir ]] && dir="$2"; shift; done\n'
            f'    [[ -f {data}/evidence-$id.json ]] || {{ echo "no artifact" >&2; exit 1; }}\n'
            f'    mkdir -p "$dir"; cp {data}/evidence-$id.json "$dir/evidence.json" ;;\n'
            '  *) echo "unexpected gh $*" >&2; exit 1 ;;\n'
            "esac\n",
        )


def gate_env(tmp_path: Path, bin_dir: Path) -> dict[str, str]:
    (tmp_path / "output").write_text("")
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SOURCE_DIR": STAGING_DIR,
        "GATE_SCRIPT": str(EVIDENCE_SCRIPT),
        "EVIDENCE_ARTIFACT": ci_contract.VALIDATION_EVIDENCE_ARTIFACT,
        "GH_TOKEN": "t",
        "REPO": REPO,
        "SERVER": "https://github.com",
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }


def validated(main: Main, tmp_path: Path, github: GitHub) -> tuple[int, str, dict[str, str]]:
    done = bash(promote.VALIDATED_SCRIPT, main.work, gate_env(tmp_path, github.install(tmp_path)))
    output = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())
    return done.returncode, done.stdout + done.stderr, output


def test_gate_takes_the_newest_verdict_of_main_and_verifies_its_evidence(main: Main, tmp_path: Path) -> None:
    github = GitHub(
        [
            run_record(11, head_sha=main.revision, created="2026-12-01T10:00:00Z"),
            run_record(12, head_sha=main.revision, created="2026-12-01T11:00:00Z", conclusion="cancelled"),
        ],
        {11: evidence_of(main, 11)},
    )
    code, says, output = validated(main, tmp_path, github)
    assert code == 0, says
    assert output == {
        "revision": main.revision,
        "run_id": "11",
        "run_url": f"https://github.com/{REPO}/actions/runs/11",
    }


@pytest.mark.parametrize(
    ("case", "runs", "evidence", "says"),
    [
        ("no validation yet", [], {}, "staging has not validated anything yet"),
        (
            "a newer failure outranks an older success",
            [("ok", 11, "10:00"), ("failure", 12, "11:00")],
            {11: {}},
            "concluded failure",
        ),
        ("no evidence artifact", [("ok", 11, "10:00")], {}, "no artifact"),
        (
            "evidence of another run",
            [("ok", 11, "10:00")],
            {11: {"run_id": "10"}},
            "names run 10, not run 11",
        ),
        ("a red verdict inside", [("ok", 11, "10:00")], {11: {"result": "failure"}}, "records failure"),
        (
            "digests that are not the image files",
            [("ok", 11, "10:00")],
            {11: {"images": {"api-router-service": DIGEST_A, "web-portal": DIGEST_C}}},
            "the evidence " + DIGEST_C,
        ),
        (
            "a service the image files do not have",
            [("ok", 11, "10:00")],
            {11: {"images": {"api-router-service": DIGEST_A}}},
            "the evidence names ['api-router-service']",
        ),
        ("an old evidence format", [("ok", 11, "10:00")], {11: {"schema": 0}}, "evidence schema 0"),
    ],
)
def test_gate_refuses_and_says_why(
    main: Main,
    tmp_path: Path,
    *,
    case: str,
    runs: list[tuple[str, int, str]],
    evidence: dict[int, dict[str, Any]],
    says: str,
) -> None:
    listing = [
        run_record(
            run_id,
            head_sha=main.revision,
            created=f"2026-12-01T{at}:00Z",
            conclusion="success" if kind == "ok" else kind,
        )
        for kind, run_id, at in runs
    ]
    github = GitHub(listing, {n: evidence_of(main, n, **changes) for n, changes in evidence.items()})
    code, output, outputs = validated(main, tmp_path, github)
    assert code == 1, case
    assert says in output, output
    assert "revision" not in outputs


# --------------------------------------------------------------------------- promote: after the approval


def promote_env(main: Main, tmp_path: Path, github: GitHub, revision: str, run: str) -> dict[str, str]:
    return {
        **gate_env(tmp_path, github.install(tmp_path)),
        "TARGET_ENV": "production",
        "TARGET_DIR": "gitops/clusters/production",
        "RELEASE_BRANCH": release_branch("production"),
        "REVISION": revision,
        "RUN": run,
        "AUTHOR_NAME": "delivery-bot",
        "AUTHOR_EMAIL": "delivery-bot@users.noreply.github.com",
        "PUSH_TOKEN": "not-a-real-token",
        "RUN_ID": "99",
    }


def test_promotion_moves_the_release_branch_to_the_validated_tree(main: Main, tmp_path: Path) -> None:
    validated_revision = main.revision
    # Later changes to main, a chart among them, are not part of the validated revision.
    main.commit("infra/helm/charts/web-portal/values-production.yaml", "replicaCount: 30\n", "chart change")
    github = GitHub(
        [run_record(11, head_sha=validated_revision, created="2026-12-01T10:00:00Z")],
        {11: evidence_of(main, 11)},
    )
    env = promote_env(main, tmp_path, github, validated_revision, "11")
    assert bash(promote.RECHECK_SCRIPT, main.work, env).returncode == 0
    done = bash(promote.RELEASE_SCRIPT, main.work, env)
    assert done.returncode == 0, done.stdout + done.stderr
    release = f"refs/heads/{release_branch('production')}"
    head = git(main.origin, "rev-parse", release)
    # Its tree: the validated revision's, staging's image files as production's, nothing else.
    files = git(main.origin, "ls-tree", "-r", "--name-only", release).splitlines()
    assert sorted(f for f in files if f.startswith(PRODUCTION_IMAGES)) == [
        f"{PRODUCTION_IMAGES}/{s}.yaml" for s in SERVICES
    ]
    for service in SERVICES:
        assert git(main.origin, "show", f"{release}:{PRODUCTION_IMAGES}/{service}.yaml") == git(
            main.origin, "show", f"{validated_revision}:{STAGING_IMAGES}/{service}.yaml"
        )
    assert (
        git(main.origin, "show", f"{release}:infra/helm/charts/web-portal/values-production.yaml")
        == "replicaCount: 3"
    )
    assert git(main.origin, "rev-parse", f"{head}^1") == validated_revision
    # The next promotion keeps the history: the previous release is its first parent.
    newer = main.commit(
        f"{STAGING_IMAGES}/web-portal.yaml", image_file_text("web-portal", "2" * 40, DIGEST_C), "deploy"
    )
    main.digests["web-portal"] = DIGEST_C
    main.revision = newer
    github = GitHub(
        [run_record(12, head_sha=newer, created="2026-12-02T10:00:00Z")], {12: evidence_of(main, 12)}
    )
    env = promote_env(main, tmp_path, github, newer, "12")
    assert bash(promote.RELEASE_SCRIPT, main.work, env).returncode == 0
    second = git(main.origin, "rev-parse", release)
    assert git(main.origin, "rev-parse", f"{second}^1") == head
    assert git(main.origin, "rev-parse", f"{second}^2") == newer
    # Promoting the same revision again changes nothing.
    assert "nothing to promote" in bash(promote.RELEASE_SCRIPT, main.work, env).stdout
    assert git(main.origin, "rev-parse", release) == second


def test_promotion_refuses_when_the_verdict_changed_after_the_approval(main: Main, tmp_path: Path) -> None:
    runs = [
        run_record(11, head_sha=main.revision, created="2026-12-01T10:00:00Z"),
        run_record(12, head_sha=main.revision, created="2026-12-01T12:00:00Z", conclusion="failure"),
    ]
    github = GitHub(runs, {11: evidence_of(main, 11)})
    done = bash(promote.RECHECK_SCRIPT, main.work, promote_env(main, tmp_path, github, main.revision, "11"))
    assert done.returncode == 1 and "concluded failure" in done.stdout
    github = GitHub(
        [runs[0], run_record(13, head_sha=main.revision, created="2026-12-01T12:00:00Z")],
        {11: evidence_of(main, 11), 13: evidence_of(main, 13)},
    )
    done = bash(promote.RECHECK_SCRIPT, main.work, promote_env(main, tmp_path, github, main.revision, "11"))
    assert done.returncode == 1 and "the validated set changed since the approval" in done.stdout


def test_promote_workflow_has_no_input_that_chooses_what_is_promoted() -> None:
    wf = promote.workflow(REFERENCE)
    assert wf.on.workflow_dispatch is not None and not wf.on.workflow_dispatch.inputs
    job = wf.job("promote")
    assert job.environment == "production" and job.needs == ("validated",)
    # The deployer's token is in the step that pushes, never beside `gh`.
    for step in job.steps:
        if "PUSH_TOKEN" in step.env:
            assert "gh " not in (step.run or "") and "GH_TOKEN" not in step.env


# --------------------------------------------------------------------------- the promotion guard


def guard(main: Main, base: str, head: str, base_ref: str = "main") -> subprocess.CompletedProcess[str]:
    env = {
        "BASE_REF": base_ref,
        "BASE": base,
        "HEAD": head,
        "PROTECTED": PRODUCTION_IMAGES,
        "RELEASE_PREFIX": "release/",
    }
    return bash(promotion_guard.GUARD_SCRIPT, main.work, env)


def test_guard_refuses_production_images_changed_outside_promotion(main: Main) -> None:
    base = main.revision
    git(main.work, "checkout", "--quiet", "-b", "feature")
    ok = main.commit("services/x/main.go", "package main\n", "feature")
    assert guard(main, base, ok).returncode == 0
    bad = main.commit(
        f"{PRODUCTION_IMAGES}/web-portal.yaml", image_file_text("web-portal", "3" * 40, DIGEST_C), "sneak"
    )
    done = guard(main, base, bad)
    assert done.returncode == 1 and f"file={PRODUCTION_IMAGES}/web-portal.yaml" in done.stdout
    # A pull request into a release branch is refused whatever it changes.
    done = guard(main, base, ok, base_ref="refs/heads/release/production")
    assert done.returncode == 1 and "moves only by promote.yml" in done.stdout


# --------------------------------------------------------------------------- what the stacks declare


def test_production_tracks_the_release_branch_and_only_the_deployer_moves_it(runs: dict[str, Run]) -> None:
    production = runs["production"]
    apps = [r for r in production.resources if r.type == "kubernetes:argoproj.io/v1alpha1:Application"]
    assert apps
    for app in apps:
        spec = app.plain["spec"]
        for source in spec.get("sources") or [spec["source"]]:
            assert source["targetRevision"] == release_branch("production"), app.name
    for stack in ("development", "staging"):
        for app in runs[stack].resources:
            if app.type == "kubernetes:argoproj.io/v1alpha1:Application":
                spec = app.plain["spec"]
                assert all(s["targetRevision"] == "main" for s in spec.get("sources") or [spec["source"]])
    (ruleset,) = [r for r in production.resources if r.name.endswith("-release-ruleset")]
    plain = ruleset.plain
    assert plain["conditions"]["refName"]["includes"] == ["refs/heads/release/*"]
    assert plain["rules"] == {"creation": True, "update": True, "deletion": True, "nonFastForward": True}
    (main_ruleset,) = [r for r in production.resources if r.name.endswith("-main-ruleset")]
    assert plain["bypassActors"] == main_ruleset.plain["bypassActors"]


def test_staging_declares_a_read_only_observer_in_a_main_only_environment(runs: dict[str, Run]) -> None:
    staging = runs["staging"]
    (role,) = [r for r in staging.resources if r.type == "kubernetes:rbac.authorization.k8s.io/v1:Role"]
    assert role.plain["rules"] == [
        {"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": ["get", "list", "watch"]}
    ]
    # The identities table (docs/reference/identities.md) says the same.
    rule = role.plain["rules"][0]
    assert (
        f"{', '.join(rule['verbs'])} {rule['apiGroups'][0]}/{rule['resources'][0]} in Argo CD's namespace",
    ) == OBSERVER_GRANTS
    assert role.plain["metadata"]["namespace"] == "argocd"
    name = ci_contract.observer_environment("staging")
    envs = {
        r.plain["environment"]: r
        for r in staging.resources
        if r.type.endswith("repositoryEnvironment:RepositoryEnvironment")
    }
    assert envs[name].plain["deploymentBranchPolicy"] == {
        "customBranchPolicies": True,
        "protectedBranches": False,
    }
    policies = [
        r.plain["branchPattern"]
        for r in staging.resources
        if r.type.endswith("RepositoryEnvironmentDeploymentPolicy") and r.plain["environment"] == name
    ]
    assert policies == ["main"]
    (secret,) = [
        r
        for r in staging.resources
        if r.type.endswith("ActionsEnvironmentSecret") and r.plain["environment"] == name
    ]
    assert secret.plain["secretName"] == ci_contract.OBSERVER_KUBECONFIG
    value = secret.inputs["value"]
    assert type(value).__name__ == "Secret", "the observer kubeconfig must stay secret"
    kubeconfig = yaml.safe_load(value.value)
    assert kubeconfig["contexts"][0]["context"]["namespace"] == "argocd"
    assert kubeconfig["users"][0]["user"]["token"].startswith("mock-service-account-token-")
    assert not [
        r for r in runs["development"].resources if r.type == "kubernetes:rbac.authorization.k8s.io/v1:Role"
    ]
    # Production has the same read-only observer, for promote.yml's production-health job
    # (tests/github/workflows/test_production_health.py): the same one rule, in Argo CD's namespace.
    (production_role,) = [
        r for r in runs["production"].resources if r.type == "kubernetes:rbac.authorization.k8s.io/v1:Role"
    ]
    assert production_role.plain["rules"] == role.plain["rules"]
    assert production_role.plain["metadata"]["namespace"] == "argocd"


def test_every_image_the_gitops_tree_hands_out_is_a_digest_reference(tmp_path: Path) -> None:
    record = build_record(tmp_path)
    done = bash(WRITE_IMAGES_FUNCTION + f'write_image "{record}" gitops/clusters/staging\n', tmp_path, {})
    assert done.returncode == 0, done.stderr
    image = yaml.safe_load((tmp_path / STAGING_IMAGES / "web-portal.yaml").read_text())["image"]
    # Every way a chart may render it names the digest: `reference`, or `repository:tag`.
    assert image["reference"] == f"{REGISTRY}/web-portal@{DIGEST_B}"
    assert f"{image['repository']}:{image['tag']}".endswith(f"@{DIGEST_B}")


# --------------------------------------------------------------------------- the tamper suite


def old_step(file: str, name: str) -> dict[str, Any]:
    doc = yaml.safe_load((OLD / file).read_text())
    for job in doc["jobs"].values():
        for step in job.get("steps", []):
            if step.get("name") == name:
                return step
    raise AssertionError(f"{file} has no step {name!r}")


def old_gate_accepts(main: Main, tmp_path: Path, statuses: list[dict[str, Any]]) -> bool:
    """The old promote.yml gate step, run with a gh answering these commit statuses."""
    step = old_step("promote.yml", "Require a green staging-validation on the staging image set")
    scripts = main.work / ".github" / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    shutil.copy(OLD / "promotion_gate.py", scripts / "promotion_gate.py")
    (tmp_path / "recorded-statuses.json").write_text(json.dumps(statuses))
    bin_dir = shim(tmp_path, "gh", f"cat {tmp_path}/recorded-statuses.json\n")
    env = {**step["env"], "PATH": f"{bin_dir}:{os.environ['PATH']}", "GH_TOKEN": "t", "REPO": REPO,
           "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_STEP_SUMMARY": "/dev/null"}  # fmt: skip
    return bash(step["run"], main.work, env).returncode == 0


def bot_status(state: str, at: str, target: str) -> dict[str, Any]:
    return {
        "context": "staging-validation",
        "state": state,
        "created_at": at,
        "id": int(at[-3:-1]),
        "target_url": target,
        "description": state,
        "creator": {"login": "github-actions[bot]", "type": "Bot"},
    }


def new_gate_accepts(main: Main, tmp_path: Path, github: GitHub) -> bool:
    return validated(main, tmp_path, github)[0] == 0


@dataclass(frozen=True)
class Tamper:
    case: str
    old: Callable[[Main, Path], bool]  # True: the attack gets through the old design
    new: Callable[[Main, Path, dict[str, Run]], bool]  # True: the new design refuses it
    refused_by: str
    stacks: tuple[str, ...]  # whose declarations the refusal rests on


def _forged_status_old(main: Main, tmp_path: Path) -> bool:
    # The real validation failed; a branch workflow (`statuses: write`) then writes a success.
    real = bot_status("failure", "2026-12-01T10:00:10Z", "https://github.com/ai-aas/platform/actions/runs/1")
    forged = bot_status(
        "success", "2026-12-01T11:00:20Z", "https://github.com/ai-aas/platform/actions/runs/666"
    )
    return old_gate_accepts(main, tmp_path, [forged, real])


def _forged_status_new(main: Main, tmp_path: Path, runs: dict[str, Run]) -> bool:
    # The same situation as GitHub lists it: the real run failed; the branch workflow's run is
    # another file on another branch; statuses are never read.
    github = GitHub(
        [
            run_record(1, head_sha=main.revision, created="2026-12-01T10:00:00Z", conclusion="failure"),
            run_record(
                666,
                head_sha=main.revision,
                created="2026-12-01T11:00:00Z",
                event="push",
                branch="evil",
                path=".github/workflows/evil.yml",
            ),
        ],
        {666: evidence_of(main, 666)},
    )
    promote_yml = rendered_workflows(runs)["promote.yml"]
    return not new_gate_accepts(main, tmp_path, github) and "statuses" not in json.dumps(promote_yml)


def _branch_dispatch_old(main: Main, tmp_path: Path) -> bool:
    doc = yaml.safe_load((OLD / "staging-validation.yml").read_text())
    gate = doc["jobs"]["gate"]
    # Nothing holds a branch run back: no environment, no ref condition; it writes the status
    # the old gate trusts.
    unguarded = "environment" not in gate and "refs/heads/main" not in str(gate.get("if"))
    forged = bot_status(
        "success", "2026-12-01T11:00:20Z", "https://github.com/ai-aas/platform/actions/runs/667"
    )
    return unguarded and old_gate_accepts(main, tmp_path, [forged])


def _branch_dispatch_new(main: Main, tmp_path: Path, runs: dict[str, Run]) -> bool:
    github = GitHub(
        [
            run_record(
                667,
                head_sha=main.revision,
                created="2026-12-01T11:00:00Z",
                event="workflow_dispatch",
                branch="evil",
            )
        ],
        {667: evidence_of(main, 667)},
    )
    # A tag named `main` at a commit that is not main's cannot pass itself off as main either.
    tagged = GitHub(
        [run_record(668, head_sha="9" * 40, created="2026-12-01T11:00:00Z", event="workflow_dispatch")],
        {668: evidence_of(main, 668)},
    )
    wf = rendered_workflows(runs)["staging-validation.yml"]
    observer = ci_contract.observer_environment("staging")
    guarded = all(wf["jobs"][j]["environment"] == observer for j in ("target", "gate"))
    main_only = [
        r.plain["branchPattern"]
        for r in runs["staging"].resources
        if r.type.endswith("RepositoryEnvironmentDeploymentPolicy") and r.plain["environment"] == observer
    ] == ["main"]
    (tmp_path / "tag").mkdir()
    return (
        guarded
        and main_only
        and not new_gate_accepts(main, tmp_path, github)
        and not new_gate_accepts(main, tmp_path / "tag", tagged)
    )


def _payload_old(main: Main, tmp_path: Path) -> bool:
    # The payload names the revision; the old target job validates whatever it names.
    step = old_step(
        "staging-validation.yml", "Find the synced revision and the commit that set staging's images"
    )
    chosen = main.revision
    env = {**step["env"], "EVENT": "repository_dispatch", "REVISIONS": json.dumps([chosen]), "IMAGES": "[]",
           "APPLICATION": "forged", "REQUESTED": "", "GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_STEP_SUMMARY": "/dev/null"}  # fmt: skip
    return (
        bash(step["run"], main.work, env).returncode == 0
        and f"revision={chosen}" in (tmp_path / "out").read_text()
    )


def _payload_new(main: Main, tmp_path: Path, runs: dict[str, Run]) -> bool:
    wf = rendered_workflows(runs)["staging-validation.yml"]
    return "client_payload" not in json.dumps(wf)


def _tag_overwrite_old(main: Main, tmp_path: Path) -> bool:
    step = old_step("delivery.yml", "Commit the image tags to gitops/clusters/staging")
    function = step["run"].split("write_image() {", 1)[1].split("\n}\n", 1)[0]
    record = build_record(tmp_path)
    bash("write_image() {" + function + "\n}\n" + f'write_image "{record}" old\n', tmp_path, {})
    image = yaml.safe_load((tmp_path / "old/images/web-portal.yaml").read_text())["image"]
    # What a `helm create` chart renders: `repository:tag`, which the registry can re-point.
    return "@sha256:" not in f"{image['repository']}:{image['tag']}"


def _tag_overwrite_new(main: Main, tmp_path: Path, runs: dict[str, Run]) -> bool:
    record = build_record(tmp_path)
    bash(WRITE_IMAGES_FUNCTION + f'write_image "{record}" new\n', tmp_path, {})
    image = yaml.safe_load((tmp_path / "new/images/web-portal.yaml").read_text())["image"]
    pinned = all(
        v.endswith(f"@{DIGEST_B}") for v in (f"{image['repository']}:{image['tag']}", image["reference"])
    )
    # What staging runs by tag alone is refused as evidence (staging_state)...
    apps = settled(main)
    apps["items"][2]["status"]["summary"]["images"] = [f"{REGISTRY}/web-portal:{'1' * 40}"]
    refused_as_evidence = observe(main, apps, tmp_path)[0] == 1
    # ...and by staging's and production's API servers: their digest policy, evaluated by the
    # API server's own admission plugin (the CEL harness; CI builds it).
    admitted = []
    for stack in ("staging", "production"):
        run = runs[stack]
        tag_only = pods.sample(pods.image(f"{REGISTRY}/web-portal:{'1' * 40}"))
        requests = [cel_harness.request("tag-only", tag_only, pods.namespace(run))]
        verdict = cel_harness.evaluate(*pods.declared(run), requests, k8s_version(run))
        admitted.append(verdict.of("tag-only").allowed)
    return pinned and refused_as_evidence and not any(admitted)


def _partial_sync_old(main: Main, tmp_path: Path) -> bool:
    # One Application reports; the old target never looks at the others.
    return _payload_old(main, tmp_path)


def _partial_sync_new(main: Main, tmp_path: Path, runs: dict[str, Run]) -> bool:
    code, _, _ = observe(main, settled(main, **{"web-portal": {"sync": "OutOfSync"}}), tmp_path)
    return code == 75


def _aborted_canary_new(main: Main, tmp_path: Path, runs: dict[str, Run]) -> bool:
    code, _, _ = observe(main, settled(main, **{"web-portal": {"health": "Degraded"}}), tmp_path)
    return code == 1


def _hand_made_pr_old(main: Main, tmp_path: Path) -> bool:
    app = yaml.safe_load((OLD / "application-platform-production-web-portal.yaml").read_text())
    ruleset = yaml.safe_load((OLD / "RepositoryRuleset-repository-main-ruleset.yaml").read_text())
    checks = {c["context"] for c in ruleset["inputs"]["rules"]["requiredStatusChecks"]["requiredChecks"]}
    # Production reads main, and no required check looks at its image files.
    return all(s["targetRevision"] == "main" for s in app["spec"]["sources"]) and not any(
        "promotion" in c for c in checks
    )


def _hand_made_pr_new(main: Main, tmp_path: Path, runs: dict[str, Run]) -> bool:
    base = main.revision
    head = main.commit(
        f"{PRODUCTION_IMAGES}/web-portal.yaml", image_file_text("web-portal", "3" * 40, DIGEST_C), "sneak"
    )
    refused = guard(main, base, head).returncode == 1
    (ruleset,) = [r for r in runs["production"].resources if r.name.endswith("-main-ruleset")]
    checks = {c["context"] for c in ruleset.plain["rules"]["requiredStatusChecks"]["requiredChecks"]}
    apps = [r for r in runs["production"].resources if r.type.endswith("Application")]
    off_main = all(
        s["targetRevision"] == release_branch("production")
        for a in apps
        for s in a.plain["spec"].get("sources") or [a.plain["spec"]["source"]]
    )
    return refused and promotion_guard.GATE in checks and off_main


def _promote_branch_old(main: Main, tmp_path: Path) -> bool:
    step = old_step("promote.yml", "Open a pull request promoting staging images to production")
    ruleset = yaml.safe_load((OLD / "RepositoryRuleset-repository-main-ruleset.yaml").read_text())
    # The promotion is a pull request from `promote/...`, a branch no rule protects.
    return step["env"]["BRANCH"].startswith("promote/") and ruleset["inputs"]["conditions"]["refName"][
        "includes"
    ] == ["refs/heads/main"]


def _promote_branch_new(main: Main, tmp_path: Path, runs: dict[str, Run]) -> bool:
    wf = rendered_workflows(runs)["promote.yml"]
    no_pr = "gh pr" not in json.dumps(wf) and "promote/" not in json.dumps(wf)
    (ruleset,) = [r for r in runs["production"].resources if r.name.endswith("-release-ruleset")]
    return no_pr and ruleset.plain["rules"]["update"] is True


def _stale_gate_old(main: Main, tmp_path: Path) -> bool:
    doc = yaml.safe_load((OLD / "promote.yml").read_text())
    # The job after the approval trusts the gate's outputs; it reads no verdict itself.
    return "statuses" not in json.dumps(doc["jobs"]["promote"]) and "GATE_SCRIPT" not in json.dumps(
        doc["jobs"]["promote"]
    )


def _stale_gate_new(main: Main, tmp_path: Path, runs: dict[str, Run]) -> bool:
    github = GitHub(
        [
            run_record(11, head_sha=main.revision, created="2026-12-01T10:00:00Z"),
            run_record(12, head_sha=main.revision, created="2026-12-02T10:00:00Z", conclusion="failure"),
        ],
        {11: evidence_of(main, 11)},
    )
    wf = rendered_workflows(runs)["promote.yml"]
    rechecks = any(s.get("run") == promote.RECHECK_SCRIPT for s in wf["jobs"]["promote"]["steps"])
    done = bash(promote.RECHECK_SCRIPT, main.work, promote_env(main, tmp_path, github, main.revision, "11"))
    return rechecks and done.returncode == 1


TAMPERS = (
    Tamper("a status forged by a branch workflow", _forged_status_old, _forged_status_new,
           "the gate reads validation runs of main and their evidence, never statuses", ("production",)),
    Tamper("staging-validation.yml dispatched on a branch", _branch_dispatch_old, _branch_dispatch_new,
           "main-only observer environment; runs on other refs are not verdicts", ("staging", "production")),
    Tamper("a forged staging-deployed payload", _payload_old, _payload_new,
           "validation reads staging's Applications, never the payload", ("staging",)),
    Tamper("a tag overwritten after validation", _tag_overwrite_old, _tag_overwrite_new,
           "image files name digests; evidence and the API servers refuse a tag", ("staging", "production")),
    Tamper("a partially synced staging", _partial_sync_old, _partial_sync_new,
           "validation waits for every Application at one revision", ("staging",)),
    Tamper("an aborted canary", _partial_sync_old, _aborted_canary_new,
           "a Degraded Application fails validation", ("staging",)),
    Tamper("a hand-made production image pull request", _hand_made_pr_old, _hand_made_pr_new,
           "production tracks release/production; promotion-guard refuses the change", ("production",)),
    Tamper("an extra commit on a promote/* branch", _promote_branch_old, _promote_branch_new,
           "no promotion branch; only the deployer moves release/*", ("production",)),
    Tamper("a gate green before the approval, red after", _stale_gate_old, _stale_gate_new,
           "the job after the approval checks the newest verdict again", ("production",)),
)  # fmt: skip


_RENDERED: dict[int, dict[str, dict[str, Any]]] = {}


def rendered_workflows(runs: dict[str, Run]) -> dict[str, dict[str, Any]]:
    key = id(runs)
    if key not in _RENDERED:
        docs = render_documents(runs["production"])
        prefix = "github/.github/workflows/"
        _RENDERED[key] = {
            k.removeprefix(prefix): yaml.safe_load(v) for k, v in docs.items() if k.startswith(prefix)
        }
    return _RENDERED[key]


def fresh_main(tmp_path: Path) -> Main:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    work = tmp_path / "work"
    git(tmp_path, "clone", "--quiet", str(origin), str(work))
    digests = {"api-router-service": DIGEST_A, "web-portal": DIGEST_B}
    for service, digest in digests.items():
        write(work, f"{STAGING_IMAGES}/{service}.yaml", image_file_text(service, "1" * 40, digest))
    git(work, "add", ".")
    git(work, "commit", "--quiet", "-m", "deploy(staging)")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    return Main(origin, work, git(work, "rev-parse", "HEAD"), digests)


def evaluate(tamper: Tamper, tmp_path: Path, runs: dict[str, Run]) -> tuple[bool, bool]:
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir(parents=True)
    new_dir.mkdir(parents=True)
    old = tamper.old(fresh_main(old_dir), old_dir)
    new = tamper.new(fresh_main(new_dir), new_dir, runs)
    return old, new


@pytest.mark.parametrize("tamper", TAMPERS, ids=[t.case for t in TAMPERS])
def test_each_tamper_got_through_the_old_design_and_is_refused_now(
    tamper: Tamper, tmp_path: Path, runs: dict[str, Run]
) -> None:
    old, new = evaluate(tamper, tmp_path, runs)
    assert old, f"{tamper.case}: the old design already refused it; the case tests nothing"
    assert new, f"{tamper.case}: not refused ({tamper.refused_by})"


def test_print_the_tamper_table_per_stack(tmp_path: Path, runs: dict[str, Run]) -> None:
    results = {t.case: evaluate(t, tmp_path / str(n), runs) for n, t in enumerate(TAMPERS)}
    out = Path("build") / "tamper"
    out.mkdir(parents=True, exist_ok=True)
    for stack in runs:
        rows = [t for t in TAMPERS if stack in t.stacks]
        lines = [f"### Tamper cases resting on {stack}'s declarations", ""]
        if not rows:
            lines.append(f"{stack} is not on the path to production: its images come from delivery.yml only.")
        else:
            lines += ["| attack | old design | now | refused by |", "|---|---|---|---|"]
            for t in rows:
                old, new = results[t.case]
                lines.append(
                    f"| {t.case} | {'got through' if old else 'refused'} | {'refused' if new else 'GOT THROUGH'} | {t.refused_by} |"
                )
        text = "\n".join(lines) + "\n"
        (out / f"{stack}.md").write_text(text)
        print(text)
    assert all(old and new for old, new in results.values())
    assert {s for t in TAMPERS for s in t.stacks} == {"staging", "production"}


def _environments(runs: dict[str, Run]) -> dict[str, tuple[list[str], bool]]:
    """Every declared environment: its deployment branch patterns and whether it has reviewers."""
    found: dict[str, tuple[list[str], bool]] = {}
    for run in runs.values():
        for res in run.resources:
            if res.type.endswith("repositoryEnvironment:RepositoryEnvironment"):
                reviewed = any(r.get("users") or r.get("teams") for r in res.plain.get("reviewers") or [])
                found[res.plain["environment"]] = ([], reviewed)
        for res in run.resources:
            if res.type.endswith("RepositoryEnvironmentDeploymentPolicy"):
                found[res.plain["environment"]][0].append(res.plain["branchPattern"])
    return found


def test_what_decides_production_is_written_only_from_main_only_environments(runs: dict[str, Run]) -> None:
    environments = _environments(runs)
    evidence_writers, release_movers = [], []
    for file, doc in rendered_workflows(runs).items():
        for job_id, job in doc["jobs"].items():
            steps = job.get("steps", [])
            if any(
                str(s.get("uses", "")).startswith("actions/upload-artifact@")
                and (s.get("with") or {}).get("name") == ci_contract.VALIDATION_EVIDENCE_ARTIFACT
                for s in steps
            ):
                evidence_writers.append((file, job_id, job.get("environment")))
            if any(
                "RELEASE_BRANCH" in (s.get("env") or {}) and "PUSH_TOKEN" in (s.get("env") or {})
                for s in steps
            ):
                release_movers.append((file, job_id, job.get("environment")))
    # The evidence: uploaded by one job of staging validation, in the main-only observer environment.
    assert evidence_writers == [
        ("staging-validation.yml", "gate", ci_contract.observer_environment("staging"))
    ]
    assert environments[ci_contract.observer_environment("staging")][0] == ["main"]
    # The release branch: moved by one job, behind production's reviewers, from main only.
    assert release_movers == [("promote.yml", "promote", "production")]
    assert environments["production"] == (["main"], True)
