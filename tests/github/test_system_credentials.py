"""Credential closure: who can start each CI job, and what it can reach, from what the stacks declare.

The graph is built from the declarations only (docs/security.md, "Credential closure"):

- the jobs: every job of every workflow file the managing stack commits (its
  `RepositoryFile` contents), plus the job anybody who can push a branch can write into a
  workflow of that branch;
- who can start a job: the workflow's triggers, each classified as runnable by a change
  nobody reviewed (a pull request from any branch, a push to any branch, a manual run on any
  ref) or only by reviewed code (a push to `main`, a merge-queue entry, the schedule);
  a job's `if:` is not a guard, since a branch can edit it;
- the job's environment (`environment:`), its deployment branch policy and reviewers, from
  the declared `RepositoryEnvironment` and `RepositoryEnvironmentDeploymentPolicy`;
- the secrets it receives: every `secrets.X` it references, resolved as GitHub does, to the
  environment's secret first, then the repository's (`ActionsEnvironmentSecret`,
  `ActionsSecret`);
- what each secret unlocks, traced from its value to the config secret or the minted
  credential it holds: a stack's passphrase unlocks every config secret and every state
  secret of that stack (its minted tokens and keys, its cluster's admin kubeconfig, its
  deploy key); a Linode token its scopes (account-wide); an Object Storage key its buckets;
  a GitHub token config secret what that token is documented to be allowed.

Properties: nothing beyond read-only is reachable from a job that an unreviewed change can
start; every write is reachable only from jobs in protected environments (deployments from
`main` alone); production's writes only behind production's reviewers.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
import yaml

from components.github.config import ACKNOWLEDGEABLE_RISKS
from tests.support.paths import ROOT
from tests.support.stacks import TEST_SECRETS
from tests.support.types import (
    ACTIONS_SECRET,
    BUCKET,
    DEPLOY_KEY,
    DEPLOYMENT_POLICY,
    ENVIRONMENT,
    ENVIRONMENT_SECRET,
    LKE_CLUSTER,
    OBJECT_STORAGE_KEY,
    PRIVATE_KEY,
    REPOSITORY_FILE,
    RULESET,
    TOKEN,
)
from tools.offline import SERVICE_ACCOUNT_TOKEN, STACKS, Run, declared_secrets, mock_outputs

MAIN = "main"
REPOSITORY = "repository"
ACCOUNT = "linode account"
Level = Literal["read", "write"]

# What a GitHub-token or webhook config secret is documented to allow (docs/bootstrap.md, "Bootstrap"
# step 3, Pulumi.yaml descriptions). Every secret Pulumi.yaml declares must be classified
# here or below; a new one fails `test_every_secret_is_classified` until it is.
CONFIG_SECRET_GRANTS: dict[str, tuple[tuple[str, Level, str], ...]] = {
    "ciGithubToken": (
        ("github: push to main (the ruleset's bypass actor)", "write", REPOSITORY),
        ("github: administration, environments, secrets, workflows", "write", REPOSITORY),
    ),
    "ciGithubReadToken": (("github: repository settings and contents", "read", REPOSITORY),),
    "slackWebhookUrl": (("slack: post to the alert channel", "write", REPOSITORY),),
    "ghcrPullToken": (("ghcr: pull the platform's images (read:packages)", "read", REPOSITORY),),
    # Fine-grained, Contents read/write on the repository: what a repository_dispatch needs,
    # which also lets it push branches other than main (the ruleset protects main).
    "argocdDispatchToken": (("github: repository dispatch, contents (not main)", "write", REPOSITORY),),
    "pagerdutyRoutingKey": (
        ("pagerduty: open incidents on the alerting service (Events API v2)", "write", REPOSITORY),
    ),
}
PASSPHRASE = "ciPulumiPassphrase"
# Repository-wide grants that reach every stack's protection (closure v2): Administration
# write edits any environment's reviewers and branch policies, production's included.
DEPLOYER_ADMINISTRATION = "deployer-administration-reaches-production"
SHARED_ACCOUNT = "shared-linode-account-reaches-production"
REACHES_EVERY_STACK: dict[str, tuple[tuple[str, Level, str], ...]] = {
    "ciGithubToken": (
        (
            "github: {stack}'s environments and their protection (Administration)",
            "write",
            DEPLOYER_ADMINISTRATION,
        ),
    ),
}
# What every job token's permissions give: writes anyone with write access already has
# (push a branch whose workflow asks for them). They decide nothing that reaches production:
# rulesets guard main, release/* and tags, and promotion trusts no status, tag or dispatch
# (tests/system/test_promotion_integrity.py).
ANY_WRITER = "any writer"


def _stack_file(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def linode_account(stack: str) -> str:
    return str(_stack_file(stack).get("delivery:pipeline", {}).get("linodeAccount", "default"))


def acknowledged(stack: str) -> dict[str, str]:
    return dict(_stack_file(stack).get("delivery:pipeline", {}).get("acknowledgedRisks") or {})


GITHUB_ACTIONS_APP_ID = 15368

# Every GITHUB_TOKEN permission a workflow may ask for (GitHub docs, "Permissions for the
# GITHUB_TOKEN").
ALL_TOKEN_PERMISSIONS: dict[str, str] = dict.fromkeys(
    (
        "actions", "attestations", "checks", "contents", "deployments", "id-token", "issues", "packages",
        "pages", "pull-requests", "security-events", "statuses",
    ),
    "write",
)  # fmt: skip

_SECRET_REF = re.compile(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, order=True)
class Capability:
    asset: str
    level: Level
    scope: str  # the stack it belongs to, `repository`, `any writer` or `linode account <name>`
    # The name a stack's config may acknowledge this reach by (pipeline.acknowledgedRisks),
    # when it reaches production from outside production's reviewers; "" for none.
    risk: str = ""

    def __str__(self) -> str:
        where = f" [{self.scope}]" if self.scope not in self.asset else ""
        return f"{self.level} {self.asset}{where}"


@dataclass(frozen=True)
class Environment:
    name: str
    stack: str
    branches: tuple[str, ...] | None  # None: no deployment branch policy, any branch deploys
    reviewed: bool  # required reviewers
    secrets: dict[str, str]  # secret name -> value

    @property
    def main_only(self) -> bool:
        return self.branches == (MAIN,)

    def describe(self) -> str:
        policy = "any branch" if self.branches is None else ", ".join(self.branches) or "no branch"
        return f"{self.name} ({policy}{'; reviewers' if self.reviewed else ''})"


@dataclass(frozen=True)
class Start:
    """One way a job starts."""

    label: str
    unreviewed: bool  # the code it runs may be a change nobody reviewed


@dataclass
class JobRow:
    job: str
    starts: tuple[Start, ...]
    environment: str | None
    secrets: tuple[str, ...]
    permissions: dict[str, str] | str
    reachable: set[Capability] = field(default_factory=set)


@dataclass
class System:
    """Everything the closure needs, read from the three stacks' recordings."""

    runs: dict[str, Run]
    environments: dict[str, Environment]
    repository_secrets: dict[str, tuple[str, str]]  # name -> (declaring stack, value)
    workflows: dict[str, dict[str, Any]]  # file -> parsed document
    github_actions_bypasses_main: bool


