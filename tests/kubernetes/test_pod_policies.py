"""The Pod admission policies every stack declares: what they refuse and admit, judged by the
Kubernetes API server's own admission plugin (tests/support/cel_harness.py over tools/cel/), where
they apply and with which actions, valid Kubernetes objects, in force before the
Applications sync, bad config refused."""

from __future__ import annotations

import copy
import json
from typing import Any

import kubernetes_validate
import pytest

from components.kubernetes.pod_policies import IMAGE_DIGEST, POD_SECURITY, pod_security_policy
from tests.support.cel_harness import CompileError, Evaluation, RequestResult, evaluate, request
from tests.support.paths import ROOT
from tests.support.pods import (
    APP,
    BINDING,
    INIT,
    POLICY,
    SAMPLE,
    Mutation,
    _container,
    container_context,
    declared,
    image,
    namespace,
    pod_context,
    sample,
)
from tests.support.stacks import TEST_SECRETS, assert_refused, k8s_version, run_stack, with_changes
from tests.support.types import APPLICATION
from tools.offline import STACKS, Run, run_program, unwrap

REGISTRY = "ghcr.io/ai-aas/"
HEX = "3f1c2e4d5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
PINNED = f"{REGISTRY}{APP}@sha256:{HEX}"
ALLOWED_IMAGES = (
    f"images from {REGISTRY} must be pinned by digest; allowed: <repository>@sha256:<64 lowercase hex "
    "digits>, or <repository>:<tag>@sha256:<64 lowercase hex digits>"
)
NON_ROOT = (
    "may run as root; allowed: securityContext.runAsNonRoot: true or a runAsUser other than 0, on the "
    "container or the Pod (container settings override Pod settings; runAsUser: 0 is root even with runAsNonRoot)"
)
READ_ONLY = (
    "may write to the root filesystem; allowed: securityContext.readOnlyRootFilesystem: true on every "
    "container and init container (an emptyDir volume where the process writes)"
)


# --------------------------------------------------------------------------- samples


# Image references, each judged by the digest rule (None: admitted; else the refusal).
IMAGE_CASES: dict[str, tuple[list[Mutation], str | None]] = {
    "digest-pinned": ([image(PINNED)], None),
    "tag-and-digest": ([image(f"{REGISTRY}{APP}:1.4.2@sha256:{HEX}")], None),
    "tag-only": (
        [image(f"{REGISTRY}{APP}:1.4.2")],
        f"container {APP} ({REGISTRY}{APP}:1.4.2): {ALLOWED_IMAGES}",
    ),
    "neither-tag-nor-digest": (
        [image(f"{REGISTRY}{APP}")],
        f"container {APP} ({REGISTRY}{APP}): {ALLOWED_IMAGES}",
    ),
    "uppercase-digest": (
        [image(f"{REGISTRY}{APP}@sha256:{HEX.upper()}")],
        f"container {APP} ({REGISTRY}{APP}@sha256:{HEX.upper()}): {ALLOWED_IMAGES}",
    ),
    "short-digest": ([image(f"{REGISTRY}{APP}@sha256:{HEX[:12]}")], f"container {APP} ("),
    "sha512-digest": ([image(f"{REGISTRY}{APP}@sha512:{HEX}{HEX}")], f"container {APP} ("),
    "registry-in-capitals": (
        [image(f"GHCR.io/AI-AAS/{APP}:1.4.2")],
        f"container {APP} (GHCR.io/AI-AAS/{APP}:1.4.2): {ALLOWED_IMAGES}",
    ),
    "other-registry-with-tag": ([image("docker.io/library/redis:7.2")], None),
    "other-ghcr-owner-with-tag": ([image("ghcr.io/other-org/tool:1.0")], None),
    "init-container-tag": (
        [image(f"{REGISTRY}{APP}:1.4.2", name=INIT)],
        f"container {INIT} ({REGISTRY}{APP}:1.4.2): {ALLOWED_IMAGES}",
    ),
    "both-tags": (
        [image(f"{REGISTRY}{APP}:1.4.2"), image(f"{REGISTRY}{APP}:1.4.1", name=INIT)],
        f"containers {APP} ({REGISTRY}{APP}:1.4.2), {INIT} ({REGISTRY}{APP}:1.4.1): {ALLOWED_IMAGES}",
    ),
}

