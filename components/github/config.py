"""Config models of the GitHub repository, its governance, the generated workflows and the CI
pipeline (``delivery:github``, ``delivery:pipeline``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from components.config.base import (
    MAIN_BRANCH,
    BranchPattern,
    DnsLabel,
    Environment,
    FieldError,
    GithubLogin,
    GithubName,
    Ipv4Cidr,
    LinodeRegion,
    Model,
)

# GitHub lets an environment name up to six required reviewers, users and teams together.
MAX_ENVIRONMENT_REVIEWERS = 6


class Reviewers(Model):
    users: list[GithubLogin] = Field(
        default_factory=list, description="GitHub logins allowed to approve (resolved to user ids)."
    )
    teams: list[DnsLabel] = Field(
        default_factory=list, description="Team slugs of the owner organisation allowed to approve."
    )

    @model_validator(mode="after")
    def _unique_and_within_limit(self) -> Reviewers:
        for kind, names in (("users", self.users), ("teams", self.teams)):
            seen = {n.lower() for n in names}
            if len(seen) != len(names):
                raise FieldError(kind, "lists a reviewer twice; allowed: each reviewer once")
        if self.count > MAX_ENVIRONMENT_REVIEWERS:
            raise ValueError(
                f"GitHub allows at most {MAX_ENVIRONMENT_REVIEWERS} required reviewers (users and "
                f"teams together); {self.count} given"
            )
        return self

    @property
    def count(self) -> int:
        return len(self.users) + len(self.teams)


class CodeOwners(Model):
    """Who must review a change to what production runs (`.github/CODEOWNERS`)."""

    users: list[GithubLogin] = Field(
        default_factory=list, description="GitHub logins, each with write access to the repository."
    )
    teams: list[DnsLabel] = Field(
        default_factory=list,
        description="Team slugs of the owner organisation, each visible and with write access to the repository.",
    )

    @model_validator(mode="after")
    def _unique(self) -> CodeOwners:
        for kind, names in (("users", self.users), ("teams", self.teams)):
            if len({n.lower() for n in names}) != len(names):
                raise FieldError(kind, "lists an owner twice; allowed: each owner once")
        return self

    @property
    def count(self) -> int:
        return len(self.users) + len(self.teams)


class Deployer(Model):
    """The identity that runs `pulumi up` in CI and commits to `main` without a pull request."""

    user: GithubLogin = Field(
        description=(
            "Machine user owning `ciGithubToken`: it commits the workflow files and the GitOps "
            "image-tag updates to `main`. It may not approve deployments."
        )
    )
    team: DnsLabel = Field(
        description=(
            "Slug of a team whose only member is `user`: the one bypass actor of `main`'s ruleset "
            "(a ruleset can name a team or an app as bypass actor, so the user gets its own team)."
        )
    )


_REPO_PATH = r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$"
ImagePlatform = Literal["linux/amd64", "linux/arm64"]


def _all_platforms() -> list[ImagePlatform]:
    return ["linux/amd64", "linux/arm64"]


_SEMVER_V = r"^v\d+\.\d+\.\d+$"


class LoadTestConfig(Model):
    """Staging validation's Locust run and its performance gate (seeds 002, 003)."""

    users: int = Field(default=100, ge=1, le=10000, description="Simulated users (seeds: 100).")
    spawn_rate: int = Field(default=10, ge=1, le=1000, description="Users started per second (seeds: 10).")
    duration_seconds: int = Field(
        default=120, ge=10, le=3600, description="How long the load runs, in seconds (seed 002: 2 minutes)."
    )
    locustfile: str = Field(
        default="tests/performance/locustfile.py",
        pattern=_REPO_PATH,
        description="The platform repository's locustfile (its load-test contract).",
    )
    locust_version: str = Field(
        default="2.47.0",
        pattern=r"^\d+\.\d+\.\d+$",
        description="Locust release the load job installs (the one the gate's tests run).",
    )
    max_p95_ms: int = Field(
        default=1000,
        ge=1,
        le=60000,
        description=(
            "The gate fails when the 95th percentile response time reaches this many ms "
            "(seed 003: P95 < 1000 ms)."
        ),
    )
    max_error_rate_percent: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="The gate fails when this percentage of requests fails (seed 003: error rate < 1 %).",
    )