def _plain_of(run: Run, type_: str) -> list[tuple[str, dict[str, Any]]]:
    return [(r.name, r.plain) for r in run.recorder.of_type(type_)]


def build_system(runs: dict[str, Run]) -> System:
    environments: dict[str, Environment] = {}
    repository_secrets: dict[str, tuple[str, str]] = {}
    workflows: dict[str, dict[str, Any]] = {}
    bypass = False
    for stack, run in runs.items():
        policies: dict[str, list[str]] = {}
        for _, plain in _plain_of(run, DEPLOYMENT_POLICY):
            policies.setdefault(plain["environment"], []).append(plain["branchPattern"])
        secrets: dict[str, dict[str, str]] = {}
        for _, plain in _plain_of(run, ENVIRONMENT_SECRET):
            secrets.setdefault(plain["environment"], {})[plain["secretName"]] = plain["value"]
        for _, plain in _plain_of(run, ENVIRONMENT):
            name = plain["environment"]
            policy = plain.get("deploymentBranchPolicy")
            branches: tuple[str, ...] | None
            if not policy:
                branches = None
            elif policy.get("protectedBranches"):
                branches = (MAIN,)  # the only branch a rule protects
            else:
                branches = tuple(sorted(policies.get(name, [])))
            reviewed = any(r.get("users") or r.get("teams") for r in plain.get("reviewers") or [])
            environments[name] = Environment(name, stack, branches, reviewed, secrets.get(name, {}))
        for _, plain in _plain_of(run, ACTIONS_SECRET):
            repository_secrets[plain["secretName"]] = (stack, plain["value"])
        for _, plain in _plain_of(run, REPOSITORY_FILE):
            if plain["file"].startswith(".github/workflows/"):  # not the gate scripts beside them
                workflows[plain["file"].rsplit("/", 1)[-1]] = yaml.safe_load(plain["content"])
        for _, plain in _plain_of(run, RULESET):
            bypass |= any(
                a.get("actorType") == "Integration" and a.get("actorId") == GITHUB_ACTIONS_APP_ID
                for a in plain.get("bypassActors") or []
            )
    return System(runs, environments, repository_secrets, workflows, bypass)


