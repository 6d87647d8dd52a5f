"""The admission policies that judge the platform's Pods, as Kubernetes manifests (no Pulumi).

Two ``ValidatingAdmissionPolicy`` objects, each with a ``ValidatingAdmissionPolicyBinding``
that selects the namespaces the environment's Applications deploy to:

- ``platform-image-digest``: every container (init and ephemeral ones included) whose image
  comes from the platform's registry names it by digest, ``<repository>@sha256:<64 hex>``
  (a tag may precede the digest). What staging validated is then what production runs: a
  tag can be moved, a digest cannot. Images from other registries are not judged here.
- ``platform-pod-security`` (seed 004): no container may run as root and every container
  has a read-only root filesystem. Seed 004's OPA sketch reads both from the Pod's own
  ``securityContext``; Kubernetes has ``readOnlyRootFilesystem`` only per container, and a
  container's ``runAsUser``/``runAsNonRoot`` override the Pod's, so each container is judged
  with its effective settings.

The expressions are CEL as the API server's admission plugin compiles them; the tests run them
through that plugin (tools/cel/, ``make cel-harness``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from components.kubernetes.config import ValidationAction

API_VERSION = "admissionregistration.k8s.io/v1"
IMAGE_DIGEST = "platform-image-digest"
POD_SECURITY = "platform-pod-security"
# The label the API server puts on every namespace (Kubernetes >= 1.22): a binding selects
# namespaces by name without the program labelling them.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

# A registry prefix as images name it (`ghcr.io/<owner>/`).
REGISTRY_PREFIX = r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*/$"
# Digest-pinned: one `@`, then a sha256 digest in lowercase hex (what `docker buildx` reports).
PINNED_IMAGE = r"^[^@]+@sha256:[0-9a-f]{64}$"


# Updates that leave `spec` alone (labels, annotations, finalizers, owner references) are not
# judged: a Pod that predates a policy must still be relabelled, adopted and deleted (a
# refused finalizer removal would leave it Terminating for ever). The only spec fields an
# update may change are images, tolerations, activeDeadlineSeconds and ephemeral
# containers, so every change a rule cares about is still judged.
def cel_string(text: str) -> str:
    """`text` as a CEL string literal: a quote or backslash in it would otherwise end or escape one."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_SPEC_CHANGES = {
    "name": "creates-or-changes-the-pod-spec",
    "expression": "request.operation != 'UPDATE' || object.spec != oldObject.spec",
}


def _pod_rule(resources: Sequence[str]) -> dict[str, Any]:
    return {
        "resourceRules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": list(resources),
            }
        ]
    }


def image_digest_policy(registry_prefix: str) -> dict[str, Any]:
    """Containers with an image under `registry_prefix` (e.g. `ghcr.io/ai-aas/`) name it by digest."""
    if not re.fullmatch(REGISTRY_PREFIX, registry_prefix):
        raise ValueError(f"registry prefix {registry_prefix!r}: allowed: a lowercase `<host>/<path>/`")
    allowed = (
        f"images from {registry_prefix} must be pinned by digest; allowed: <repository>@sha256:<64 lowercase hex "
        "digits>, or <repository>:<tag>@sha256:<64 lowercase hex digits>"
    )
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": IMAGE_DIGEST},
        "spec": {
            "failurePolicy": "Fail",
            # Ephemeral containers arrive through the subresource (`kubectl debug`), never in
            # a create or an update of the Pod itself.
            "matchConstraints": _pod_rule(["pods", "pods/ephemeralcontainers"]),
            "matchConditions": [_SPEC_CHANGES],
            "variables": [
                {
                    "name": "containers",
                    "expression": (
                        "object.spec.containers + object.spec.?initContainers.orValue([]) "
                        "+ object.spec.?ephemeralContainers.orValue([])"
                    ),
                },
                {
                    # Registry hosts are case-insensitive: GHCR.io/... pulls the same image.
                    "name": "unpinned",
                    "expression": (
                        "variables.containers.filter(c, "
                        f"c.?image.orValue('').lowerAscii().startsWith({cel_string(registry_prefix)}) "
                        f"&& !c.?image.orValue('').matches({cel_string(PINNED_IMAGE)}))"
                    ),
                },
            ],
            "validations": [
                {
                    "expression": "size(variables.unpinned) == 0",
                    "message": f"a container's image is not pinned by digest: {allowed}",
                    "messageExpression": (
                        "(size(variables.unpinned) == 1 ? 'container ' : 'containers ') + "
                        "variables.unpinned.map(c, c.name + ' (' + c.image + ')').join(', ') + "
                        + cel_string(f": {allowed}")
                    ),
                }
            ],
        },
    }