class ValidationConfig(Model):
    """``staging-validation.yml``: what it targets and what it requires."""

    base_url: str | None = Field(
        default=None,
        pattern=r"^https://[a-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?$",
        examples=["https://api.staging.example.com"],
        description=(
            "Staging's base URL (its API gateway): every suite, the ZAP scan and the load test target it "
            "(`make <target> BASE_URL=...`). Required by the stack that manages the repository."
        ),
    )
    zap_rules_file: str = Field(
        default=".zap/rules.tsv",
        pattern=_REPO_PATH,
        description="ZAP rules file in the platform repository; its IGNORE lines are the accepted findings.",
    )
    load: LoadTestConfig = Field(
        default_factory=LoadTestConfig, description="The Locust load test and its gate."
    )
    health_minutes: int = Field(
        default=45,
        ge=10,
        le=50,
        description=(
            "How long promote.yml's `production-health` job waits, after the release branch moved, for "
            "an operator's sync (and the blue-green promotion with its post-promotion analysis) to leave "
            "every production Application Synced and Healthy at the release, before it fails and pages."
        ),
    )
    settle_minutes: int = Field(
        default=30,
        ge=5,
        le=120,
        description=(
            "How long validation waits for every staging Application to be Synced and Healthy at one "
            "revision, running the image files' digests (canary steps included), before it fails."
        ),
    )


SHA256 = r"^[0-9a-f]{64}$"
# A registry image by tag *and* digest: the digest is what runs, the tag says which release
# that digest is (a bare digest tells a reader nothing).
PINNED_IMAGE = r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$"
PulumiPlugin = Literal["github", "kubernetes", "linode", "tls"]
# The resource plugin each provider SDK of requirements.txt asks the engine for: a plugin's
# version is its SDK's (tests/system/test_locks.py holds these to requirements.txt).
PULUMI_PLUGIN_VERSIONS: dict[PulumiPlugin, str] = {
    "github": "6.15.0",
    "kubernetes": "4.32.0",
    "linode": "6.0.0",
    "tls": "5.5.1",
}
PULUMI_RELEASES = "https://github.com/pulumi/pulumi/releases"


def plugin_archive(name: str, version: str) -> str:
    """The archive `pulumi plugin install resource <name> <version>` downloads on linux-x64."""
    return f"pulumi-resource-{name}-v{version}-linux-amd64.tar.gz"


def pulumi_cli_archive(version: str) -> str:
    """The Pulumi CLI release archive for linux-x64 (the runners' platform)."""
    return f"pulumi-v{version}-linux-x64.tar.gz"


class PulumiPluginPin(Model):
    """One resource plugin the infrastructure jobs install, by version and checksum."""

    version: str = Field(
        pattern=r"^\d+\.\d+\.\d+$",
        description="Plugin release: the version of the provider SDK pinned in requirements.txt.",
    )
    sha256: str = Field(
        pattern=SHA256,
        description=(
            "sha256 of `pulumi-resource-<name>-v<version>-linux-amd64.tar.gz`, from the checksums file "
            "of the provider's release (https://github.com/pulumi/pulumi-<name>/releases/tag/v<version>). "
            "`pulumi plugin install --checksum` refuses an archive that does not match."
        ),
    )