# --------------------------------------------------------------------------- what a secret unlocks


def _bucket_scope(stack: str, bucket: str, runs: dict[str, Run]) -> str:
    """A bucket a stack declares is repository-wide (metrics); the rest is a stack's state."""
    declared = {p["label"] for run in runs.values() for _, p in _plain_of(run, BUCKET)}
    return REPOSITORY if bucket in declared else stack


def _credential_caps(stack: str, type_: str, plain: dict[str, Any], runs: dict[str, Run]) -> set[Capability]:
    caps: set[Capability] = set()
    if type_ == TOKEN:
        # Linode scopes are account-wide: a token reaches every stack of its account.
        account = linode_account(stack)
        peers = [s for s in runs if linode_account(s) == account]
        for scope in plain["scopes"].split():
            area, grant = scope.split(":")
            level: Level = "write" if grant == "read_write" else "read"
            if area == "lke":
                for peer in peers:
                    caps.add(
                        Capability(
                            f"cluster of {peer} (kubeconfig, ACL; linode {scope})",
                            level,
                            peer,
                            SHARED_ACCOUNT,
                        )
                    )
            elif area == "object_storage":
                for peer in peers:
                    caps.add(
                        Capability(
                            f"every bucket of {peer}'s account (linode {scope})", level, peer, SHARED_ACCOUNT
                        )
                    )
            else:
                caps.add(Capability(f"linode: {area}", level, f"{ACCOUNT} {account}"))
    elif type_ == OBJECT_STORAGE_KEY:
        for access in plain["bucketAccesses"]:
            level = "write" if access["permissions"] == "read_write" else "read"
            bucket = access["bucketName"]
            caps.add(Capability(f"bucket {bucket}", level, _bucket_scope(stack, bucket, runs)))
    return caps