# Security contexts, each judged by seed 004's rules: (root refusal, writable-root refusal).
SECURITY_CASES: dict[str, tuple[list[Mutation], str | None, str | None]] = {
    "compliant": ([], None, None),
    "pod-run-as-non-root-inherited": ([pod_context(runAsUser=None)], None, None),
    "pod-uid-without-run-as-non-root": ([pod_context(runAsNonRoot=None)], None, None),
    "no-user-settings": (
        [pod_context(runAsNonRoot=None, runAsUser=None)],
        f"containers {APP}, {INIT} {NON_ROOT}",
        None,
    ),
    "pod-uid-0": (
        [pod_context(runAsNonRoot=None, runAsUser=0)],
        f"containers {APP}, {INIT} {NON_ROOT}",
        None,
    ),
    "uid-0-despite-run-as-non-root": (
        [pod_context(runAsUser=0)],
        f"containers {APP}, {INIT} {NON_ROOT}",
        None,
    ),
    "container-uid-0-overrides-pod": (
        [container_context(APP, runAsUser=0)],
        f"container {APP} {NON_ROOT}",
        None,
    ),
    "container-run-as-non-root-false-overrides-pod": (
        [pod_context(runAsUser=None), container_context(APP, runAsNonRoot=False)],
        f"container {APP} {NON_ROOT}",
        None,
    ),
    "container-uids-override-pod-uid-0": (
        [
            pod_context(runAsNonRoot=None, runAsUser=0),
            container_context(APP, runAsUser=10001),
            container_context(INIT, runAsUser=10002),
        ],
        None,
        None,
    ),
    "writable-root": (
        [container_context(APP, readOnlyRootFilesystem=None)],
        None,
        f"container {APP} {READ_ONLY}",
    ),
    "read-only-root-false": (
        [container_context(APP, readOnlyRootFilesystem=False)],
        None,
        f"container {APP} {READ_ONLY}",
    ),
    "init-container-root": ([container_context(INIT, runAsUser=0)], f"container {INIT} {NON_ROOT}", None),
    "init-container-writable-root": (
        [container_context(INIT, readOnlyRootFilesystem=None)],
        None,
        f"container {INIT} {READ_ONLY}",
    ),
    "no-security-context-at-all": (
        [
            lambda pod: pod["spec"].pop("securityContext"),
            lambda pod: _container(pod, APP).pop("securityContext"),
            lambda pod: _container(pod, INIT).pop("securityContext"),
        ],
        f"containers {APP}, {INIT} {NON_ROOT}",
        f"containers {APP}, {INIT} {READ_ONLY}",
    ),
}


def creations(run: Run) -> list[dict[str, Any]]:
    ns = namespace(run)
    cases = {f"image/{k}": m for k, (m, _) in IMAGE_CASES.items()}
    cases.update({f"security/{k}": m for k, (m, _, _) in SECURITY_CASES.items()})
    return [request(name, sample(*mutations), ns) for name, mutations in cases.items()]


_EVALUATIONS: dict[str, Evaluation] = {}


def evaluated(run: Run) -> Evaluation:
    """Every sample through the stack's declared policies, once per stack."""
    if run.stack not in _EVALUATIONS:
        policies, bindings = declared(run)
        _EVALUATIONS[run.stack] = evaluate(policies, bindings, creations(run), k8s_version(run))
    return _EVALUATIONS[run.stack]


# --------------------------------------------------------------------------- the rules, evaluated


@pytest.mark.parametrize("case", sorted(IMAGE_CASES))
@pytest.mark.go
def test_platform_images_are_pinned_by_digest(stack_run: Run, case: str) -> None:
    _, refusal = IMAGE_CASES[case]
    result = evaluated(stack_run).of(f"image/{case}")
    digest = result.of(IMAGE_DIGEST)
    if refusal is None:
        assert digest.admitted, digest
    else:
        [message] = digest.refusals
        assert message.startswith(refusal), message
    # Images alone change nothing for seed 004's rules.
    assert result.of(POD_SECURITY).admitted