class ToolchainConfig(Model):
    """What the workflows download and run besides actions, each pinned by checksum or digest:
    a download that does not match fails the step before anything from it runs."""

    pulumi_cli_sha256: str | None = Field(
        default=None,
        pattern=SHA256,
        description=(
            "sha256 of the Pulumi CLI archive `pulumi-v<pulumiVersion>-linux-x64.tar.gz`, from the "
            "checksums file of that release (`pulumi-<pulumiVersion>-checksums.txt`, "
            f"{PULUMI_RELEASES}/tag/v<pulumiVersion>). Required by the stack that manages the "
            "repository; no default: nobody may pick it but from the published file."
        ),
    )
    pulumi_plugins: dict[PulumiPlugin, PulumiPluginPin] = Field(
        default_factory=dict,
        description=(
            "The resource plugins the infrastructure jobs install before the engine runs (automatic "
            "plugin downloads are off there), keyed by plugin: github, kubernetes, linode and tls are "
            "required by the stack that manages the repository."
        ),
    )
    trivy_version: str = Field(
        default="0.70.0",
        pattern=r"^\d+\.\d+\.\d+$",
        description=(
            "Trivy release the scans run (trivy-action v0.36.0's default), installed from "
            "`trivy_<version>_Linux-64bit.tar.gz` of https://github.com/aquasecurity/trivy/releases."
        ),
    )
    trivy_sha256: str = Field(
        # From trivy_0.70.0_checksums.txt of the v0.70.0 release, as three public
        # repositories that install it by checksum record it.
        default="8b4376d5d6befe5c24d503f10ff136d9e0c49f9127a4279fd110b727929a5aa9",
        pattern=SHA256,
        description=(
            "sha256 of `trivy_<trivyVersion>_Linux-64bit.tar.gz`, from `trivy_<trivyVersion>_checksums.txt` "
            "of that release; the default is v0.70.0's."
        ),
    )
    qemu_image: str = Field(
        # The multi-architecture index on Docker Hub, as several public workflows pin it.
        default="docker.io/tonistiigi/binfmt:qemu-v10.2.3@sha256:400a4873b838d1b89194d982c45e5fb3cda4593fbfd7e08a02e76b03b21166f0",
        pattern=PINNED_IMAGE,
        description=(
            "binfmt image docker/setup-qemu-action runs privileged to register the emulators (its "
            "default is `tonistiigi/binfmt:latest`): tag and digest, "
            "`docker buildx imagetools inspect <image>:<tag>` shows the digest."
        ),
    )
    buildkit_image: str = Field(
        # The multi-architecture index on Docker Hub, as several public workflows pin it.
        default="docker.io/moby/buildkit:v0.33.1@sha256:cec9f139f45e93c5c69c60f8b07cfad9f43f4ef6b6a6cd917527fea5ff2e3dea",
        pattern=PINNED_IMAGE,
        description=(
            "BuildKit image of the buildx docker-container builder that builds every image (its "
            "default is a floating `moby/buildkit:buildx-stable-1`): tag and digest."
        ),
    )
    zap_image: str = Field(
        # As public pipelines pin ZAP 2.17.0; the digest resolves only inside ghcr.io/zaproxy.
        default="ghcr.io/zaproxy/zaproxy:2.17.0@sha256:707fc6b9fd8327ba48bb7b49d0c5732c179b045dab9c99f8b95410627dff4a00",
        pattern=PINNED_IMAGE,
        description=(
            "OWASP ZAP image of the DAST baseline scan (zaproxy/action-baseline's default is the "
            "floating `ghcr.io/zaproxy/zaproxy:stable`): tag and digest."
        ),
    )


Percent = Annotated[float, Field(gt=0, le=100)]


class CoverageConfig(Model):
    """Coverage thresholds of every service's tests (seed 003, "Coverage Requirements"), judged
    by the test job of ``ci.yml`` over the Cobertura report ``make test`` writes."""

    overall: Percent = Field(
        default=85, description="Line coverage of the whole service must be above this (percent)."
    )
    critical_paths: Percent = Field(
        default=95,
        description="Line coverage of the files matching `criticalPathGlobs` must be above this (percent).",
    )
    new_code: Percent = Field(
        default=90,
        description="Line coverage of the lines a change adds (against its first parent) must be above this (percent).",
    )
    critical_path_globs: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.*?/\[\]-]+$")]] = Field(
        default_factory=lambda: ["*/auth/*", "*/billing/*", "*/payments/*"],
        min_length=1,
        description=(
            "Critical paths: fnmatch globs over a report's file names (relative to the service "
            "directory, matched with a leading `/`). Every service's report must have a file on "
            "them: a report with none fails the gate rather than passing unmeasured."
        ),
    )
    report: str = Field(
        default="coverage.xml",
        pattern=_REPO_PATH,
        description="Cobertura XML report `make test` writes, relative to the service directory (the test contract).",
    )


