"""The Pod admission policies of one environment on its cluster (manifests: ``pod_policies``)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from components.config.base import DnsLabel, Environment
from components.kubernetes.config import ValidationActions
from components.kubernetes.pod_policies import IMAGE_DIGEST, POD_SECURITY, REGISTRY_PREFIX, pod_policies
from components.kubernetes.providers import require_provider

# Resource name role of each policy (`<name>-image-digest`, `<name>-image-digest-binding`).
ROLES = {IMAGE_DIGEST: "image-digest", POD_SECURITY: "pod-security"}


class PodPoliciesArgs(BaseModel):
    """Where the policies apply and what a failure meets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment
    registry_prefix: str = Field(
        pattern=REGISTRY_PREFIX,
        description="Image prefix of the platform's registry, e.g. `ghcr.io/ai-aas/`.",
    )
    namespaces: list[DnsLabel] = Field(min_length=1, description="Namespaces the bindings select.")
    image_digest_actions: ValidationActions
    pod_security_actions: ValidationActions


class PodPolicies(pulumi.ComponentResource):
    """Each ValidatingAdmissionPolicy and its binding. Pass the cluster's Kubernetes provider
    in `opts.providers`; make the workloads depend on `bindings` so they are judged from the
    first Pod on."""

    policies: dict[str, k8s.admissionregistration.v1.ValidatingAdmissionPolicy]
    bindings: dict[str, k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding]

    def __init__(self, name: str, args: PodPoliciesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:admission_policies:PodPolicies", name, None, opts)
        provider = require_provider(self, "kubernetes")
        manifests = pod_policies(
            args.registry_prefix, args.namespaces, args.image_digest_actions, args.pod_security_actions
        )
        self.policies = {}
        self.bindings = {}
        for policy_name, (policy, binding) in manifests.items():
            role = ROLES[policy_name]
            self.policies[policy_name] = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                f"{name}-{role}",
                metadata=policy["metadata"],
                spec=policy["spec"],
                opts=pulumi.ResourceOptions(parent=self, provider=provider),
            )
            # A binding goes after its policy and before it on destroy.
            self.bindings[policy_name] = k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                f"{name}-{role}-binding",
                metadata=binding["metadata"],
                spec=binding["spec"],
                opts=pulumi.ResourceOptions(
                    parent=self, provider=provider, depends_on=[self.policies[policy_name]]
                ),
            )
        self.register_outputs(
            {
                "policies": sorted(self.policies),
                "namespaces": sorted(set(args.namespaces)),
                "validationActions": {
                    IMAGE_DIGEST: list(args.image_digest_actions),
                    POD_SECURITY: list(args.pod_security_actions),
                },
            }
        )