@pytest.mark.parametrize("case", sorted(SECURITY_CASES))
@pytest.mark.go
def test_no_container_runs_as_root_or_writes_its_root_filesystem(stack_run: Run, case: str) -> None:
    _, root, writable = SECURITY_CASES[case]
    result = evaluated(stack_run).of(f"security/{case}")
    security = result.of(POD_SECURITY)
    assert security.judged
    assert security.refusals == tuple(m for m in (root, writable) if m is not None)
    assert result.of(IMAGE_DIGEST).admitted


@pytest.mark.go
def test_a_refused_pod_is_refused_by_the_api_server_in_the_services_namespaces(stack_run: Run) -> None:
    """The verdict of the plugin's dispatcher, from the bindings every committed stack declares:
    the committed stacks keep the default actions, Deny."""
    evaluation = evaluated(stack_run)
    for name in (r.request for r in evaluation.results):
        result = evaluation.of(name)
        refusals = [(p.policy, m) for p in result.policies for m in p.refusals]
        assert result.allowed == (not refusals), name
        if refusals:
            policy, message = refusals[0]
            assert result.status_message == (
                f'pods "{SAMPLE["metadata"]["name"]}" is forbidden: ValidatingAdmissionPolicy '
                f"'{policy}' with binding '{policy}' denied request: {message}"
            ), name
            assert result.status_code == 422
        assert result.warnings == ()


@pytest.mark.go
def test_pods_outside_the_services_namespaces_are_not_judged(stack_run: Run) -> None:
    policies, bindings = declared(stack_run)
    root = sample(*SECURITY_CASES["no-security-context-at-all"][0], image(f"{REGISTRY}{APP}:1.4.2"))
    outside = ["kube-system", "argocd", "monitoring", "default"]
    evaluation = evaluate(
        policies, bindings, [request(ns, root, ns) for ns in outside], k8s_version(stack_run)
    )
    for ns in outside:
        result = evaluation.of(ns)
        assert result.allowed, ns
        assert all(p.bindings == () for p in result.policies), ns


@pytest.mark.go
def test_debug_containers_are_held_to_the_digest_rule_only(stack_run: Run) -> None:
    """`kubectl debug` adds an ephemeral container through the pods/ephemeralcontainers
    subresource: its image is judged, its root user is not (pod_policies: why)."""
    ns = namespace(stack_run)
    running = sample()

    def debugged(image_ref: str) -> dict[str, Any]:
        pod = sample()
        pod["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": image_ref, "stdin": True}]
        return pod

    requests = [
        request(
            "platform-tag",
            debugged(f"{REGISTRY}toolbox:latest"),
            ns,
            operation="UPDATE",
            old=running,
            sub_resource="ephemeralcontainers",
        ),
        request(
            "busybox-as-root",
            debugged("busybox:1.36"),
            ns,
            operation="UPDATE",
            old=running,
            sub_resource="ephemeralcontainers",
        ),
    ]
    policies, bindings = declared(stack_run)
    evaluation = evaluate(policies, bindings, requests, k8s_version(stack_run))
    refused = evaluation.of("platform-tag")
    assert refused.of(IMAGE_DIGEST).refusals == (
        f"container debugger ({REGISTRY}toolbox:latest): {ALLOWED_IMAGES}",
    )
    assert not refused.allowed
    admitted = evaluation.of("busybox-as-root")
    assert admitted.allowed
    assert admitted.of(IMAGE_DIGEST).admitted
    assert not admitted.of(POD_SECURITY).matched


@pytest.mark.go
def test_updates_are_judged_when_they_change_the_spec(stack_run: Run) -> None:
    """A Pod from before the policies can still be relabelled and have its finalizers removed;
    an update that changes an image is judged like a creation."""
    ns = namespace(stack_run)
    old = sample(image(f"{REGISTRY}{APP}:1.4.2"), pod_context(runAsNonRoot=None, runAsUser=None))
    relabelled = copy.deepcopy(old)
    relabelled["metadata"]["labels"]["rollouts-pod-template-hash"] = "7c9d6b5f4"
    relabelled["metadata"]["finalizers"] = []
    retagged = copy.deepcopy(SAMPLE)
    image(f"{REGISTRY}{APP}:1.4.3")(retagged)
    requests = [
        request("relabel", relabelled, ns, operation="UPDATE", old=old),
        request("retag", retagged, ns, operation="UPDATE", old=SAMPLE),
    ]
    policies, bindings = declared(stack_run)
    evaluation = evaluate(policies, bindings, requests, k8s_version(stack_run))
    relabel = evaluation.of("relabel")
    assert relabel.allowed
    assert all(p.matched and not p.judged for p in relabel.policies)
    retag = evaluation.of("retag")
    assert not retag.allowed
    assert retag.of(IMAGE_DIGEST).refusals == (f"container {APP} ({REGISTRY}{APP}:1.4.3): {ALLOWED_IMAGES}",)
    assert retag.of(POD_SECURITY).admitted


