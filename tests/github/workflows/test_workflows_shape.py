"""Pipeline shape measured from the workflow models, and the workflows' scripts run for real.

The scripts are the exact text the workflows carry (module constants); they run here in
bash against temporary git repositories and directories, with the environment GitHub
would give them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from components.contracts.gitops_layout import image_file
from components.github.config import ValidationConfig, WorkflowsConfig
from components.github.workflows import (
    ci,
    infrastructure,
    pull_request_gates,
    security,
    staging_validation,
    workflows,
)
from components.github.workflows.common import (
    ALWAYS,
    ANY_SERVICE,
    DISCOVER_SCRIPT,
    GATE_SCRIPT,
    services_matrix,
)
from components.github.workflows.db_guardrails import CHECK_SCRIPT
from components.github.workflows.delivery import DEPLOY_SCRIPT
from components.github.workflows.model import Job, Workflow
from components.github.workflows.reusable_build import MAKE_SCRIPT
from components.github.workflows.settings import REFERENCE, Settings
from tests.support.scratch import bash, git

SERVICES = ("api-router-service", "billing-service", "user-org-service")


def write(root: Path, rel: str, text: str = "x\n") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --------------------------------------------------------------------------- discovery


@pytest.fixture(scope="module")
def monorepo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with three services on `main`, and branches for pull requests."""
    root = tmp_path_factory.mktemp("monorepo")
    git(root, "init", "--quiet", "--initial-branch=main")
    for service in SERVICES:
        write(root, f"services/{service}/Makefile", "build:\n\ttrue\n")
        write(root, f"services/{service}/main.go", "package main\n")
    write(root, "docs/README.md")
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "base")
    return root


