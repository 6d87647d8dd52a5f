"""GitOps on each cluster: Argo CD, Argo Rollouts, the repository connection, the Applications and their manifests."""
