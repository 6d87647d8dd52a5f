"""Events one domain sends and another listens for."""

from __future__ import annotations

# The repository_dispatch event type staging's Argo CD sends when an Application has synced
# and is healthy (gitops' notifications); staging-validation.yml wakes up on it (github).
STAGING_DEPLOYED_EVENT = "staging-deployed"
