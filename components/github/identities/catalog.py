"""The identities of the delivery system, one entry each: who it is, and every credential it
holds with where it is kept and what it may do, from the GitHub permissions and Linode scopes
decided beside it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from components.github.identities.access import Access
from components.github.identities.github import (
    DEPLOYER_GITHUB,
    DISPATCH_GITHUB,
    IMAGE_PULL_SCOPES,
    MANAGING_DEPLOYER_GITHUB,
    MANAGING_PREVIEW_GITHUB,
    PREVIEW_GITHUB,
    Permission,
)
from components.github.identities.linode import (
    BOOTSTRAP_LINODE,
    Scope,
    ci_linode_scopes,
    state_key_permissions,
)

# The workflow jobs that receive DEPLOYER_GITHUB_TOKEN, per environment kind (`<env>` stands
# for each stack's name), as `<file> <job id>`; tests/github/test_identities.py reads them from the
# rendered workflows.
DEPLOYER_JOBS: tuple[str, ...] = (
    "delivery.yml deploy-<env>",
    "infrastructure.yml up-<env>",
    "promote.yml promote",
)
PREVIEW_JOBS: tuple[str, ...] = ("infrastructure.yml state-preview-<env>", "drift.yml drift-<env>")


def _jobs(jobs: tuple[str, ...]) -> str:
    return ", ".join(f"`{job.split()[1]}` ({job.split()[0]})" for job in jobs)


@dataclass(frozen=True)
class Credential:
    """One credential of an identity: what it is, where it is kept, what it may do."""

    name: str
    kept_in: str
    grants: tuple[str, ...]


# The staging observer's Role, as `<verbs> <group>/<resource> in <namespace>`; the test holds
# the staging stack's declared Role to it.
OBSERVER_GRANTS: tuple[str, ...] = ("get, list, watch argoproj.io/applications in Argo CD's namespace",)


@dataclass(frozen=True)
class Identity:
    key: str
    who: str
    credentials: tuple[Credential, ...]


def github_grants(permissions: Iterable[Permission]) -> tuple[str, ...]:
    """Permissions as the table shows them: repository ones first, each by name."""
    ordered = sorted(permissions, key=lambda p: (p.organisation, p.name))
    return tuple(str(p) for p in ordered)


def linode_grants(scopes: Iterable[Scope]) -> tuple[str, ...]:
    """Scopes as the table shows them, each once, sorted."""
    return tuple(str(s) for s in sorted(set(scopes)))


def _state_key(access: Access, buckets: str) -> Credential:
    return Credential(
        "Object Storage key",
        "minted by the stack; environment secrets `PULUMI_BACKEND_ACCESS_KEY_ID`/`..._SECRET_ACCESS_KEY`",
        (f"{state_key_permissions(access)} on {buckets}",),
    )


IDENTITIES: tuple[Identity, ...] = (
    Identity(
        "bootstrap",
        "A platform engineer, from a workstation: the first `pulumi up` of each stack and every "
        "credential rotation. Keep these credentials off CI.",
        (
            Credential(
                "Linode personal access token, short expiry",
                "`LINODE_TOKEN` on the workstation",
                linode_grants(BOOTSTRAP_LINODE),
            ),
            Credential(
                "Object Storage key, made by hand",
                "`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` on the workstation",
                ("read_write on the three state buckets only",),
            ),
            Credential(
                "GitHub token", "`GITHUB_TOKEN` on the workstation", ("the deployer's `ciGithubToken`",)
            ),
        ),
    ),
    Identity(
        "deployer",
        "Machine user `github.deployer.user`, admin role on the repository, only member of "
        f"`github.deployer.team` (main's bypass actor). CI jobs in `<env>`: {_jobs(DEPLOYER_JOBS)}.",
        (
            Credential(
                "`ciGithubToken`, fine-grained, this repository only",
                "config secret; environment secret `DEPLOYER_GITHUB_TOKEN` of `<env>`",
                github_grants(DEPLOYER_GITHUB),
            ),
            Credential(
                "`ciGithubToken` of the managing stack: a token of its own, with in addition",
                "the managing stack's config secret and `<env>`",
                github_grants(MANAGING_DEPLOYER_GITHUB),
            ),
            Credential(
                "Linode token minted for `<env>`, managing stack",
                "environment secret `LINODE_TOKEN` of `<env>`",
                linode_grants(ci_linode_scopes("up", True)),
            ),
            Credential(
                "Linode token minted for `<env>`, other stacks",
                "environment secret `LINODE_TOKEN` of `<env>`",
                linode_grants(ci_linode_scopes("up", False)),
            ),
            _state_key("up", "the stack's own state bucket"),
        ),
    ),
    Identity(
        "preview",
        f"The real `pulumi preview` on `main`, in `<env>-preview`: {_jobs(PREVIEW_JOBS)}. Pull "
        "requests preview without any credential.",
        (
            Credential(
                "`ciGithubReadToken`, fine-grained, this repository only, made by the deployer",
                "config secret; environment secret `DEPLOYER_GITHUB_TOKEN` of `<env>-preview`",
                github_grants(PREVIEW_GITHUB),
            ),
            Credential(
                "`ciGithubReadToken` of the managing stack: a token of its own, with in addition",
                "the managing stack's config secret and `<env>-preview`",
                github_grants(MANAGING_PREVIEW_GITHUB),
            ),
            Credential(
                "Linode token minted for `<env>-preview`, every stack",
                "environment secret `LINODE_TOKEN` of `<env>-preview`",
                linode_grants(ci_linode_scopes("preview", True) | ci_linode_scopes("preview", False)),
            ),
            _state_key("preview", "the stack's own state bucket"),
        ),
    ),
    Identity(
        "image puller",
        "Machine user `imagePull.user` with read access to the repository: every cluster's kubelets "
        "pulling the platform's images from GHCR.",
        (
            Credential(
                "`ghcrPullToken`, classic (GitHub Packages take no fine-grained token)",
                "config secret; `imagePull.secretName` Secret in each service namespace",
                IMAGE_PULL_SCOPES,
            ),
        ),
    ),
    Identity(
        "Argo CD",
        "Each cluster's Argo CD reading the GitOps repository.",
        (
            Credential(
                "SSH deploy key minted by the stack",
                "a repository Secret in Argo CD's namespace (`argocd.namespace`)",
                ("read-only deploy key of this repository",),
            ),
        ),
    ),
    Identity(
        "dispatcher",
        "Staging's Argo CD notifications (`argocd.notifications.githubDispatch`), telling GitHub that "
        "staging is deployed. A user outside the deployer's team, so it cannot push to `main`.",
        (
            Credential(
                "`argocdDispatchToken`, fine-grained, this repository only",
                "config secret; key `github-dispatch-token` of staging's `argocd-notifications-secret`",
                github_grants(DISPATCH_GITHUB),
            ),
        ),
    ),
    Identity(
        "staging observer",
        "Staging validation's `target` and `gate` jobs (environment `staging-observer`, main only), reading "
        "what staging runs: its Argo CD Applications' revision, health and images.",
        (
            Credential(
                "ServiceAccount token minted by the staging stack (a kubeconfig)",
                "environment secret `OBSERVER_KUBECONFIG` of `staging-observer`",
                OBSERVER_GRANTS,
            ),
        ),
    ),
    Identity(
        "CI on main",
        "Jobs in the `ci-main` environment (managing stack): the build-metrics upload and the "
        "failure alerts on `main`.",
        (
            Credential(
                "Object Storage key minted by the managing stack",
                "environment secrets `METRICS_ACCESS_KEY_ID`/`METRICS_SECRET_ACCESS_KEY` of `ci-main`",
                ("read_write on the metrics bucket only",),
            ),
            Credential(
                "Slack incoming webhook `slackWebhookUrl`",
                "config secret; `ci-main` secret `SLACK_WEBHOOK_URL` and Argo CD's notifications",
                ("posts to the webhook's one channel",),
            ),
        ),
    ),
    Identity(
        "DORA report",
        "The weekly report's one job (`dora-report.yml`, environment `metrics-report`, main only): "
        "reads the delivery events and tells Slack which targets were missed.",
        (
            Credential(
                "Object Storage key minted by the managing stack",
                "environment secrets `METRICS_READ_ACCESS_KEY_ID`/`METRICS_READ_SECRET_ACCESS_KEY` of "
                "`metrics-report`",
                ("read_only on the metrics bucket only",),
            ),
            Credential(
                "Slack incoming webhook `slackWebhookUrl`",
                "config secret; `metrics-report` secret `SLACK_WEBHOOK_URL`",
                ("posts to the webhook's one channel",),
            ),
        ),
    ),
)