# A container's own runAsUser/runAsNonRoot win over the Pod's; -1 stands for "not set" (a
# uid is never negative). It runs as root when its effective uid is 0, or when no uid is set
# and runAsNonRoot is not true (the image's USER decides, possibly root); runAsNonRoot makes
# the kubelet refuse to start an image whose user is root.
_MAY_RUN_AS_ROOT = (
    "c.?securityContext.?runAsUser.orValue(variables.podRunAsUser) == 0 || "
    "(c.?securityContext.?runAsUser.orValue(variables.podRunAsUser) == -1 && "
    "!c.?securityContext.?runAsNonRoot.orValue(variables.podRunAsNonRoot))"
)


def pod_security_policy() -> dict[str, Any]:
    """Seed 004: no container runs as root, every container's root filesystem is read-only."""
    non_root = (
        "allowed: securityContext.runAsNonRoot: true or a runAsUser other than 0, on the container "
        "or the Pod (container settings override Pod settings; runAsUser: 0 is root even with runAsNonRoot)"
    )
    read_only = (
        "allowed: securityContext.readOnlyRootFilesystem: true on every container and init container "
        "(an emptyDir volume where the process writes)"
    )
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": POD_SECURITY},
        "spec": {
            "failurePolicy": "Fail",
            # Not pods/ephemeralcontainers: those are `kubectl debug` sessions, granted by RBAC
            # to operators, running no service code, and a debugger often needs root or a
            # writable filesystem. Their images are still held to the digest rule.
            "matchConstraints": _pod_rule(["pods"]),
            "matchConditions": [_SPEC_CHANGES],
            "variables": [
                # Sidecars are init containers (restartPolicy: Always): judged with the rest.
                {
                    "name": "containers",
                    "expression": "object.spec.containers + object.spec.?initContainers.orValue([])",
                },
                {"name": "podRunAsUser", "expression": "object.spec.?securityContext.?runAsUser.orValue(-1)"},
                {
                    "name": "podRunAsNonRoot",
                    "expression": "object.spec.?securityContext.?runAsNonRoot.orValue(false)",
                },
                {"name": "mayRunAsRoot", "expression": f"variables.containers.filter(c, {_MAY_RUN_AS_ROOT})"},
                {
                    "name": "writableRoot",
                    "expression": (
                        "variables.containers.filter(c, "
                        "!c.?securityContext.?readOnlyRootFilesystem.orValue(false))"
                    ),
                },
            ],
            "validations": [
                {
                    "expression": "size(variables.mayRunAsRoot) == 0",
                    "message": f"a container may run as root; {non_root}",
                    "messageExpression": (
                        "(size(variables.mayRunAsRoot) == 1 ? 'container ' : 'containers ') + "
                        "variables.mayRunAsRoot.map(c, c.name).join(', ') + "
                        + cel_string(f" may run as root; {non_root}")
                    ),
                },
                {
                    "expression": "size(variables.writableRoot) == 0",
                    "message": f"a container has a writable root filesystem; {read_only}",
                    "messageExpression": (
                        "(size(variables.writableRoot) == 1 ? 'container ' : 'containers ') + "
                        "variables.writableRoot.map(c, c.name).join(', ') + "
                        + cel_string(f" may write to the root filesystem; {read_only}")
                    ),
                },
            ],
        },
    }


def binding(policy: str, namespaces: Sequence[str], actions: Sequence[ValidationAction]) -> dict[str, Any]:
    """`policy` applied in exactly `namespaces`, failures met with `actions`."""
    if not namespaces:
        raise ValueError(f"{policy}: a binding needs at least one namespace")
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy},
        "spec": {
            "policyName": policy,
            "validationActions": list(actions),
            "matchResources": {
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(set(namespaces))}
                    ]
                }
            },
        },
    }


def pod_policies(
    registry_prefix: str,
    namespaces: Sequence[str],
    image_digest_actions: Sequence[ValidationAction],
    pod_security_actions: Sequence[ValidationAction],
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Policy name -> (policy, binding) of one environment."""
    return {
        IMAGE_DIGEST: (
            image_digest_policy(registry_prefix),
            binding(IMAGE_DIGEST, namespaces, image_digest_actions),
        ),
        POD_SECURITY: (pod_security_policy(), binding(POD_SECURITY, namespaces, pod_security_actions)),
    }
