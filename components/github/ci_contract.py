"""Names shared by what the program declares in GitHub and what the workflows read.

Repository governance declares these Actions secrets and variables; the generated
workflows reference them. Both import the names from here, and a test checks that every
`secrets.X` / `vars.X` a workflow reads is declared by the program.
"""

from __future__ import annotations

from components.config.base import Environment

# --- repository-wide (declared by the stack with github.manageRepository) -----------
# The repository's CI secrets live in this environment, not in repository secrets: a
# workflow any branch adds receives every repository secret, while this environment
# deploys from main only (docs/security.md, "Credential closure").
CI_MAIN_ENVIRONMENT = "ci-main"
# CI build metrics bucket (seeds 000/001): a key limited to that one bucket.
METRICS_ACCESS_KEY_ID = "METRICS_ACCESS_KEY_ID"  # secret of CI_MAIN_ENVIRONMENT
METRICS_SECRET_ACCESS_KEY = "METRICS_SECRET_ACCESS_KEY"
METRICS_BUCKET = "METRICS_BUCKET"  # variable
METRICS_ENDPOINT = "METRICS_ENDPOINT"  # variable: https://<bucket region>-1.linodeobjects.com
SLACK_WEBHOOK_URL = "SLACK_WEBHOOK_URL"  # secret of CI_MAIN_ENVIRONMENT and REPORT_ENVIRONMENT
# The weekly DORA report (dora-report.yml) reads the bucket with a read-only key of its own,
# kept in this environment (main only) and given to that one job: no job holding it can
# write the bucket, and the report holds no write credential.
REPORT_ENVIRONMENT = "metrics-report"
METRICS_READ_ACCESS_KEY_ID = "METRICS_READ_ACCESS_KEY_ID"  # secret of REPORT_ENVIRONMENT
METRICS_READ_SECRET_ACCESS_KEY = "METRICS_READ_SECRET_ACCESS_KEY"
# Where a production approver accepts an image's high findings before it is published (seed
# 003, "High: Require approval"): the production reviewers, main only, no secrets. Declared
# by the production stack (risk_acceptance.py).
IMAGE_RISK_ENVIRONMENT = "image-risk-acceptance"

# --- per environment (declared by each stack in its own deployment environments) ----
# The same names exist in `<env>` (`pulumi up`) and `<env>-preview` (read-only credentials
# for the real `pulumi preview` on main; both deploy from main only).
LINODE_TOKEN = "LINODE_TOKEN"
# The deploying identity's GitHub token (`ciGithubToken`; `ciGithubReadToken` in the
# preview environment): the GitHub provider's credentials, and the only identity allowed
# to push to `main` directly (workflow files, GitOps image-tag commits).
DEPLOYER_GITHUB_TOKEN = "DEPLOYER_GITHUB_TOKEN"
PULUMI_CONFIG_PASSPHRASE = "PULUMI_CONFIG_PASSPHRASE"
STATE_ACCESS_KEY_ID = "PULUMI_BACKEND_ACCESS_KEY_ID"
STATE_SECRET_ACCESS_KEY = "PULUMI_BACKEND_SECRET_ACCESS_KEY"
# Variable: s3://<the stack's state bucket>?endpoint=...&region=... Per environment, not
# repository-wide: each stack keeps its state in its own bucket (pipeline.stateBackend), so
# one environment's keys cannot touch another environment's state.
PULUMI_BACKEND_URL = "PULUMI_BACKEND_URL"


def preview_environment(env: Environment) -> str:
    """The GitHub environment holding `env`'s read-only preview credentials (main only)."""
    return f"{env}-preview"


# --- staging validation -------------------------------------------------------------
# The commit status staging-validation.yml records on the revision it validated, for people:
# promote.yml trusts the run and its evidence artifact, never a status (any run's token
# writes statuses as github-actions[bot]).
STAGING_VALIDATION_STATUS = "staging-validation"
# The artifact of each validation run holding `evidence.json` (revision, digests, verdict).
VALIDATION_EVIDENCE_ARTIFACT = "staging-validation-evidence"
# Staging's read-only observer: a kubeconfig that can only read staging's Argo CD
# Applications, a secret of the main-only observer environment the staging stack declares.
OBSERVER_KUBECONFIG = "OBSERVER_KUBECONFIG"
# Production's observer environment also holds the PagerDuty Events API routing key the
# promotion's production-health job pages with when production is unhealthy after a sync.
PAGERDUTY_ROUTING_KEY = "PAGERDUTY_ROUTING_KEY"


def observer_environment(env: Environment) -> str:
    """The GitHub environment holding `env`'s read-only observer kubeconfig (main only)."""
    return f"{env}-observer"