def _minted(runs: dict[str, Run]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Value of every minted credential (as the mocks answer it) -> (stack, type, inputs)."""
    minted: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for stack, run in runs.items():
        for type_ in (TOKEN, OBJECT_STORAGE_KEY):
            for name, plain in _plain_of(run, type_):
                for value in mock_outputs(type_, name).values():
                    minted[str(value)] = (stack, type_, plain)
    return minted


def state_secrets(stack: str, runs: dict[str, Run]) -> set[Capability]:
    """What a stack's state holds in its secret outputs: minted credentials, admin kubeconfig,
    deploy key."""
    run = runs[stack]
    caps: set[Capability] = set()
    for type_ in (TOKEN, OBJECT_STORAGE_KEY):
        for _, plain in _plain_of(run, type_):
            caps |= _credential_caps(stack, type_, plain, runs)
    for _, plain in _plain_of(run, LKE_CLUSTER):
        caps.add(Capability(f"cluster {plain['label']} (admin kubeconfig)", "write", stack))
    if any(r.plain.get("type") == SERVICE_ACCOUNT_TOKEN for r in run.recorder.of_type(K8S_SECRET)):
        caps |= _role_caps(stack, run)
    if run.recorder.of_type(PRIVATE_KEY):
        for _, plain in _plain_of(run, DEPLOY_KEY):
            level: Level = "read" if plain.get("readOnly") else "write"
            caps.add(Capability(f"github: contents through deploy key {plain['title']}", level, REPOSITORY))
    return caps


K8S_SECRET = "kubernetes:core/v1:Secret"
K8S_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
READ_VERBS = {"get", "list", "watch"}


def _role_caps(stack: str, run: Run) -> set[Capability]:
    """What the roles bound to the stack's service-account tokens allow, read or write by verb."""
    caps: set[Capability] = set()
    for _, role in _plain_of(run, K8S_ROLE):
        namespace = role["metadata"]["namespace"]
        for rule in role["rules"]:
            level: Level = "read" if set(rule["verbs"]) <= READ_VERBS else "write"
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    caps.add(
                        Capability(f"cluster of {stack}: {group}/{resource} in {namespace}", level, stack)
                    )
    return caps


def _service_account_caps(value: str, stack: str, runs: dict[str, Run]) -> set[Capability] | None:
    """A kubeconfig authenticating with a service-account token the stack declares: what its
    Role allows (None: not such a kubeconfig)."""
    try:
        doc = yaml.safe_load(value)
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict) or doc.get("kind") != "Config":
        return None
    (user,) = doc["users"]
    token = user["user"]["token"]
    run = runs[stack]
    names = [r.name for r in run.recorder.of_type(K8S_SECRET) if r.plain.get("type") == SERVICE_ACCOUNT_TOKEN]
    assert token in {f"mock-service-account-token-{n}" for n in names}, "a kubeconfig with an unknown token"
    return _role_caps(stack, run)


def unlocks(value: str, stack: str, runs: dict[str, Run]) -> set[Capability]:
    """What holding `value` (a secret declared by `stack`) gives."""
    for key, test_value in TEST_SECRETS.items():
        if value == test_value:
            if key == PASSPHRASE:
                caps = {Capability(f"passphrase of {stack}", "write", stack)}
                for other in declared_secrets():
                    if other != PASSPHRASE:
                        caps |= unlocks(TEST_SECRETS[other], stack, runs)
                return caps | state_secrets(stack, runs)
            caps = {Capability(asset, level, scope) for asset, level, scope in CONFIG_SECRET_GRANTS[key]}
            for asset, level, risk in REACHES_EVERY_STACK.get(key, ()):
                caps |= {Capability(asset.format(stack=other), level, other, risk) for other in runs}
            return caps
    observer = _service_account_caps(value, stack, runs)
    if observer is not None:
        return observer
    minted = _minted(runs).get(value)
    if minted is None:
        raise AssertionError(f"a secret of {stack} holds a value no declaration explains")
    owner, type_, plain = minted
    return _credential_caps(owner, type_, plain, runs)


# --------------------------------------------------------------------------- jobs and who starts them


def starts_of(on: Any) -> tuple[Start, ...]:
    """Who can start a workflow, per trigger. An unknown trigger fails: classify it first."""
    triggers = on if isinstance(on, dict) else {t: {} for t in ([on] if isinstance(on, str) else on)}
    starts: list[Start] = []
    for trigger, given in triggers.items():
        spec = given or {}
        if trigger == "pull_request":
            starts.append(Start("pull request from any branch", True))
        elif trigger == "pull_request_target":
            # main's workflow, but started by any pull request, forks included, with secrets.
            starts.append(Start("pull request target (any pull request, forks too)", True))
        elif trigger == "push":
            # Anyone with write access pushes any branch or tag; only main is reviewed.
            if spec.get("branches") == [MAIN] and not spec.get("branches-ignore") and not spec.get("tags"):
                starts.append(Start("push to main", False))
            else:
                starts.append(Start("push to any branch", True))
        elif trigger == "merge_group":
            starts.append(Start("merge queue (approved pull requests)", False))
        elif trigger == "schedule":
            starts.append(Start("schedule (main's workflow)", False))
        elif trigger == "workflow_dispatch":
            starts.append(Start("manual run on any ref", True))
        elif trigger in ("repository_dispatch", "workflow_run"):
            # Always the default branch's workflow file, whoever sends the event.
            starts.append(Start(f"{trigger} (main's workflow)", False))
        elif trigger == "workflow_call":
            continue  # its callers' rows carry it
        else:
            raise AssertionError(f"trigger {trigger!r}: say who can start it before using it")
    return tuple(starts)