class WorkflowsConfig(Model):
    """The generated GitHub Actions workflows (declared by the stack with manageRepository)."""

    go_version: str = Field(
        default="1.26",
        pattern=r"^1\.\d+(\.\d+)?$",
        description="Go version CI builds, tests, lints and scans with (`go-version` of the reusable build).",
    )
    python_version: str = Field(
        default="3.11",
        pattern=r"^3\.\d+$",
        description="Python version the infrastructure workflow runs this Pulumi program with.",
    )
    pulumi_version: str = Field(
        default="3.274.1",
        pattern=r"^\d+\.\d+\.\d+$",
        description=(
            "Pulumi CLI version of the infrastructure workflow: the one `make preview` is tested with, "
            "at or above the `pulumi` SDK pin in requirements.txt (a CLI runs older SDKs)."
        ),
    )
    golangci_lint_version: str = Field(
        default="v2.15.0", pattern=_SEMVER_V, description="golangci-lint release the lint job runs."
    )
    gitleaks_version: str = Field(
        default="v8.30.1",
        pattern=_SEMVER_V,
        description="gitleaks release, installed with `go install` (checksum-verified by the Go module mirror).",
    )
    services_path: str = Field(
        default="services",
        pattern=_REPO_PATH,
        description="Directory with one directory (and Makefile) per service; CI discovers services here.",
    )
    pulumi_path: str = Field(
        default="infra/pulumi",
        pattern=_REPO_PATH,
        description="Directory of this Pulumi program in the repository; the infrastructure workflow runs it.",
    )
    migrations_path: str = Field(
        default="db/migrations",
        pattern=_REPO_PATH,
        description="Directory of the numbered SQL migrations that db-guardrails checks.",
    )
    image_registry: str | None = Field(
        default=None,
        pattern=r"^ghcr\.io/[a-z0-9._-]+(/[a-z0-9._-]+)*$",
        description="GHCR prefix images are pushed under (`<prefix>/<service>`). Default: `ghcr.io/<owner>`.",
    )
    image_platforms: list[ImagePlatform] = Field(
        default_factory=_all_platforms,
        min_length=1,
        description="Platforms of every pushed image (multi-arch manifest).",
    )
    commit_author: str = Field(
        default="delivery-bot",
        min_length=1,
        pattern=r"^[^<>\n]+$",
        description="Author name of the workflow-file commits and of the GitOps image-tag commits.",
    )
    commit_email: str = Field(
        default="delivery-bot@users.noreply.github.com",
        pattern=r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$",
        description="Author email of those commits.",
    )
    validation: ValidationConfig = Field(
        default_factory=ValidationConfig,
        description="Staging validation, which promotion to production requires.",
    )
    coverage: CoverageConfig = Field(
        default_factory=CoverageConfig,
        description="Coverage thresholds every service's tests must pass (seed 003).",
    )
    toolchain: ToolchainConfig = Field(
        default_factory=ToolchainConfig,
        description=(
            "Checksums and digests of the binaries and images the workflows download "
            '(docs/pipelines.md, "Pinned downloads").'
        ),
    )

    def registry_for(self, owner: str) -> str:
        """Image prefix: `imageRegistry`, or GHCR under the (lowercased) repository owner."""
        return self.image_registry or f"ghcr.io/{owner.lower()}"


class GithubPlan(Model):
    """What the repository's GitHub plan offers. A private repository lacks some features on
    some plans; the program then declares nothing that needs them, so no required check waits
    on a job that cannot run (the "GitHub plan requirements" table of docs/governance.md)."""

    visibility: Literal["public", "private", "internal"] = Field(
        default="private", description="Visibility of the repository."
    )
    tier: Literal["free", "pro", "team", "enterprise"] = Field(
        default="enterprise",
        description=(
            "GitHub plan of the owner (`enterprise`: GitHub Enterprise Cloud). A private repository needs "
            "`pro` or `team` for environments and rulesets, `enterprise` for required reviewers and the merge queue."
        ),
    )
    code_security: bool = Field(
        default=True,
        description=(
            "GitHub Code Security (or Advanced Security) is on for the repository: CodeQL, SARIF uploads to "
            "code scanning and dependency review. Without it (private repositories) the scanners still "
            "fail the gate on findings, but nothing is uploaded and CodeQL and dependency review do not run."
        ),
    )

    @property
    def public(self) -> bool:
        return self.visibility == "public"

    @property
    def environments(self) -> bool:
        """Deployment environments with secrets and branch policies."""
        return self.public or self.tier != "free"

    @property
    def rulesets(self) -> bool:
        return self.public or self.tier != "free"

    @property
    def environment_reviewers(self) -> bool:
        """Required reviewers (and the admin-bypass switch) on an environment."""
        return self.public or self.tier == "enterprise"

    @property
    def merge_queue(self) -> bool:
        return self.public or self.tier == "enterprise"

    @property
    def code_scanning(self) -> bool:
        """CodeQL, SARIF uploads and dependency review."""
        return self.public or self.code_security