def pull_request(repo: Path, name: str, change: Callable[[Path], None]) -> str:
    """Check out the merge commit GitHub builds for a pull request from branch `name`."""
    git(repo, "checkout", "--quiet", "main")
    git(repo, "checkout", "--quiet", "-B", name)
    change(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", name)
    git(repo, "checkout", "--quiet", "--detach", "main")
    git(repo, "merge", "--quiet", "--no-ff", "-m", f"merge {name}", name)
    return git(repo, "rev-parse", "HEAD")


def discover(repo: Path, tmp_path: Path, **env: str) -> list[str]:
    output = tmp_path / "output"
    output.write_text("")
    done = bash(
        DISCOVER_SCRIPT,
        repo,
        {
            "SERVICES_PATH": "services",
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
            **env,
        },
    )
    assert done.returncode == 0, done.stderr + done.stdout
    (line,) = output.read_text().splitlines()
    key, _, value = line.partition("=")
    assert key == "services"
    result: list[str] = json.loads(value)
    return result


@pytest.mark.slow
def test_discovery_on_a_pull_request_selects_only_the_services_it_changes(
    monorepo: Path, tmp_path: Path
) -> None:
    pull_request(
        monorepo, "one", lambda r: write(r, "services/billing-service/main.go", "package main // fix\n")
    )
    assert discover(monorepo, tmp_path, SELECT="pr") == ["billing-service"]

    def two(r: Path) -> None:
        write(r, "services/api-router-service/handler.go")
        write(r, "services/user-org-service/deep/nested/file.go")

    pull_request(monorepo, "two", two)
    assert discover(monorepo, tmp_path, SELECT="pr") == ["api-router-service", "user-org-service"]
    pull_request(monorepo, "docs", lambda r: write(r, "docs/README.md", "changed\n"))
    assert discover(monorepo, tmp_path, SELECT="pr") == []
    # A removed service is not built.
    pull_request(
        monorepo, "remove", lambda r: [p.unlink() for p in (r / "services/billing-service").iterdir()]
    )
    assert discover(monorepo, tmp_path, SELECT="pr") == []


@pytest.mark.slow
def test_discovery_on_main_and_on_demand(monorepo: Path, tmp_path: Path) -> None:
    git(monorepo, "checkout", "--quiet", "main")
    base = git(monorepo, "rev-parse", "HEAD")
    assert discover(monorepo, tmp_path, SELECT="all") == list(SERVICES)
    assert discover(monorepo, tmp_path, SELECT="named", REQUESTED="all") == list(SERVICES)
    assert discover(monorepo, tmp_path, SELECT="named", REQUESTED="user-org-service") == ["user-org-service"]
    # Delivery: every service whose image file, in any of the environment directories (a
    # checkout of main), does not record a commit with the service's current source.
    pull_request(monorepo, "undelivered", lambda r: write(r, "services/api-router-service/x.go"))
    head = git(monorepo, "rev-parse", "HEAD")
    dirs = [tmp_path / "main" / "development", tmp_path / "main" / "staging"]
    delivered = {"SELECT": "undelivered", "DELIVERED_DIRS": " ".join(map(str, dirs))}

    def record(env_dir: Path, service: str, tag: str) -> None:
        write(env_dir, image_file(".", service), f'image:\n  repository: r\n  tag: "{tag}"\n  digest: d\n')

    assert discover(monorepo, tmp_path, **delivered) == list(SERVICES)  # first run: nothing recorded
    for env_dir in dirs:
        for service in SERVICES:
            record(env_dir, service, base)
    assert discover(monorepo, tmp_path, **delivered) == ["api-router-service"]
    record(dirs[1], "billing-service", "f" * 40)  # a commit this history does not have
    record(dirs[0], "user-org-service", "latest")  # a tag that is no commit
    assert discover(monorepo, tmp_path, **delivered) == list(SERVICES)
    for env_dir in dirs:
        for service in SERVICES:
            # The tag as the delivery writes it now: `<commit>@<digest>` (the values contract).
            record(env_dir, service, f"{head}@sha256:" + "c" * 64)
    assert discover(monorepo, tmp_path, **delivered) == []
    # A re-run of an older run, once a later commit is delivered, rolls nothing back.
    git(monorepo, "checkout", "--quiet", "--detach", base)
    assert discover(monorepo, tmp_path, **delivered) == []


@pytest.mark.parametrize(
    ("env", "layout"),
    [
        ({"SELECT": "named", "REQUESTED": "no-such-service"}, {}),
        ({"SELECT": "named", "REQUESTED": "../../etc"}, {}),
        ({"SELECT": "all"}, {"services/$(touch pwned)/Makefile": "x\n"}),
        ({"SELECT": "bogus"}, {}),
    ],
)
@pytest.mark.slow
def test_discovery_refuses_unknown_requests_and_unsafe_directory_names(
    tmp_path: Path, env: dict[str, str], layout: dict[str, str]
) -> None:
    write(tmp_path, "services/ok-service/Makefile")
    for rel, text in layout.items():
        write(tmp_path, rel, text)
    done = bash(
        DISCOVER_SCRIPT,
        tmp_path,
        {
            "SERVICES_PATH": "services",
            "GITHUB_OUTPUT": str(tmp_path / "o"),
            "GITHUB_STEP_SUMMARY": "/dev/null",
            **env,
        },
    )
    assert done.returncode != 0
    assert "::error::" in done.stdout
    assert not (tmp_path / "pwned").exists()


# --------------------------------------------------------------------------- shape

PR_CONDITIONS: dict[str, Callable[[list[str]], bool]] = {
    # What each job condition the workflows use evaluates to on a pull request.
    ALWAYS: lambda services: True,
    ANY_SERVICE: lambda services: services != [],
    "github.event_name == 'pull_request'": lambda services: True,
    # The pull request under test touches services only, not the Pulumi program.
    infrastructure.PROGRAM_CHANGED: lambda services: False,
    f"{infrastructure.ON_CHANGE} && {infrastructure.PROGRAM_CHANGED}": lambda services: False,
    infrastructure.ON_MAIN: lambda services: False,
    ci.METRICS_ON_MAIN: lambda services: False,
    f"failure() && {infrastructure.ON_MAIN}": lambda services: False,
    # The run's pipeline_run delivery event: main only.
    f"always() && {infrastructure.ON_MAIN}": lambda services: False,
    # Slack on failures of main's runs and the nightly scan only.
    ci.FAILED_ON_MAIN_PUSH: lambda services: False,
    security.FAILED_ON_MAIN_OR_SCHEDULE: lambda services: False,
}


def expand(workflow: Workflow, services: list[str]) -> dict[str, list[dict[str, object]]]:
    """Job id -> the instances that run on a pull request whose discovery found `services`."""
    instances: dict[str, list[dict[str, object]]] = {}
    for job in workflow.jobs:
        if job.if_ is not None and not PR_CONDITIONS[job.if_](services):
            continue
        if job.strategy is None:
            instances[job.id] = [dict(job.with_)]
            continue
        ((key, axis),) = job.strategy.matrix.items()
        if isinstance(axis, tuple):
            instances[job.id] = [{**job.with_, key: value} for value in axis]
        else:
            assert axis == services_matrix(), f"{job.id}: a computed matrix must come from the discover job"
            instances[job.id] = [{**job.with_, key: s} for s in services]
    return instances


def critical_path(workflow: Workflow, running: set[str]) -> int:
    def chain(job: Job) -> int:
        if job.id not in running:
            return 0  # a skipped job resolves at once
        return 1 + max((chain(workflow.job(n)) for n in job.needs), default=0)

    return max(chain(j) for j in workflow.jobs)


@pytest.mark.slow
def test_a_pull_request_touching_one_service_builds_and_tests_that_service_only(
    monorepo: Path, tmp_path: Path
) -> None:
    pull_request(monorepo, "shape", lambda r: write(r, "services/user-org-service/api.go"))
    services = discover(monorepo, tmp_path, SELECT="pr")
    assert services == ["user-org-service"]
    workflow = ci.workflow(REFERENCE)
    run = expand(workflow, services)
    reusable = "./.github/workflows/reusable-build.yml"
    calls = sorted(
        (job.id, str(instance["target"]), str(instance["service"]))
        for job in workflow.jobs
        if job.uses == reusable and job.id in run
        for instance in run[job.id]
    )
    assert calls == [("build", "build", "user-org-service"), ("test", "test", "user-org-service")]
    assert [i["service"] for i in run["lint"]] == ["user-org-service"]
    assert critical_path(workflow, set(run)) <= 3


def test_a_pull_request_touching_no_service_runs_no_build_and_still_reports_its_gate() -> None:
    workflow = ci.workflow(REFERENCE)
    run = expand(workflow, [])
    assert "build" not in run and "test" not in run and "lint" not in run
    assert "gate" in run and "scan" in run


def test_every_pull_request_workflow_has_a_critical_path_of_at_most_three_jobs() -> None:
    for workflow, _ in pull_request_gates(REFERENCE):
        running = set(expand(workflow, list(SERVICES)))
        assert critical_path(workflow, running) <= 3, workflow.file


def test_required_checks_do_not_depend_on_the_stack_settings() -> None:
    other = Settings(
        image_registry="ghcr.io/someone-else",
        workflows=WorkflowsConfig(
            services_path="apps",
            pulumi_path="deploy/pulumi",
            migrations_path="sql",
            validation=ValidationConfig(base_url="https://staging.someone-else.example"),
        ),
        clusters_path="deploy/clusters",
    )
    assert [name for _, name in pull_request_gates(other)] == [
        name for _, name in pull_request_gates(REFERENCE)
    ]
    assert all(w.gate is None or w.gate.if_ == ALWAYS for w in workflows(other))


# --------------------------------------------------------------------------- gate


def gate(tmp_path: Path, results: dict[str, str], may_skip: list[str]) -> int:
    needs = {job: {"result": result, "outputs": {}} for job, result in results.items()}
    env = {"NEEDS": json.dumps(needs), "MAY_SKIP": json.dumps(may_skip)}
    return bash(GATE_SCRIPT, tmp_path, env).returncode


@pytest.mark.slow
def test_the_gate_passes_only_when_every_needed_job_succeeded(tmp_path: Path) -> None:
    ok = {"discover": "success", "build": "success", "scan": "success"}
    assert gate(tmp_path, ok, ["build"]) == 0
    assert gate(tmp_path, {**ok, "build": "skipped"}, ["build"]) == 0
    assert gate(tmp_path, {**ok, "scan": "skipped"}, ["build"]) != 0
    assert gate(tmp_path, {**ok, "build": "failure"}, ["build"]) != 0
    assert gate(tmp_path, {**ok, "discover": "cancelled"}, ["build"]) != 0


def test_the_gates_allow_skips_only_for_jobs_with_their_own_condition() -> None:
    for workflow in workflows(REFERENCE):
        # Staging validation's gate lets nothing skip: it records the commit status instead.
        if workflow.gate is None or workflow.file == staging_validation.FILE:
            continue
        (step,) = workflow.gate.steps
        may_skip = set(json.loads(step.env["MAY_SKIP"]))
        assert may_skip == {n for n in workflow.gate.needs if workflow.job(n).if_ is not None}, workflow.file


# --------------------------------------------------------------------------- migrations


@pytest.mark.parametrize(
    ("files", "ok"),
    [
        ({}, True),
        ({"0001_init.up.sql": "create", "0001_init.down.sql": "drop"}, True),
        (
            {
                "0001_init.up.sql": "c",
                "0001_init.down.sql": "d",
                "0002_users.up.sql": "c",
                "0002_users.down.sql": "d",
            },
            True,
        ),
        ({"0001_init.up.sql": "create"}, False),  # not reversible
        ({"0001_init.up.sql": "c", "0001_init.down.sql": ""}, False),  # empty down
        ({"0002_a.up.sql": "c", "0002_a.down.sql": "d"}, False),  # gap: no 1
        (
            {"0001_a.up.sql": "c", "0001_a.down.sql": "d", "1_b.up.sql": "c", "1_b.down.sql": "d"},
            False,  # two migrations numbered 1
        ),
        ({"0001_a.up.sql": "c", "0001_b.down.sql": "d"}, False),  # names differ
        ({"0001_a.up.sql": "c", "0001_a.down.sql": "d", "notes.txt": "x"}, False),  # stray file
        ({"0001_a.up.sql": "c", "0001_a.down.sql": "d", "0003_c.up.sql": "c", "0003_c.down.sql": "d"}, False),
    ],
)
@pytest.mark.slow
def test_migrations_are_numbered_in_sequence_and_reversible(
    tmp_path: Path, files: dict[str, str], ok: bool
) -> None:
    migrations = tmp_path / "db" / "migrations"
    if files:
        migrations.mkdir(parents=True)
    for name, text in files.items():
        (migrations / name).write_text(text)
    done = bash(CHECK_SCRIPT, tmp_path, {"MIGRATIONS_PATH": "db/migrations"})
    assert (done.returncode == 0) == ok, done.stdout + done.stderr


# --------------------------------------------------------------------------- build


@pytest.mark.parametrize(
    ("service", "target", "ok"),
    [
        ("svc-a", "build", True),
        ("svc-a", "test", True),
        ("all", "test", True),
        ("svc-a", "deploy", False),
        ("../svc-a", "build", False),
        ("svc-a; touch pwned", "build", False),
        ("missing", "build", False),
    ],
)
@pytest.mark.slow
def test_the_reusable_build_runs_only_build_or_test_of_a_real_service(
    tmp_path: Path, service: str, target: str, ok: bool
) -> None:
    for name in ("svc-a", "svc-b"):
        write(
            tmp_path,
            f"services/{name}/Makefile",
            f"build:\n\ttouch built-{name}\ntest:\n\ttouch tested-{name}\n",
        )
    done = bash(MAKE_SCRIPT, tmp_path, {"SERVICE": service, "TARGET": target, "SERVICES_PATH": "services"})
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    assert not (tmp_path / "pwned").exists()
    if ok and service == "all":
        assert (tmp_path / "services/svc-a/tested-svc-a").exists()
        assert (tmp_path / "services/svc-b/tested-svc-b").exists()


# --------------------------------------------------------------------------- gitops commits


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, Path]:
    """A bare `origin` with `main`, and a clone of it (the job's checkout)."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "--quiet", str(bare), str(seed))
    write(seed, "gitops/clusters/staging/images/api-router-service.yaml", "old\n")
    git(seed, "add", ".")
    git(seed, "commit", "--quiet", "-m", "seed")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    work = tmp_path / "work"
    git(tmp_path, "clone", "--quiet", str(bare), str(work))
    return bare, work


COMMIT = "1e5" + "0" * 37


def record(directory: Path, service: str, digest: str = "sha256:" + "a" * 64) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{service}.json").write_text(
        json.dumps(
            {"service": service, "repository": f"ghcr.io/ai-aas/{service}", "tag": COMMIT, "digest": digest}
        )
    )


def deploy_env(tmp_path: Path, env: str) -> dict[str, str]:
    return {
        "IMAGES_DIR": str(tmp_path / "images"),
        "TARGET_DIR": f"gitops/clusters/{env}",
        "AUTHOR_NAME": "delivery-bot",
        "AUTHOR_EMAIL": "delivery-bot@users.noreply.github.com",
        "MESSAGE": f"deploy({env}): images of abc [skip ci]",
        "PUSH_TOKEN": "not-a-real-token",
        "SERVER": "https://github.com",
    }


@pytest.mark.slow
def test_deploy_commits_image_tags_and_digests_to_main_with_skip_ci(
    tmp_path: Path, origin: tuple[Path, Path]
) -> None:
    bare, work = origin
    record(tmp_path / "images", "api-router-service")
    record(tmp_path / "images", "billing-service", "sha256:" + "b" * 64)
    done = bash(DEPLOY_SCRIPT, work, deploy_env(tmp_path, "staging"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert git(bare, "log", "-1", "--format=%s%n%an", "main") == (
        "deploy(staging): images of abc [skip ci]\ndelivery-bot"
    )
    shown = git(bare, "show", "main:gitops/clusters/staging/images/billing-service.yaml")
    # The values contract: every field a chart may render names the digest.
    assert yaml.safe_load(shown) == {
        "image": {
            "repository": "ghcr.io/ai-aas/billing-service",
            "tag": f"{COMMIT}@sha256:" + "b" * 64,
            "digest": "sha256:" + "b" * 64,
            "reference": "ghcr.io/ai-aas/billing-service@sha256:" + "b" * 64,
        }
    }
    # Nothing new: no empty commit.
    head = git(bare, "rev-parse", "main")
    assert bash(DEPLOY_SCRIPT, work, deploy_env(tmp_path, "staging")).returncode == 0
    assert git(bare, "rev-parse", "main") == head


@pytest.mark.slow
def test_deploy_refuses_a_malformed_image_record(tmp_path: Path, origin: tuple[Path, Path]) -> None:
    bare, work = origin
    head = git(bare, "rev-parse", "main")
    record(tmp_path / "images", "api-router-service", digest="latest")
    done = bash(DEPLOY_SCRIPT, work, deploy_env(tmp_path, "development"))
    assert done.returncode != 0
    # Every field is checked before it reaches YAML, the repository included.
    (tmp_path / "images" / "api-router-service.json").write_text(
        json.dumps(
            {
                "service": "api-router-service",
                "repository": "x\n  evil: 1",
                "tag": COMMIT,
                "digest": "sha256:" + "a" * 64,
            }
        )
    )
    assert bash(DEPLOY_SCRIPT, work, deploy_env(tmp_path, "development")).returncode != 0
    assert git(bare, "rev-parse", "main") == head


@pytest.mark.slow
def test_previews_run_only_for_pull_requests_touching_the_pulumi_program(
    monorepo: Path, tmp_path: Path
) -> None:
    def changed(event: str) -> str:
        output = tmp_path / "changes"
        output.write_text("")
        done = bash(
            infrastructure.CHANGES_SCRIPT,
            monorepo,
            {
                "EVENT_NAME": event,
                "PULUMI_PATH": "infra/pulumi",
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": "/dev/null",
            },
        )
        assert done.returncode == 0, done.stderr
        return output.read_text().strip()

    pull_request(monorepo, "infra", lambda r: write(r, "infra/pulumi/__main__.py"))
    assert changed("pull_request") == "infra=true"
    pull_request(monorepo, "service-only", lambda r: write(r, "services/billing-service/y.go"))
    assert changed("pull_request") == "infra=false"
    assert changed("push") == "infra=true"


# --------------------------------------------------------------------------- ordered applies

# A stand-in for the Pulumi CLI: `stack tag get|set` on files under $TAGS, the way the real
# CLI answers (a missing tag is an error naming it); FAIL=1 plays an unreachable backend.
FAKE_PULUMI = r"""#!/bin/bash
set -euo pipefail
[[ "${FAIL:-}" != 1 ]] || { echo "error: failed to load checkpoint: AccessDenied" >&2; exit 255; }
[[ "$1 $2 $5" == "stack tag --stack" || "$1 $2 $6" == "stack tag --stack" ]] || exit 2
file="$TAGS/$(printf '%s' "$4" | tr ':/' '__')"
case "$3" in
  get) [[ -f "$file" ]] || { echo "error: stack tag '$4' not found for stack 'organization/delivery/$6'" >&2; exit 255; }
       cat "$file" ;;
  set) printf '%s\n' "$5" > "$file" ;;
  *) exit 2 ;;