def _on(doc: dict[str, Any]) -> Any:
    return doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as True


def job_rows(system: System) -> list[JobRow]:
    rows: list[JobRow] = []
    callers: dict[str, list[tuple[tuple[Start, ...], str]]] = {}
    for file, doc in sorted(system.workflows.items()):
        starts = starts_of(_on(doc))
        for job_id, job in doc["jobs"].items():
            uses = job.get("uses", "")
            if uses.startswith("./.github/workflows/"):
                callers.setdefault(uses.rsplit("/", 1)[-1], []).append((starts, f"{file}/{job_id}"))
    for file, doc in sorted(system.workflows.items()):
        starts = starts_of(_on(doc))
        for called_by in callers.get(file, []):
            starts += called_by[0]
        for job_id, job in doc["jobs"].items():
            if "uses" in job:
                continue  # the called workflow's jobs are rows of their own
            env = job.get("environment")
            env_name = env.get("name") if isinstance(env, dict) else env
            rows.append(
                JobRow(
                    job=f"{file}/{job_id}",
                    starts=tuple(dict.fromkeys(starts)),
                    environment=env_name,
                    secrets=tuple(sorted(set(_SECRET_REF.findall(json.dumps(job))) - {"GITHUB_TOKEN"})),
                    permissions=job.get("permissions", doc.get("permissions", {})),
                )
            )
    # A branch can add a workflow of its own: it runs on that branch's push or pull request
    # (or a manual run there), gets every repository secret, any environment whose branch
    # policy admits that branch, and any GITHUB_TOKEN permission it asks for.
    open_envs = [e for e in system.environments.values() if not e.main_only]
    rows.append(
        JobRow(
            job="(a workflow a branch adds)",
            starts=(Start("push, pull request or manual run on its branch", True),),
            environment=",".join(e.name for e in open_envs) or None,
            secrets=tuple(sorted({*system.repository_secrets, *(s for e in open_envs for s in e.secrets)})),
            permissions="any it asks for",
        )
    )
    return rows


def resolve(system: System, row: JobRow) -> None:
    """What the row's secrets unlock: environment secret first, then the repository's."""
    envs = [system.environments[n] for n in (row.environment or "").split(",") if n]
    for name in row.secrets:
        holders = [(e.stack, e.secrets[name]) for e in envs if name in e.secrets]
        if not holders and name in system.repository_secrets:
            holders = [system.repository_secrets[name]]
        assert holders, f"{row.job}: secrets.{name} is declared nowhere it could come from"
        for stack, value in holders:
            row.reachable |= unlocks(value, stack, system.runs)
    token = row.permissions
    granted = ALL_TOKEN_PERMISSIONS if token == "any it asks for" else token
    assert isinstance(granted, dict)
    for permission, level in sorted(granted.items()):
        if level == "write":
            row.reachable.add(Capability(f"GITHUB_TOKEN {permission}", "write", ANY_WRITER))
    if system.github_actions_bypasses_main and (
        token == "any it asks for" or (isinstance(token, dict) and token.get("contents") == "write")
    ):
        row.reachable.add(Capability("github: push to main (GITHUB_TOKEN)", "write", REPOSITORY))


# --------------------------------------------------------------------------- properties


def closure(system: System) -> list[JobRow]:
    rows = job_rows(system)
    for row in rows:
        resolve(system, row)
    return rows


def unreviewed(system: System, row: JobRow) -> bool:
    """An unreviewed change can run this job: an unreviewed trigger, and an environment (if
    any) whose branch policy admits a branch other than main."""
    envs = [system.environments[n] for n in (row.environment or "").split(",") if n]
    open_env = not envs or any(not e.main_only for e in envs)
    return open_env and any(s.unreviewed for s in row.starts)