class GithubConfig(Model):
    owner: GithubName = Field(description="GitHub organisation or user that owns the repository.")
    owner_type: Literal["organization", "user"] = Field(
        default="organization",
        description=(
            "What kind of account `owner` is. Teams (the deployer's, reviewer and code-owner teams) and "
            "self-hosted runner groups (`pipeline.runners`) exist only in an organisation."
        ),
    )
    repository: GithubName = Field(
        description="Repository holding services, charts, GitOps manifests and this program."
    )
    enabled: bool = Field(
        default=True,
        description=(
            "Declare this stack's GitHub objects (its deployment environments, staging's observer "
            "environment, Argo CD's deploy key). false: the Kubernetes half alone, for a stack on "
            "an existing cluster without GitHub access (Argo CD then reads the GitOps repository "
            "anonymously, so it must be public). Not in production, nor with `manageRepository`."
        ),
    )
    manage_repository: bool = Field(
        default=False,
        description=(
            "This stack declares the repository-wide objects (branch protection, the `ci-main` "
            "environment with the CI secrets, repository variables, OIDC template, workflow files, "
            "metrics bucket). Exactly one stack sets it: the one named by `managingStack`."
        ),
    )
    managing_stack: Environment = Field(
        default="production",
        description=(
            "The one stack that declares the repository-wide objects. Every stack file names the "
            "same stack, and only that stack sets `manageRepository: true`, so two stacks never "
            "overwrite each other's objects."
        ),
    )
    deployer: Deployer | None = Field(
        default=None,
        description="The deploying identity; required in the stack that manages the repository.",
    )
    production_reviewers: Reviewers = Field(
        default_factory=Reviewers,
        description=(
            "Who approves deployments to the production environment (required in production, "
            "refused elsewhere: development and staging deploy on merge without approval)."
        ),
    )
    code_owners: CodeOwners | None = Field(
        default=None,
        description=(
            "Who must review a change to production's GitOps directory, the workflows or this program "
            "(`.github/CODEOWNERS`, required by main's ruleset). Only the managing stack commits the file; "
            "unset, the managing stack's `productionReviewers` own it."
        ),
        json_schema_extra={"defaultText": "`productionReviewers`"},
    )
    deployment_branches: list[BranchPattern] = Field(
        default_factory=lambda: [MAIN_BRANCH],
        min_length=1,
        description=(
            "Branches (fnmatch patterns) allowed to deploy to this stack's environment. Staging "
            "and production: only `main`."
        ),
    )
    workflows: WorkflowsConfig = Field(
        default_factory=WorkflowsConfig, description="The generated GitHub Actions workflows."
    )
    plan: GithubPlan = Field(
        default_factory=GithubPlan,
        description="What the repository's GitHub plan offers; features it lacks are left out or refused.",
    )

    @property
    def owners_of_code(self) -> CodeOwners:
        """`codeOwners`, or else the production reviewers."""
        if self.code_owners is not None:
            return self.code_owners
        return CodeOwners(users=self.production_reviewers.users, teams=self.production_reviewers.teams)

    @property
    def ssh_url(self) -> str:
        return f"git@github.com:{self.owner}/{self.repository}.git"


class StateBackendConfig(Model):
    """The Object Storage bucket holding this stack's Pulumi state (created by hand at bootstrap)."""

    bucket: DnsLabel = Field(
        description=(
            "State bucket of this stack. One bucket per stack, so one environment's CI keys "
            "cannot read or overwrite another environment's state."
        )
    )
    region: LinodeRegion = Field(
        default="us-ord",
        description="Object Storage region of the state bucket.",
    )
    endpoint: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$",
        examples=["us-ord-1.linodeobjects.com"],
        description="S3 endpoint host of the bucket's region (a host name, no scheme).",
        json_schema_extra={"defaultText": "`<region>-1.linodeobjects.com`"},
    )

    @property
    def endpoint_host(self) -> str:
        return self.endpoint or f"{self.region}-1.linodeobjects.com"


class CredentialsConfig(Model):
    """Lifetime of the Linode credentials the program mints for CI."""

    issued_on: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description=(
            "Date (YYYY-MM-DD) the current CI Linode tokens and state keys were minted. Changing "
            "it rotates them: `pulumi up` mints new ones and replaces the Actions secrets."
        ),
    )
    lifetime_days: int = Field(
        default=90,
        ge=1,
        le=365,
        description="Days a minted CI Linode token stays valid after `issuedOn`.",
    )

    @model_validator(mode="after")
    def _issued_on_is_a_date(self) -> CredentialsConfig:
        try:
            issued = date.fromisoformat(self.issued_on)
        except ValueError as error:
            raise FieldError(
                "issuedOn", f"not a calendar date ({error}); allowed: a real date, YYYY-MM-DD"
            ) from None
        if not 2000 <= issued.year <= 2999:
            raise FieldError("issuedOn", "out of range; allowed: a date from 2000-01-01 to 2999-12-31")
        return self

    @property
    def expires_on(self) -> date:
        """The day the minted tokens expire, at 00:00 UTC."""
        return date.fromisoformat(self.issued_on) + timedelta(days=self.lifetime_days)

    @property
    def expiry(self) -> str:
        """When the minted tokens expire, as the Linode API takes it (UTC, ISO 8601)."""
        return f"{self.expires_on.isoformat()}T00:00:00Z"


