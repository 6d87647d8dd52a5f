"""Composition root: load the stack config once, build the components, export outputs."""

import pulumi
import pulumi_github as github

from components.cluster import Cluster, ClusterArgs
from components.config import load_config


def main() -> None:
    # Validates everything first: bad config raises ConfigError before any resource exists.
    config, secrets = load_config()
    env = config.environment
    project = pulumi.get_project()

    # --- cluster -------------------------------------------------------------------
    cluster = Cluster(
        env,
        ClusterArgs(environment=env, region=config.region, project=project, cluster=config.cluster),
    )
    pulumi.export("clusterId", cluster.cluster.id)
    pulumi.export("clusterLabel", cluster.cluster.label)
    pulumi.export("apiEndpoints", cluster.cluster.api_endpoints)
    pulumi.export("kubeconfig", cluster.kubeconfig)

    # Every GitHub object lives in the one configured repository's owner; the token comes
    # from GITHUB_TOKEN (the deployer identity's token in CI).
    github_provider = github.Provider("github", owner=config.github.owner)
    del secrets, github_provider  # wired into the components below as they land


main()