def acknowledgements(system: System, rows: Iterable[JobRow]) -> list[str]:
    """Production reaches from outside production's reviewers that the row's stack accepted."""
    found: list[str] = []
    for row in rows:
        envs = [system.environments[n] for n in (row.environment or "").split(",") if n]
        for cap in sorted(c for c in row.reachable if c.scope == "production" and c.level == "write"):
            if envs and not all(e.reviewed for e in envs):
                for env in envs:
                    reason = acknowledged(env.stack).get(cap.risk)
                    if reason:
                        found.append(
                            f"{row.job}: {cap.asset} (acknowledged by {env.stack} as {cap.risk}: {reason})"
                        )
    return found


def violations(system: System, rows: Iterable[JobRow]) -> list[str]:
    found: list[str] = []
    for row in rows:
        envs = [system.environments[n] for n in (row.environment or "").split(",") if n]
        writes = sorted(c for c in row.reachable if c.level == "write" and c.scope != ANY_WRITER)
        if unreviewed(system, row) and writes:
            found.append(f"{row.job}: an unreviewed change reaches {', '.join(map(str, writes))}")
        protected = bool(envs) and all(e.main_only for e in envs)
        if writes and not protected:
            found.append(f"{row.job}: writes outside a main-only environment: {', '.join(map(str, writes))}")
        production = [
            c
            for c in writes
            if c.scope == "production"
            and not (c.risk and envs and all(c.risk in acknowledged(e.stack) for e in envs))
        ]
        if production and not (protected and all(e.reviewed for e in envs)):
            found.append(
                f"{row.job}: production writable without production's reviewers: "
                f"{', '.join(map(str, production))}"
            )
    return found


def table(system: System, rows: Iterable[JobRow]) -> str:
    """One line per job: job | started by | environment | secrets | GITHUB_TOKEN | writes | reads."""
    lines = ["job | started by | environment | secrets | GITHUB_TOKEN | reachable writes | reachable reads"]
    for row in rows:
        env = ", ".join(system.environments[n].describe() for n in (row.environment or "").split(",") if n)
        if isinstance(row.permissions, str):
            token = row.permissions
        else:
            token = ", ".join(f"{k}: {v}" for k, v in sorted(row.permissions.items())) or "none"
        caps = sorted(row.reachable, key=lambda c: (c.scope, c.asset))
        writes = "; ".join(str(c.asset) + _where(c) for c in caps if c.level == "write") or "none"
        reads = "; ".join(str(c.asset) + _where(c) for c in caps if c.level == "read") or "none"
        started = "; ".join(s.label for s in row.starts)
        lines.append(
            " | ".join((row.job, started, env or "-", ", ".join(row.secrets) or "-", token, writes, reads))
        )
    return "\n".join(lines)


def _where(cap: Capability) -> str:
    return "" if cap.scope in cap.asset else f" [{cap.scope}]"


# --------------------------------------------------------------------------- tests


@pytest.fixture
def system(runs: dict[str, Run]) -> System:
    built = build_system(runs)
    assert built.workflows, "the managing stack committed no workflow file"
    return built


def test_every_secret_is_classified() -> None:
    assert set(declared_secrets()) == {PASSPHRASE, *CONFIG_SECRET_GRANTS}


@pytest.mark.parametrize("stack", STACKS)
def test_no_write_reachable_from_unreviewed_changes_and_production_behind_reviewers(
    stack: str, system: System
) -> None:
    """Per stack: the jobs that run in its environments, and every job with none (the
    pull-request jobs among them). `pytest -s` prints the table."""
    rows = [
        r
        for r in closure(system)
        if all(system.environments[n].stack == stack for n in (r.environment or "").split(",") if n)
    ]
    printed = f"stack {stack}:\n" + table(system, rows)
    print("\n" + printed)
    found = violations(system, rows)
    assert found == [], "\n".join(found) + "\n\n" + printed
    pull_request_rows = [r for r in rows if unreviewed(system, r)]
    assert pull_request_rows, "no job an unreviewed change can start: the check proved nothing"
    assert all(c.level == "read" or c.scope == ANY_WRITER for r in pull_request_rows for c in r.reachable), (
        printed
    )
    # The closure saw the writes it must guard: this stack's cluster, behind its environments.
    reached = {c for r in rows for c in r.reachable}
    assert any(c.scope == stack and c.level == "write" for c in reached), printed