@pytest.mark.go
def test_a_stack_can_start_pod_security_with_warn_and_audit() -> None:
    """podSecurityActions [Warn, Audit]: a root Pod is admitted with a warning to its creator and
    an audit annotation; unpinned images are still refused."""
    run = run_program(
        "staging",
        TEST_SECRETS,
        with_changes("staging", {"delivery:podPolicies.podSecurityActions": ["Warn", "Audit"]}),
    )
    policies, bindings = declared(run)
    root = sample(container_context(APP, runAsUser=0))
    unpinned = sample(container_context(APP, runAsUser=0), image(f"{REGISTRY}{APP}:1.4.2"))
    ns = namespace(run)
    evaluation = evaluate(
        policies, bindings, [request("root", root, ns), request("unpinned", unpinned, ns)], k8s_version(run)
    )
    warned = evaluation.of("root")
    message = f"container {APP} {NON_ROOT}"
    assert warned.allowed
    assert warned.warnings == (
        f"Validation failed for ValidatingAdmissionPolicy '{POD_SECURITY}' with binding '{POD_SECURITY}': {message}",
    )
    [audit] = json.loads(warned.audit_annotations["validation.policy.admission.k8s.io/validation_failure"])
    assert audit == {
        "message": message,
        "policy": POD_SECURITY,
        "binding": POD_SECURITY,
        "expressionIndex": 0,
        "validationActions": ["Warn", "Audit"],
    }
    refused: RequestResult = evaluation.of("unpinned")
    assert not refused.allowed
    assert f"'{IMAGE_DIGEST}'" in refused.status_message


@pytest.mark.go
def test_the_harness_fails_on_expressions_the_cluster_would_refuse() -> None:
    """A policy that does not compile fails the test. `isSemver` came with Kubernetes 1.33, whose
    API server still compiles new expressions for 1.32 (rollback safety), so a 1.33 cluster
    refuses it and a 1.34 cluster accepts it: the harness judges for the cluster's version."""
    policy = pod_security_policy()
    policy["spec"]["validations"].append({"expression": "isSemver('1.0.0')"})
    assert evaluate([policy], [], [], "1.34").compatibility_version == "1.33"
    with pytest.raises(
        CompileError, match=r"spec.validations\[2\].expression: .*undeclared reference to 'isSemver'"
    ):
        evaluate([policy], [], [], "1.33")
    broken = pod_security_policy()
    broken["spec"]["variables"][0]["expression"] = "object.spec.containerz.all(c, c.nme)"
    broken["spec"]["validations"][0]["messageExpression"] = "size(variables.mayRunAsRoot)"
    with pytest.raises(CompileError) as caught:
        evaluate([broken], [], [], "1.33")
    assert "spec.validations[0].messageExpression: must evaluate to string but got int" in str(caught.value)


@pytest.mark.go
def test_the_harness_links_the_pinned_apiserver() -> None:
    policies, _ = declared(run_stack("staging"))
    build = evaluate(policies, [], [], "1.33").build
    go_mod = (ROOT / "tools" / "cel" / "go.mod").read_text()
    assert f"k8s.io/apiserver {build['k8s.io/apiserver']}\n" in go_mod


# --------------------------------------------------------------------------- what each stack declares


def test_every_stack_declares_both_policies_fail_closed_on_pod_creates_and_updates(stack_run: Run) -> None:
    policies, bindings = declared(stack_run)
    assert {p["metadata"]["name"] for p in policies} == {IMAGE_DIGEST, POD_SECURITY}
    assert {b["spec"]["policyName"] for b in bindings} == {IMAGE_DIGEST, POD_SECURITY}
    for policy in policies:
        spec = policy["spec"]
        assert spec["failurePolicy"] == "Fail"
        [rule] = spec["matchConstraints"]["resourceRules"]
        assert rule["apiGroups"] == [""] and rule["apiVersions"] == ["v1"]
        assert rule["operations"] == ["CREATE", "UPDATE"]
        assert "pods" in rule["resources"]


