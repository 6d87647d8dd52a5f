"""Policy checks over the workflow files the program commits (the recorded RepositoryFiles).

Everything here reads what the program declared: the rendered file contents of the
``github.RepositoryFile`` resources, parsed back as YAML, and the governance resources
(Actions secrets and variables, the ruleset) recorded across the three stack runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from components.github.workflows import required_status_checks
from components.github.workflows.pins import PINS_FILE, all_pins
from tests.support.stacks import TEST_SECRETS, run_stack
from tests.support.types import REPOSITORY_FILE
from tools.offline import ROOT, STACKS, Run, run_program
from tools.plan import GOLDEN, render_documents

OWNER_STACK = "production"
# The seven files, and the promotion workflow.
EXPECTED_FILES = {
    ".github/workflows/ci.yml",
    ".github/workflows/reusable-build.yml",
    ".github/workflows/ci-remote.yml",
    ".github/workflows/infrastructure.yml",
    ".github/workflows/security.yml",
    ".github/workflows/db-guardrails.yml",
    ".github/workflows/delivery.yml",
    ".github/workflows/staging-validation.yml",
    ".github/workflows/promote.yml",
    ".github/workflows/promotion-guard.yml",
    ".github/workflows/drift.yml",
    ".github/workflows/delivery-events.yml",
    ".github/workflows/dora-report.yml",
}
# The gate scripts the workflows run, committed beside them.
SCRIPT_FILES = {
    ".github/scripts/locust_gate.py",
    ".github/scripts/zap_gate.py",
    ".github/scripts/staging_state.py",
    ".github/scripts/validation_evidence.py",
    ".github/scripts/delivery_event.py",
    # The hash lock the load test installs Locust from.
    ".github/scripts/locust.lock",
    ".github/scripts/sarif_gate.py",
    ".github/scripts/coverage_gate.py",
    ".github/scripts/semgrep.lock",
}
# Committed the same way by the managing stack (components/github/code_owners.py).
CODEOWNERS = {".github/CODEOWNERS"}
BUILT_IN_SECRETS = {"GITHUB_TOKEN"}


def committed_files(run: Run) -> dict[str, str]:
    return {
        str(res.plain["file"]): str(res.plain["content"])
        for res in run.resources
        if res.type == REPOSITORY_FILE
    }


def workflow_texts(run: Run) -> dict[str, str]:
    return {
        path: text for path, text in committed_files(run).items() if path.startswith(".github/workflows/")
    }


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    """Path -> parsed workflow, as committed by the owner stack."""
    # YAML 1.1 reads the key `on` as True; GitHub reads it as the string "on".
    parsed = {path: yaml.safe_load(text) for path, text in workflow_texts(run_stack(OWNER_STACK)).items()}
    for doc in parsed.values():
        doc["on"] = doc.pop(True)
    return parsed


def jobs(documents: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, doc in documents.items():
        for job_id, job in doc["jobs"].items():
            yield path, job_id, job


def steps(documents: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, job_id, job in jobs(documents):
        for step in job.get("steps", []):
            yield path, job_id, step


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


# --------------------------------------------------------------------------- ownership


def test_workflow_files_exist_in_the_owner_stack_only(runs: dict[str, Run]) -> None:
    for stack, run in runs.items():
        files = set(committed_files(run))
        if stack == OWNER_STACK:
            assert files == EXPECTED_FILES | SCRIPT_FILES | CODEOWNERS
        else:
            assert files == set(), f"{stack} must not commit workflow files (one owner per file)"


def test_files_commit_to_main_with_skip_ci_a_configured_author_and_adopt_existing_files() -> None:
    run = run_stack(OWNER_STACK)
    files = [res for res in run.resources if res.type == REPOSITORY_FILE]
    assert files
    for res in files:
        inputs = res.plain
        assert inputs["repository"] == "platform"
        assert inputs["branch"] == "main"
        assert "[skip ci]" in inputs["commitMessage"], "a workflow-file commit must not start the pipelines"
        assert inputs["commitAuthor"] and inputs["commitEmail"].count("@") == 1
        assert inputs["overwriteOnCreate"] is True, "files already in the repository must be adopted"
        assert res.provider == "github", "files are written through the explicit, owner-bound provider"
        assert str(inputs["file"]).startswith((".github/workflows/", ".github/scripts/")) or (
            inputs["file"] in CODEOWNERS
        )


def test_commit_identity_comes_from_the_workflows_config() -> None:
    values = yaml.safe_load((ROOT / f"Pulumi.{OWNER_STACK}.yaml").read_text())["config"]
    values["delivery:github"]["workflows"] = {
        **values["delivery:github"]["workflows"],
        "commitAuthor": "release-robot",
        "commitEmail": "robot@example.org",
    }
    run = run_program(OWNER_STACK, TEST_SECRETS, stack_values=values)
    files = [res for res in run.resources if res.type == REPOSITORY_FILE]
    assert files and all(r.plain["commitAuthor"] == "release-robot" for r in files)
    assert all(r.plain["commitEmail"] == "robot@example.org" for r in files)


# --------------------------------------------------------------------------- golden


def test_golden_workflow_files_match_the_program() -> None:
    """Reviewers read workflow changes as YAML diffs: the committed copies must be current."""
    for stack in STACKS:
        rendered = {
            rel: text for rel, text in render_documents(run_stack(stack)).items() if rel.startswith("github/")
        }
        golden_dir = GOLDEN / stack / "github"
        golden = {
            str(p.relative_to(GOLDEN / stack)): p.read_text() for p in golden_dir.rglob("*") if p.is_file()
        }
        assert golden.keys() == rendered.keys(), "workflow files added or removed; run `make golden`"
        for rel, text in rendered.items():
            assert golden[rel] == text, f"{rel} drifted; run `make golden`"


# --------------------------------------------------------------------------- pinning

_USES = re.compile(r"^\s*(?:- )?uses: (?P<ref>\S+)(?P<comment>.*)$")
_PINNED = re.compile(r"^(?P<action>[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@(?P<sha>[0-9a-f]{40})$")


def test_every_action_is_pinned_by_full_sha_with_its_version_comment() -> None:
    pins = {(p.name, p.sha): p.tag for p in all_pins().values()}
    seen = 0
    for path, text in workflow_texts(run_stack(OWNER_STACK)).items():
        for line in text.splitlines():
            match = _USES.match(line)
            if not match:
                continue
            seen += 1
            ref = match["ref"]
            if ref.startswith("./.github/workflows/"):
                assert match["comment"] == "", f"{path}: {line}"
                continue
            pinned = _PINNED.match(ref)
            assert pinned, f"{path}: not pinned by a full commit SHA: {line}"
            tag = pins.get((pinned["action"], pinned["sha"]))
            assert tag is not None, f"{path}: {ref} is not in {PINS_FILE.name}"
            assert match["comment"] == f" # {tag}", f"{path}: version comment must be '# {tag}': {line}"
    assert seen > 20


def test_sub_actions_of_one_action_repository_share_one_commit() -> None:
    # github/codeql-action/init, /analyze and /upload-sarif are one release: mixed commits
    # mean an init from one CodeQL bundle and an analyze from another.
    commits: dict[str, set[str]] = {}
    for text in workflow_texts(run_stack(OWNER_STACK)).values():
        for line in text.splitlines():
            match = _USES.match(line)
            pinned = _PINNED.match(match["ref"]) if match else None
            if pinned:
                owner, repo = pinned["action"].split("/")[:2]
                commits.setdefault(f"{owner}/{repo}", set()).add(pinned["sha"])
    assert "github/codeql-action" in commits
    mixed = {repository: shas for repository, shas in commits.items() if len(shas) > 1}
    assert mixed == {}, f"sub-actions pinned to different commits: {mixed}"


def test_every_gitleaks_job_checks_out_the_whole_history(documents: dict[str, dict[str, Any]]) -> None:
    # A shallow checkout holds one commit: gitleaks would scan it and pass whatever the
    # history holds.
    scanning = 0
    for path, job_id, job in jobs(documents):
        steps = job.get("steps", [])
        runs_gitleaks = [
            i
            for i, step in enumerate(steps)
            if "gitleaks" in str(step.get("run", "")) + str(step.get("uses", ""))
        ]
        if not runs_gitleaks:
            continue
        scanning += 1
        checkouts = [
            step
            for step in steps[: runs_gitleaks[0]]
            if str(step.get("uses", "")).startswith("actions/checkout@")
        ]
        assert checkouts, f"{path} {job_id}: gitleaks runs without a checkout"
        for step in checkouts:
            assert step.get("with", {}).get("fetch-depth") == 0, (
                f"{path} {job_id}: checkout must fetch-depth: 0"
            )
    assert scanning >= 2, "ci.yml and security.yml both run gitleaks"


def test_every_pinned_action_is_used() -> None:
    copied = json.loads(PINS_FILE.read_text())["actions"]
    used = "\n".join(workflow_texts(run_stack(OWNER_STACK)).values())
    for entry in copied:
        assert f"{entry['action']}@{entry['sha']}" in used, f"{entry['action']} is pinned but unused"


# --------------------------------------------------------------------------- secrets


def _declared(runs: dict[str, Run]) -> tuple[set[str], set[str], dict[str, set[str]], dict[str, set[str]]]:
    repo_secrets: set[str] = set()
    repo_vars: set[str] = set()
    env_secrets: dict[str, set[str]] = {}
    env_vars: dict[str, set[str]] = {}
    for run in runs.values():
        for res in run.resources:
            kind = res.type.rsplit(":", 1)[-1]
            inputs = res.plain
            if kind == "ActionsSecret":
                repo_secrets.add(inputs["secretName"])
            elif kind == "ActionsVariable":
                repo_vars.add(inputs["variableName"])
            elif kind == "ActionsEnvironmentSecret":
                env_secrets.setdefault(inputs["environment"], set()).add(inputs["secretName"])
            elif kind == "ActionsEnvironmentVariable":
                env_vars.setdefault(inputs["environment"], set()).add(inputs["variableName"])
    return repo_secrets, repo_vars, env_secrets, env_vars


_REFERENCE = re.compile(r"\b(?P<kind>secrets|vars)\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)")


def test_every_secret_and_variable_a_workflow_reads_is_declared_where_the_job_can_read_it(
    runs: dict[str, Run], documents: dict[str, dict[str, Any]]
) -> None:
    repo_secrets, repo_vars, env_secrets, env_vars = _declared(runs)
    checked = 0
    for path, job_id, job in jobs(documents):
        environment = job.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name")
        assert environment is None or "${{" not in environment, f"{path}:{job_id}: literal environments only"
        for text in strings(job):
            for ref in _REFERENCE.finditer(text):
                kind, name = ref["kind"], ref["name"]
                if kind == "secrets" and name in BUILT_IN_SECRETS:
                    continue
                checked += 1
                repo, scoped = (repo_secrets, env_secrets) if kind == "secrets" else (repo_vars, env_vars)
                if name in repo:
                    continue
                where = f"{path}: job {job_id} reads {kind}.{name}"
                assert environment is not None, f"{where}, declared only in environments, without one"
                assert name in scoped.get(environment, set()), f"{where}; environment {environment} lacks it"
    assert checked >= 20


def test_deployer_credentials_are_read_only_in_jobs_bound_to_an_environment(
    documents: dict[str, dict[str, Any]],
) -> None:
    """The deployer token and stack credentials never reach a job without an environment."""
    environment_only = {
        "DEPLOYER_GITHUB_TOKEN",
        "LINODE_TOKEN",
        "PULUMI_CONFIG_PASSPHRASE",
        "PULUMI_BACKEND_ACCESS_KEY_ID",
        "PULUMI_BACKEND_SECRET_ACCESS_KEY",
    }
    for path, job_id, job in jobs(documents):
        names = {m["name"] for text in strings(job) for m in _REFERENCE.finditer(text)}
        if names & environment_only:
            assert job.get("environment"), f"{path}: {job_id} reads {names & environment_only}"


# --------------------------------------------------------------------------- required checks


def test_required_checks_are_gate_jobs_that_run_on_every_pull_request(
    documents: dict[str, dict[str, Any]],
) -> None:
    required = required_status_checks()
    assert required, "pull requests need at least one required check"
    for check in required:
        matches = [
            (path, job_id, job) for path, job_id, job in jobs(documents) if job.get("name", job_id) == check
        ]
        assert len(matches) == 1, f"check {check!r} must name exactly one job, found {len(matches)}"
        path, job_id, job = matches[0]
        trigger = documents[path]["on"].get("pull_request")
        assert trigger is not None, f"{path} does not run on pull requests"
        filters = {"paths", "paths-ignore", "branches", "branches-ignore", "types"} & set(trigger or {})
        assert not filters, f"{path}: pull_request filters {filters} would leave {check!r} unreported"
        assert job.get("if") == "always()", f"{path}:{job_id} must run whatever its needs did"
        assert "strategy" not in job and "uses" not in job, f"{check!r}: a matrix or call renames the check"


def test_every_workflow_running_on_pull_requests_has_its_gate_required(
    documents: dict[str, dict[str, Any]],
) -> None:
    required = set(required_status_checks())
    for path, doc in documents.items():
        if "pull_request" in doc["on"]:
            gates = [
                j.get("name", i) for i, j in doc["jobs"].items() if j.get("if") == "always()" and i == "gate"
            ]
            assert len(gates) == 1 and gates[0] in required, (
                f"{path} runs on pull requests without a required gate"
            )


def test_mains_ruleset_requires_exactly_the_gate_checks() -> None:
    rulesets = [r for r in run_stack(OWNER_STACK).resources if r.type.endswith("RepositoryRuleset")]
    (main,) = [r for r in rulesets if r.name.endswith("-main-ruleset")]
    assert sorted(r.plain["target"] for r in rulesets if r is not main) == ["branch", "tag"], (
        "the tags and the release branches have their own"
    )
    checks = main.plain["rules"]["requiredStatusChecks"]["requiredChecks"]
    assert sorted(c["context"] for c in checks) == required_status_checks()


# --------------------------------------------------------------------------- hardening


def test_top_level_permissions_are_read_only_or_none_and_every_job_states_its_own(
    documents: dict[str, dict[str, Any]],
) -> None:
    for path, doc in documents.items():
        assert set(doc["permissions"].values()) <= {"read"}, path
        for job_id, job in doc["jobs"].items():
            assert isinstance(job.get("permissions"), dict), f"{path}:{job_id} must state its permissions"


def test_write_permissions_are_granted_only_where_they_are_used(documents: dict[str, dict[str, Any]]) -> None:
    writes = {
        (path.rsplit("/", 1)[-1], job_id, scope)
        for path, job_id, job in jobs(documents)
        for scope, access in job["permissions"].items()
        if access == "write"
    }
    assert writes == {
        # SARIF uploads to code scanning.
        ("ci.yml", "scan", "security-events"),
        ("ci-remote.yml", "scan", "security-events"),
        ("security.yml", "codeql", "security-events"),
        ("security.yml", "semgrep", "security-events"),
        ("security.yml", "trivy", "security-events"),
        # The image scans' SARIF, uploaded by the job that runs no scanner and pushes nothing.
        ("delivery.yml", "image-findings", "security-events"),
        ("security.yml", "gitleaks", "security-events"),
        # Image push to GHCR (by the job that runs no scanner).
        ("delivery.yml", "publish", "packages"),
        # The staging-validation commit status, which promote.yml requires.
        ("staging-validation.yml", "gate", "statuses"),
    }
    # No job uses OIDC, so none may mint an OIDC token.
    assert not any("id-token" in job["permissions"] for _, _, job in jobs(documents))


def test_checkouts_never_persist_credentials(documents: dict[str, dict[str, Any]]) -> None:
    checkouts = [s for _, _, s in steps(documents) if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert len(checkouts) > 10
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)


def test_every_remote_git_command_authenticates_itself(documents: dict[str, dict[str, Any]]) -> None:
    """Checkouts keep no credentials, so a bare `git push` would fail on GitHub (a local
    bare repository in the script tests would not notice): every push, pull and fetch goes
    through `git_auth`, which sends the token for that one command."""
    remote = re.compile(r"(?<![\w-])(git|git_auth)\s+(push|pull|fetch)\b")
    pushes = 0
    for path, job_id, step in steps(documents):
        for match in remote.finditer(str(step.get("run", ""))):
            pushes += match.group(2) == "push"
            assert match.group(1) == "git_auth", f"{path}:{job_id}: {match.group(0)!r}"
    assert pushes >= 2, "the delivery and promotion workflows push"


def test_every_job_running_steps_has_a_timeout(documents: dict[str, dict[str, Any]]) -> None:
    for path, job_id, job in jobs(documents):
        if "uses" in job:
            continue  # the called workflow's jobs carry the timeouts
        assert 1 <= job["timeout-minutes"] <= 60, f"{path}:{job_id}"


def test_scripts_contain_no_expressions_so_untrusted_values_arrive_through_env(
    documents: dict[str, dict[str, Any]],
) -> None:
    scripts = [s["run"] for _, _, s in steps(documents) if "run" in s]
    assert len(scripts) > 10
    assert not [s for s in scripts if "${{" in s]
    untrusted = re.compile(
        r"github\.(head_ref|event\.(pull_request|issue|comment|review|head_commit))\b|inputs\."
    )
    for path, job_id, step in steps(documents):
        for key in ("run", "working-directory", "shell"):
            assert not untrusted.search(str(step.get(key, ""))), f"{path}:{job_id}: {key}"


def test_infrastructure_applies_stacks_in_order_behind_their_environments_one_run_at_a_time(
    documents: dict[str, dict[str, Any]],
) -> None:
    doc = documents[".github/workflows/infrastructure.yml"]
    previous = "validate"
    for env in STACKS:
        # On main: the real preview against the stack's state, then its `up`.
        state_preview = doc["jobs"][f"state-preview-{env}"]
        assert state_preview["environment"] == f"{env}-preview"
        assert state_preview["needs"] == [previous]
        step = next(s for s in state_preview["steps"] if "pulumi/actions@" in s.get("uses", ""))
        assert step["with"]["command"] == "preview" and step["with"]["stack-name"] == env
        up = doc["jobs"][f"up-{env}"]
        assert up["environment"] == env
        assert up["concurrency"] == {"group": f"pulumi-{env}", "cancel-in-progress": False}
        assert up["needs"] == [f"state-preview-{env}"]
        assert up["runs-on"] == state_preview["runs-on"], "both reach the same cluster"
        previous = f"up-{env}"
        names = [s["name"] for s in up["steps"]]
        step = next(s for s in up["steps"] if (s.get("with") or {}).get("command"))
        assert step["with"]["command"] == "up" and step["with"]["stack-name"] == env
        # Before it, the check that refuses a commit older than the stack's last up, with
        # the whole history to ask git about ancestry.
        order = names.index(f"Refuse a commit older than {env}'s last up")
        assert order == names.index(step["name"]) - 1
        assert up["steps"][order]["env"]["STACK"] == env
        assert up["steps"][0]["with"]["fetch-depth"] == 0
        # On a pull request or in the merge queue: the credential-free preview, no environment.
        preview = doc["jobs"][f"preview-{env}"]
        assert "environment" not in preview and "secrets." not in json.dumps(preview)
        assert preview["permissions"] == {"contents": "read"}
        assert any("make preview" in s.get("run", "") for s in preview["steps"])
    # Runs on main share one group that never cancels (merges apply in order, one at a time);
    # a pull request's new push cancels its stale run; anything else is alone in its group.
    concurrency = doc["concurrency"]
    assert concurrency["group"] == (
        "${{ github.workflow }}-${{ github.event.pull_request.number"
        " || (github.ref == 'refs/heads/main' && 'main') || github.run_id }}"
    )
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def test_delivery_deploys_development_then_staging_and_promotion_goes_through_production(
    documents: dict[str, dict[str, Any]],
) -> None:
    delivery = documents[".github/workflows/delivery.yml"]["jobs"]
    assert delivery["deploy-development"]["environment"] == "development"
    assert delivery["deploy-staging"]["environment"] == "staging"
    assert delivery["deploy-staging"]["needs"] == ["deploy-development"]
    assert not any(job.get("environment") == "production" for job in delivery.values())
    build = next(s for s in delivery["images"]["steps"] if "build-push-action@" in s.get("uses", ""))["with"]
    assert (
        build["platforms"] == "linux/amd64,linux/arm64" and build["sbom"] is True and build["push"] is False
    )
    scan = next(s for s in delivery["images"]["steps"] if "trivy image" in s.get("run", ""))
    assert "--severity CRITICAL,HIGH" in scan["run"] and "critical_total > 0" in scan["run"]
    assert delivery["deploy-development"]["needs"] == ["publish"]
    promote = documents[".github/workflows/promote.yml"]
    assert set(promote["on"]) == {"workflow_dispatch"}
    assert promote["jobs"]["promote"]["environment"] == "production"


# --------------------------------------------------------------------------- object storage

OBJECT_STORAGE_CREDENTIALS = re.compile(
    r"secrets\.(" + "|".join(re.escape(p) for p in ("METRICS_", "PULUMI_BACKEND_")) + ")"
)


def test_every_step_talking_to_object_storage_sends_checksums_only_when_required(
    documents: dict[str, dict[str, Any]],
) -> None:
    """AWS CLI v2 and the AWS SDK for Go v2 (Pulumi's S3 state backend) send CRC checksums by
    default, which Linode Object Storage has refused (linode/terraform-provider-linode#1834):
    every step that gets the metrics or state-bucket keys, or runs `aws s3`, turns them off."""
    talking: set[tuple[str, str]] = set()
    for path, job_id, job in jobs(documents):
        for step in job.get("steps", []):
            env = {**documents[path].get("env", {}), **job.get("env", {}), **step.get("env", {})}
            if not (
                any(OBJECT_STORAGE_CREDENTIALS.search(v) for v in strings(env))
                or re.search(r"\baws s3\b", step.get("run", ""))
            ):
                continue
            talking.add((path, job_id))
            for variable in ("AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
                assert env.get(variable) == "when_required", f"{path} {job_id} {step['name']!r}: {variable}"
    # The check found both kinds of Object Storage clients: metrics uploads, Pulumi's backend.
    files = {path for path, _ in talking}
    assert {".github/workflows/ci.yml", ".github/workflows/infrastructure.yml"} <= files, talking