def test_previews_with_the_passphrase_on_any_branch_fail_the_closure(system: System) -> None:
    """Today's design: `<env>-preview` admits every branch and holds the stack's passphrase,
    and pull requests preview in it."""
    opened = {
        name: dataclasses.replace(env, branches=None, reviewed=False)
        for name, env in system.environments.items()
        if name.endswith("-preview")
    }
    assert opened and all(e.secrets.get("PULUMI_CONFIG_PASSPHRASE") for e in opened.values())
    today = dataclasses.replace(system, environments={**system.environments, **opened})
    found = violations(today, closure(today))
    assert any("unreviewed change reaches" in v and "passphrase of production" in v for v in found), found
    assert any("production writable without production's reviewers" in v for v in found), found


def test_a_deployment_environment_open_to_feature_branches_fails_the_closure(system: System) -> None:
    """`deploymentBranches` may admit more than main in development: its environment's
    passphrase would then reach every write of the stack from an unreviewed branch."""
    development = system.environments["development"]
    opened = dataclasses.replace(development, branches=(MAIN, "feature/*"))
    changed = dataclasses.replace(system, environments={**system.environments, "development": opened})
    found = violations(changed, closure(changed))
    assert any(
        v.startswith("(a workflow a branch adds): an unreviewed change reaches")
        and "passphrase of development" in v
        for v in found
    ), found


def test_repository_secrets_reach_every_branch_so_ci_secrets_live_in_ci_main(system: System) -> None:
    """Before: the metrics key and the Slack webhook were repository secrets."""
    (ci_main,) = [e for e in system.environments.values() if e.name == "ci-main"]
    moved = dataclasses.replace(
        system,
        repository_secrets={name: (ci_main.stack, value) for name, value in ci_main.secrets.items()},
        environments={**system.environments, ci_main.name: dataclasses.replace(ci_main, secrets={})},
    )
    found = violations(moved, closure(moved))
    assert any(
        v.startswith("(a workflow a branch adds): an unreviewed change reaches")
        and "bucket ai-aas-build-metrics" in v
        for v in found
    ), found


# --------------------------------------------------------------------------- closure v2


def test_acknowledged_reaches_are_printed_and_each_is_still_reached(system: System) -> None:
    rows = closure(system)
    printed = acknowledgements(system, rows)
    print("\nacknowledged reaches into production:\n" + "\n".join(printed))
    for stack in STACKS:
        for risk in acknowledged(stack):
            assert risk in ACKNOWLEDGEABLE_RISKS, f"{stack}: unknown risk {risk}"
            assert any(f"acknowledged by {stack} as {risk}" in line for line in printed), (
                f"{stack} acknowledges {risk}, which nothing reaches any more: remove it"
            )
    assert {DEPLOYER_ADMINISTRATION, SHARED_ACCOUNT} == set(ACKNOWLEDGEABLE_RISKS)
    security = (ROOT / "docs" / "security.md").read_text()
    assert all(f"`{risk}`" in security for risk in ACKNOWLEDGEABLE_RISKS), (
        "docs/security.md lists every acknowledgeable risk"
    )


