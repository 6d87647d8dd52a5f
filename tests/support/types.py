"""Pulumi type tokens of the resources the tests look up in a recording, named once.

Each is `<package>:<module>:<Type>` as the provider's schema names the resource
(tests/schemas/pulumi-*-inputs.json for github and linode; the kubernetes provider's tokens are
`kubernetes:<group>/<version>:<Kind>`, Helm releases `kubernetes:helm.sh/v3:Release`).
"""

from __future__ import annotations

# Kubernetes
RELEASE = "kubernetes:helm.sh/v3:Release"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"

# GitHub
REPOSITORY_FILE = "github:index/repositoryFile:RepositoryFile"
DEPLOY_KEY = "github:index/repositoryDeployKey:RepositoryDeployKey"
ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"
DEPLOYMENT_POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
RULESET = "github:index/repositoryRuleset:RepositoryRuleset"
ACTIONS_SECRET = "github:index/actionsSecret:ActionsSecret"
ENVIRONMENT_SECRET = "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"

# Linode
LKE_CLUSTER = "linode:index/lkeCluster:LkeCluster"
BUCKET = "linode:index/objectStorageBucket:ObjectStorageBucket"
OBJECT_STORAGE_KEY = "linode:index/objectStorageKey:ObjectStorageKey"
TOKEN = "linode:index/token:Token"

# TLS
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
