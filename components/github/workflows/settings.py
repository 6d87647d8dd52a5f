"""What the workflow builders need from the stack config, as one typed value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from components.config.base import DEFAULT_REGION, ENVIRONMENTS, Environment
from components.contracts import gitops_layout
from components.github.config import SelfHostedRunners, ValidationConfig, WorkflowsConfig
from components.github.workflows.model import RUNNER, RunnerGroup


@dataclass(frozen=True)
class Settings:
    """Inputs of every workflow builder (pure data; no Pulumi, no config reads)."""

    image_registry: str  # ghcr.io/<owner>: images are <registry>/<service>
    workflows: WorkflowsConfig = field(default_factory=WorkflowsConfig)
    # The deployment passes both from its config (gitops.clustersPath, metrics.region); these
    # defaults are the config's own, from below the domains.
    clusters_path: str = gitops_layout.CLUSTERS_PATH
    metrics_region: str = DEFAULT_REGION
    environments: tuple[Environment, ...] = ENVIRONMENTS
    # Environments whose GitOps directory the delivery workflow commits image tags to
    # (Argo CD syncs them automatically); the rest are promoted by pull request.
    auto_deploy: tuple[Environment, ...] = ("development", "staging")
    promote_to: Environment = "production"
    # Self-hosted runner groups of each stack's infrastructure jobs (`pipeline.runners`);
    # a stack not listed runs them on GitHub-hosted runners.
    runners: Mapping[Environment, SelfHostedRunners] = field(default_factory=dict)
    # GitHub code scanning (CodeQL, SARIF uploads, dependency review) is available; without
    # it those jobs and steps are left out, so no gate waits on them.
    code_scanning: bool = True
    # CodeQL languages of the services (`services.<name>.language` of the managing stack):
    # security.yml analyses each, and Semgrep scans the same sources.
    languages: tuple[str, ...] = ("go",)

    def __post_init__(self) -> None:
        if (
            not self.image_registry.startswith("ghcr.io/")
            or self.image_registry != self.image_registry.lower()
        ):
            raise ValueError(
                f"image registry must be a lowercase ghcr.io/<owner> prefix: {self.image_registry!r}"
            )
        unknown = {*self.auto_deploy, self.promote_to} - set(self.environments)
        if unknown:
            raise ValueError(f"unknown environment(s) {sorted(unknown)}")
        if not self.languages or list(self.languages) != sorted(set(self.languages)):
            raise ValueError(f"languages must be a sorted list without repeats: {self.languages}")
        if self.promote_to in self.auto_deploy:
            raise ValueError(f"{self.promote_to} is promoted by pull request, not deployed automatically")

    def infrastructure_runner(self, env: Environment) -> str | RunnerGroup:
        """``runs-on`` of the jobs that reach ``env``'s cluster (real preview, ``pulumi up``)."""
        runner = self.runners.get(env)
        if runner is None:
            return RUNNER
        return RunnerGroup(group=runner.group, labels=tuple(runner.labels))

    def observer_runner(self, env: Environment) -> str | RunnerGroup:
        """``runs-on`` of staging validation's jobs that read ``env``'s Kubernetes API (``target``,
        ``gate``): its self-hosted group where ``validationObserver`` puts them (its ACL
        admits no GitHub-hosted runner), else GitHub-hosted."""
        runner = self.runners.get(env)
        if runner is None or not runner.observes:
            return RUNNER
        return RunnerGroup(group=runner.group, labels=tuple(runner.labels))

    def environment_dir(self, env: Environment) -> str:
        """The environment's GitOps directory: its infrastructure Application's path, with
        the image files below it."""
        return gitops_layout.environment_dir(self.clusters_path, env)

    def image_file(self, env: Environment, service: str) -> str:
        """Where ``service``'s image for ``env`` is committed (by ``delivery.yml``, or for the
        promoted environment by ``promote.yml``) and read by its Argo CD Application."""
        return gitops_layout.image_file(self.environment_dir(env), service)


# Check names and pipeline shapes do not depend on the deployment's registry or paths;
# these settings build the workflows when only such shapes are asked for.
REFERENCE = Settings(
    image_registry="ghcr.io/reference",
    workflows=WorkflowsConfig(validation=ValidationConfig(base_url="https://staging.reference.invalid")),
)
