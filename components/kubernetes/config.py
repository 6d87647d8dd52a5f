"""Config model of the admission policies that judge the platform's Pods (``delivery:podPolicies``),
and the value types that pin a Helm chart and its images by digest. Which environments must
enforce or set them is a cross-field rule in ``StackConfig``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from components.config.base import Model

# What a ValidatingAdmissionPolicyBinding does with a failed validation.
ValidationAction = Literal["Deny", "Warn", "Audit"]
ALLOWED_ACTIONS = "[Deny], [Deny, Audit], [Warn], [Audit] or [Warn, Audit]"


def _validation_actions(actions: list[ValidationAction]) -> list[ValidationAction]:
    # The API server's own rules for spec.validationActions: refused there, a bad list would
    # only fail at `pulumi up`.
    if not actions:
        raise ValueError(f"a binding needs at least one action; allowed: {ALLOWED_ACTIONS}")
    if len(set(actions)) != len(actions):
        raise ValueError(f"an action is listed twice; allowed: {ALLOWED_ACTIONS}")
    if "Deny" in actions and "Warn" in actions:
        raise ValueError(
            "Deny and Warn may not be used together (Kubernetes refuses it: the refusal already "
            f"carries the message); allowed: {ALLOWED_ACTIONS}"
        )
    return actions


ValidationActions = Annotated[list[ValidationAction], AfterValidator(_validation_actions)]


def _deny() -> list[ValidationAction]:
    return ["Deny"]


class PodPoliciesConfig(Model):
    enabled: bool = Field(
        default=True,
        description=(
            "Declare the admission policies `platform-image-digest` and `platform-pod-security` "
            "on the cluster, bound to the namespaces the Applications deploy to. Staging and "
            "production: always true."
        ),
    )
    image_digest_actions: ValidationActions = Field(
        default_factory=_deny,
        description=(
            "What a Pod whose platform-registry image is not pinned by digest meets: `Deny` "
            "refuses it, `Warn` answers its creator with a warning, `Audit` records it in the API "
            "server's audit log. Staging and production: a list with `Deny`."
        ),
    )
    pod_security_actions: ValidationActions = Field(
        default_factory=_deny,
        description=(
            "What a Pod with a container that may run as root or has a writable root filesystem "
            "meets (seed 004). Start a stack with `[Warn, Audit]` while its charts are brought "
            "into line, then `[Deny]`."
        ),
    )


# --------------------------------------------------------------------------- pinned charts and images
# What the Helm releases of Argo CD, Argo Rollouts and the monitoring stack are pinned by, beside
# their chart versions: the chart's OCI manifest digest and, per image the chart deploys, a
# reference by tag and digest. No default exists for either: only the registry gives them
# (docs/supply-chain.md). Which of them an environment must set is a rule in ``StackConfig``.

CHART_DIGEST = r"^sha256:[0-9a-f]{64}$"
# A registry image by tag *and* digest: the digest is what runs, the tag says which release
# that digest is (a bare digest tells a reader nothing).
PINNED_CHART_IMAGE = r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$"

ChartDigest = Annotated[
    str,
    Field(
        pattern=CHART_DIGEST,
        examples=["sha256:<64 hex digits>"],
    ),
]
PinnedChartImage = Annotated[
    str,
    Field(
        pattern=PINNED_CHART_IMAGE,
        examples=["quay.io/argoproj/argocd:v3.4.4@sha256:<64 hex digits>"],
    ),
]


# Subcharts a stack can run without when its chart mirror lacks them (charts.withoutSubcharts).
OptionalSubchart = Literal["redis-ha"]


class ChartsConfig(Model):
    """Where the pinned Helm charts come from and whether Pulumi waits for their workloads."""

    repository: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        description=(
            "URL of one Helm repository that serves every pinned chart at its pinned version "
            "(a mirror such as Harbor, Artifactory or ChartMuseum, or the local one of "
            "docs/local-cluster.md). It serves charts by version, so the charts' digests do not apply: "
            "staging and production on LKE refuse it. Unset: each chart's upstream OCI registry, by digest "
            "where the stack pins them (docs/supply-chain.md)."
        ),
    )
    skip_await: bool = Field(
        default=False,
        description=(
            "Install and upgrade the releases without waiting for their workloads, and so "
            "without Helm's atomic rollback: for a cluster with no nodes to run them (an API "
            "server alone, docs/local-cluster.md). Only with `cluster.source: kubeconfig`."
        ),
    )
    without_subcharts: list[OptionalSubchart] = Field(
        default_factory=list,
        description=(
            "Subcharts the `repository` mirror does not serve, which the program then leaves out. "
            "`redis-ha`: highly available Argo CD keeps its replicated application controller, "
            "server, repo server and ApplicationSet controller but runs the argo-cd chart's single "
            "Redis instead of redis-ha (no Redis failover). Only with `cluster.source: kubeconfig` "
            "and a `repository`."
        ),
    )