RunnerLabel = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$", examples=["self-hosted", "linux"])]


class SelfHostedRunners(Model):
    """A self-hosted runner group that runs a stack's infrastructure jobs."""

    group: str = Field(
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        examples=["production-infrastructure"],
        description=(
            "Organisation runner group the jobs run in (`runs-on.group`). The managing stack declares "
            "it, open to this repository's infrastructure workflow on main only (docs/security.md, Reachability)."
        ),
    )
    labels: list[RunnerLabel] = Field(
        default_factory=lambda: ["self-hosted", "linux", "x64"],
        min_length=1,
        description="Labels a runner of the group must carry to take the jobs (`runs-on.labels`).",
    )
    egress_cidrs: list[Ipv4Cidr] = Field(
        min_length=1,
        description=(
            "IPv4 CIDRs the group's runners reach the internet from (their NAT). The stack's "
            "`cluster.controlPlaneAcl` must contain every one."
        ),
    )
    validation_observer: bool = Field(
        default=False,
        description=(
            "Staging only: also run staging validation's observer jobs (`target` and `gate` of "
            "staging-validation.yml), which read staging's Argo CD Applications through its Kubernetes "
            "API, on this group. Required when staging sets `cluster.controlPlaneAcl`; the group must "
            "then admit staging-validation.yml on main too."
        ),
    )
    health_observer: bool = Field(
        default=False,
        description=(
            "Production only: also run promote.yml's `production-health` job, which reads production's "
            "Argo CD Applications through its Kubernetes API after the manual sync, on this group. "
            "Required when production sets `cluster.controlPlaneAcl`; the group then admits promote.yml "
            "on main too."
        ),
    )

    @property
    def observes(self) -> bool:
        """Whether the group runs jobs that read the cluster's Argo CD Applications."""
        return self.validation_observer or self.health_observer


# Reaches the credential closure finds that neither GitHub nor Linode can scope narrower, each
# accepted in config by name with the reason (docs/security.md, "Credential closure").
AcknowledgedRisk = Literal[
    "deployer-administration-reaches-production", "shared-linode-account-reaches-production"
]
ACKNOWLEDGEABLE_RISKS: dict[str, str] = {
    "deployer-administration-reaches-production": (
        "this stack's `up` and deploy jobs hold the deployer's token without production's reviewers; its "
        "Administration write (every stack declares its own environments) could edit production's "
        "environment protection"
    ),
    "shared-linode-account-reaches-production": (
        "this stack shares its Linode account with production; its account-wide `lke` and "
        "`object_storage` scopes reach production's cluster and state"
    ),
}


class PipelineConfig(Model):
    """What CI needs from this stack: where its state lives, how long its credentials last,
    and which runners reach its cluster."""

    linode_account: str = Field(
        default="default",
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description=(
            "Name of the Linode account this stack's cluster, state bucket and CI tokens live in. Linode "
            "token scopes are account-wide: a token of one stack reaches every stack in the same account "
            "(the credential closure counts it so), so production belongs in an account of its own."
        ),
    )
    acknowledged_risks: dict[AcknowledgedRisk, Annotated[str, Field(min_length=20)]] = Field(
        default_factory=dict,
        description=(
            "Residual reaches of this stack's CI jobs into production that the providers cannot scope "
            "narrower, each accepted by name with the reason; the credential closure refuses any such "
            "reach not listed here and prints the ones that are."
        ),
    )

    state_backend: StateBackendConfig = Field(description="This stack's Pulumi state bucket.")
    credentials: CredentialsConfig = Field(description="The CI Linode credentials the program mints.")
    runners: dict[Environment, SelfHostedRunners] = Field(
        default_factory=dict,
        description=(
            "Self-hosted runner groups of the infrastructure jobs (the real preview and `pulumi up`), "
            "keyed by stack. A stack not listed runs them on GitHub-hosted runners, which have no fixed egress addresses, so its `cluster.controlPlaneAcl` must be "
            "empty. The managing stack renders the workflows and declares the groups from its own file: a "
            "stack with a self-hosted group lists the same entry in its own file and in the managing stack's. "
            "Each stack gets a group of its own."
        ),
    )