def test_unacknowledged_reaches_into_production_fail_the_closure(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the acknowledgement, the deployer's Administration write in development and
    staging is a path to production's protection that its reviewers do not guard."""
    monkeypatch.setattr(f"{__name__}.acknowledged", lambda stack: {})
    found = violations(system, closure(system))
    assert any(
        v.startswith("delivery.yml/deploy-development: production writable without production's reviewers")
        and "production's environments and their protection" in v
        for v in found
    ), found


def test_a_linode_account_shared_with_production_fails_the_closure(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Account-wide `lke:read_write` of development's token reaches production's cluster when
    both live in one account (GET kubeconfig, edit the ACL)."""
    monkeypatch.setattr(f"{__name__}.linode_account", lambda stack: "shared")
    found = violations(system, closure(system))
    assert any(
        v.startswith("infrastructure.yml/up-development: production writable")
        and "cluster of production" in v
        for v in found
    ), found


def test_the_old_labels_hid_these_reaches(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    """Closure v1 labelled account- and repository-wide grants `linode account` and
    `repository`: with the same shared account and no acknowledgement it found nothing."""
    monkeypatch.setattr(f"{__name__}.linode_account", lambda stack: "shared")
    monkeypatch.setattr(f"{__name__}.acknowledged", lambda stack: {})
    rows = closure(system)
    assert any("production writable" in v for v in violations(system, rows))
    for row in rows:
        row.reachable = {
            dataclasses.replace(c, scope=ACCOUNT if "linode" in c.asset else REPOSITORY, risk="")
            if c.risk
            else c
            for c in row.reachable
        }
    assert not [v for v in violations(system, rows) if "production writable" in v]


def test_every_job_token_write_is_listed_and_reaches_nothing_protected(system: System) -> None:
    rows = closure(system)
    token_writes = {c.asset for r in rows for c in r.reachable if c.scope == ANY_WRITER}
    # The jobs' own tokens: listed, and none of them is production's or main's.
    assert "GITHUB_TOKEN statuses" in token_writes and "GITHUB_TOKEN packages" in token_writes
    assert not system.github_actions_bypasses_main
    branch_row = next(r for r in rows if r.job == "(a workflow a branch adds)")
    assert {c.asset for c in branch_row.reachable if c.scope == ANY_WRITER} == {
        f"GITHUB_TOKEN {p}" for p in ALL_TOKEN_PERMISSIONS
    }


# --------------------------------------------------------------------------- the DORA report's key

REPORT_JOB = "dora-report.yml/report"


def _metrics_bucket(system: System) -> str:
    return f"bucket {system.runs['production'].outputs['metricsBucket']}"


def report_key_policy(system: System, rows: list[JobRow]) -> list[str]:
    """The report reads the bucket with its own read-only key: no job that holds the bucket's
    write key is the report's, and the report's job reaches no write but its Slack post."""
    bucket = _metrics_bucket(system)
    found = []
    writers = [r.job for r in rows if Capability(bucket, "write", REPOSITORY) in r.reachable]
    if not writers:
        found.append("no job writes the metrics bucket: the classification found nothing")
    if REPORT_JOB in writers:
        found.append(f"{REPORT_JOB} holds the metrics bucket's write key")
    [report] = [r for r in rows if r.job == REPORT_JOB]
    if Capability(bucket, "read", REPOSITORY) not in report.reachable:
        found.append(f"{REPORT_JOB} cannot read the metrics bucket")
    slack = {a for a, _, _ in CONFIG_SECRET_GRANTS["slackWebhookUrl"]}
    other_writes = sorted(str(c) for c in report.reachable if c.level == "write" and c.asset not in slack)
    if other_writes:
        found.append(f"{REPORT_JOB} holds write credentials: {', '.join(other_writes)}")
    # The read-only key's secrets reach that one job.
    read_key = {n for n in report.secrets if n.startswith("METRICS_READ_")}
    if not read_key:
        found.append(f"{REPORT_JOB} receives no read-only key")
    holders = [r.job for r in rows if read_key & set(r.secrets) and r.job != REPORT_JOB]
    if holders:
        found.append(f"the report's read-only key reaches other jobs: {', '.join(holders)}")
    return found


def test_the_report_reads_with_a_read_only_key_no_writer_holds(system: System) -> None:
    rows = closure(system)
    assert report_key_policy(system, rows) == []
    [report] = [r for r in rows if r.job == REPORT_JOB]
    assert report.environment == "metrics-report" and system.environments["metrics-report"].main_only
    assert report.permissions == {"contents": "read"}


def test_the_report_in_ci_main_with_the_write_key_fails_the_policy(system: System) -> None:
    """Before: the report ran in ci-main with the read-write key CI uploads with."""
    doc = system.workflows["dora-report.yml"]
    job = json.loads(
        json.dumps(doc["jobs"]["report"])
        .replace("METRICS_READ_", "METRICS_")
        .replace("metrics-report", "ci-main")
    )
    before = dataclasses.replace(
        system, workflows={**system.workflows, "dora-report.yml": {**doc, "jobs": {"report": job}}}
    )
    found = report_key_policy(before, closure(before))
    assert f"{REPORT_JOB} holds the metrics bucket's write key" in found, found
    assert any(f.startswith(f"{REPORT_JOB} holds write credentials: write bucket") for f in found), found