def test_staging_and_production_deny_unpinned_images_in_exactly_the_services_namespaces(
    stack_run: Run,
) -> None:
    destinations = sorted(
        {a.plain["spec"]["destination"]["namespace"] for a in stack_run.recorder.of_type(APPLICATION)}
    )
    _, bindings = declared(stack_run)
    for binding in bindings:
        assert binding["spec"]["matchResources"] == {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": destinations}
                ]
            }
        }
    [digest] = [b for b in bindings if b["spec"]["policyName"] == IMAGE_DIGEST]
    if stack_run.stack in ("staging", "production"):
        assert digest["spec"]["validationActions"] == ["Deny"]


def test_applications_sync_only_once_the_policies_are_in_force(stack_run: Run) -> None:
    policies = {r.name for r in stack_run.recorder.of_type(POLICY)}
    bindings = stack_run.recorder.of_type(BINDING)
    for binding in bindings:
        assert set(binding.depends_on) & policies, binding.name
    for app in stack_run.recorder.of_type(APPLICATION):
        assert policies | {b.name for b in bindings} <= set(app.depends_on), app.name


def test_policies_and_bindings_are_valid_kubernetes_objects(stack_run: Run) -> None:
    resources = stack_run.recorder.of_type(POLICY) + stack_run.recorder.of_type(BINDING)
    assert len(resources) == 4
    for res in resources:
        kubernetes_validate.validate(unwrap(res.inputs), k8s_version(stack_run), strict=True)


def test_development_may_switch_the_policies_off() -> None:
    run = run_program(
        "development", TEST_SECRETS, with_changes("development", {"delivery:podPolicies.enabled": False})
    )
    assert run.recorder.of_type(POLICY) == [] and run.recorder.of_type(BINDING) == []
    assert run.recorder.of_type(APPLICATION)


# --------------------------------------------------------------------------- bad config

ALLOWED = "allowed: [Deny], [Deny, Audit], [Warn], [Audit] or [Warn, Audit]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            ["Deny", "Warn"],
            'delivery:podPolicies.podSecurityActions = ["Deny", "Warn"]: Deny and Warn may not',
        ),
        ([], f"delivery:podPolicies.podSecurityActions = []: a binding needs at least one action; {ALLOWED}"),
        (
            ["Audit", "Audit"],
            f'delivery:podPolicies.podSecurityActions = ["Audit", "Audit"]: an action is listed twice; {ALLOWED}',
        ),
        (
            ["Block"],
            "delivery:podPolicies.podSecurityActions[0] = \"Block\": Input should be 'Deny', 'Warn' or 'Audit'",
        ),
    ],
)
def test_bad_validation_actions_are_refused(value: list[str], expected: str) -> None:
    assert_refused("development", {"delivery:podPolicies.podSecurityActions": value}, [expected])


@pytest.mark.parametrize("stack", [s for s in STACKS if s != "development"])
def test_staging_and_production_keep_unpinned_images_out(stack: str) -> None:
    why = f"{stack} refuses Pods whose platform images are not pinned by digest"
    assert_refused(
        stack,
        {"delivery:podPolicies.enabled": False},
        [f"delivery:podPolicies.enabled = false: {why}; allowed: true"],
    )
    assert_refused(
        stack,
        {"delivery:podPolicies.imageDigestActions": ["Warn", "Audit"]},
        [
            f'delivery:podPolicies.imageDigestActions = ["Warn", "Audit"]: {why}; allowed: [Deny] or [Deny, Audit]'
        ],
    )


def test_an_unknown_pod_policies_key_is_refused() -> None:
    assert_refused(
        "staging",
        {"delivery:podPolicies.podSecurity": "Deny"},
        [
            'delivery:podPolicies.podSecurity = "Deny": unknown key; allowed keys here: enabled, '
            "imageDigestActions, podSecurityActions"
        ],
    )