esac
"""


@pytest.fixture
def applies(tmp_path: Path) -> Callable[..., tuple[int, str, str | None]]:
    """Run the order check of `up-production` at a commit, with the stack tag at another (or
    absent); (exit code, output, the tag afterwards)."""
    shim, tags = tmp_path / "bin", tmp_path / "tags"
    shim.mkdir()
    tags.mkdir()
    (shim / "pulumi").write_text(FAKE_PULUMI)
    (shim / "pulumi").chmod(0o755)
    tag = tags / infrastructure.APPLIED_COMMIT_TAG.replace(":", "_")

    def run(repo: Path, head: str, last: str | None, **env: str) -> tuple[int, str, str | None]:
        git(repo, "checkout", "--quiet", "--detach", head)
        if last is None:
            tag.unlink(missing_ok=True)
        else:
            tag.write_text(f"{last}\n")
        done = bash(
            infrastructure.ORDER_SCRIPT,
            repo,
            {
                "PATH": f"{shim}:{os.environ['PATH']}",
                "TAGS": str(tags),
                "STACK": "production",
                "TAG": infrastructure.APPLIED_COMMIT_TAG,
                "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
                **env,
            },
        )
        after = tag.read_text().strip() if tag.exists() else None
        return done.returncode, done.stdout + done.stderr, after

    return run


@pytest.mark.slow
def test_an_up_refuses_a_commit_older_than_the_stacks_last_up(
    tmp_path: Path, applies: Callable[..., tuple[int, str, str | None]]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    commits = []
    for n in range(3):
        write(repo, "infra/pulumi/__main__.py", f"# {n}\n")
        git(repo, "add", ".")
        git(repo, "commit", "--quiet", "-m", f"c{n}")
        commits.append(git(repo, "rev-parse", "HEAD"))
    old, middle, new = commits
    git(repo, "checkout", "--quiet", "-b", "elsewhere", old)
    write(repo, "infra/pulumi/__main__.py", "# a branch never merged\n")
    git(repo, "commit", "--quiet", "-am", "side")
    side = git(repo, "rev-parse", "HEAD")

    # The first up from CI, a newer commit, the same commit again (a re-run): applied, recorded.
    assert applies(repo, middle, None)[::2] == (0, middle)
    assert applies(repo, new, middle)[::2] == (0, new)
    assert applies(repo, new, new)[::2] == (0, new)
    # An older commit than the last up (a slow run, a re-run of an old run): refused, kept.
    code, output, after = applies(repo, middle, new)
    assert (code, after) == (1, new)
    assert f"last applied at {new}, which {middle} does not contain" in output
    # A last up from a commit main does not contain, or an unknown one: refused.
    assert applies(repo, new, side)[::2] == (1, side)
    assert applies(repo, new, "f" * 40)[::2] == (1, "f" * 40)
    assert applies(repo, new, "$(touch pwned)")[::2] == (1, "$(touch pwned)")
    assert not (repo / "pwned").exists()
    # A backend it cannot read: refused, nothing recorded.
    code, output, after = applies(repo, new, old, FAIL="1")
    assert (code, after) == (1, old) and "cannot read stack tag" in output
