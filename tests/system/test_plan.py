"""The offline plan is the preview a reviewer reads: every input, the right marker per change.

The plan functions run in-process over the recorded runs (`run_stack`, `run_program`);
the golden files under `tests/golden/<stack>/` are the base a pull request is compared with.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.support.scratch import git
from tests.support.stacks import TEST_SECRETS, run_stack, with_changes
from tests.support.types import TOKEN
from tools.offline import MOCK_OUTPUTS, STACKS, Run, run_program, walk
from tools.plan import GOLDEN, GOLDEN_COMMAND, declared_documents, plan_lines, plan_steps, render_documents
from tools.plan_diff import BaseError, Step, diff, read_base, read_directory, read_git, summary_lines


def steps_by_name(steps: list[Step]) -> dict[str, Step]:
    return {str(step.doc["name"]): step for step in steps}


def changed(steps: list[Step]) -> dict[str, Step]:
    return {name: step for name, step in steps_by_name(steps).items() if step.op != "same"}


@pytest.mark.parametrize("stack", STACKS)
def test_golden_files_are_the_plan_of_the_committed_stack(stack: str) -> None:
    """Every declared resource and rendered document, as committed for review."""
    rendered = render_documents(run_stack(stack))
    golden = read_directory(GOLDEN / stack)
    added, removed = sorted(set(rendered) - set(golden)), sorted(set(golden) - set(rendered))
    assert not added and not removed, f"documents added {added} or removed {removed}; run `{GOLDEN_COMMAND}`"
    drifted = [rel for rel, text in rendered.items() if golden[rel] != text]
    assert not drifted, f"tests/golden/{stack}/ drifted in {drifted}; run `{GOLDEN_COMMAND}`"
    assert sum(rel.startswith("resources/") for rel in rendered) == len(run_stack(stack).resources)


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_plans_no_change_against_its_golden_files(stack: str) -> None:
    steps = plan_steps(run_stack(stack), read_directory(GOLDEN / stack))
    assert changed(steps) == {}
    assert f"{len(steps)} unchanged" in "\n".join(summary_lines(steps))


@pytest.fixture(scope="module")
def production_changes() -> tuple[Run, list[Step], dict[str, str]]:
    """Production with one change of each kind a reviewer must see, planned against golden."""
    values = with_changes(
        "production",
        {
            "delivery:cluster.pools.default.autoscaler.max": 7,  # a pool's size
            "delivery:github.productionReviewers.users": ["platform-lead", "release-lead"],  # a reviewer
            "delivery:pipeline.credentials.issuedOn": "2026-11-25",  # CI credentials rotated
            "delivery:argocd.namespace": "argo",  # a Namespace's metadata
            "delivery:services.web-portal": None,  # a service removed
            "delivery:services.search-service": {},  # and one added
        },
    )
    run = run_program("production", TEST_SECRETS, values)
    return run, plan_steps(run, read_directory(GOLDEN / "production")), render_documents(run)


def test_a_pool_size_is_an_update_of_the_cluster(
    production_changes: tuple[Run, list[Step], dict[str, str]],
) -> None:
    lke = steps_by_name(production_changes[1])["production-lke"]
    assert (lke.marker, lke.changed, lke.forcing) == ("~", ["pools[0].autoscaler.max"], [])
    assert "~ pools[0].autoscaler.max: 6 => 7" in "\n".join(plan_lines(production_changes[1]))


def test_a_reviewer_is_an_update_of_the_environment_named_by_the_reviewer(
    production_changes: tuple[Run, list[Step], dict[str, str]],
) -> None:
    environment = steps_by_name(production_changes[1])["production-deployment-environment"]
    assert (environment.marker, environment.changed) == ("~", ["reviewers[0].users"])
    assert "getUser(username=release-lead)" in "\n".join(plan_lines(production_changes[1]))


def test_rotated_credentials_replace_the_tokens_and_keys(
    production_changes: tuple[Run, list[Step], dict[str, str]],
) -> None:
    steps = steps_by_name(production_changes[1])
    for name in ("production-deployment-up-token", "production-deployment-preview-token"):
        assert (steps[name].marker, steps[name].forcing) == ("+-", ["expiry"])
        assert "label" in steps[name].changed
    for name in ("production-deployment-up-state-key", "production-deployment-preview-state-key"):
        assert (steps[name].marker, steps[name].forcing) == ("+-", ["label"])


def test_a_renamed_namespace_replaces_it_and_what_lives_in_it(
    production_changes: tuple[Run, list[Step], dict[str, str]],
) -> None:
    steps = steps_by_name(production_changes[1])
    namespace = steps["production-argocd-namespace"]
    assert (namespace.marker, namespace.forcing) == ("+-", ["metadata.name"])
    assert (steps["production-argocd-release"].marker, steps["production-argocd-release"].forcing) == (
        "+-",
        ["namespace"],
    )
    assert steps["production-argocd-notifications-secret"].forcing == ["metadata.namespace"]
    assert '+- metadata.name: "argocd" => "argo"  (forces replacement)' in "\n".join(
        plan_lines(production_changes[1])
    )


def test_a_removed_service_is_a_delete_and_an_added_one_a_create(
    production_changes: tuple[Run, list[Step], dict[str, str]],
) -> None:
    steps = steps_by_name(production_changes[1])
    assert steps["production-gitops-web-portal"].marker == "-"
    assert steps["production-gitops-search-service"].marker == "+"
    lines = plan_lines(production_changes[1])
    assert any(
        line.startswith("-") and line.endswith("production-gitops-web-portal  [protect]") for line in lines
    )


def test_every_change_changes_a_golden_file(
    production_changes: tuple[Run, list[Step], dict[str, str]],
) -> None:
    rendered = production_changes[2]
    golden = read_directory(GOLDEN / "production")
    differing = {rel for rel in set(rendered) | set(golden) if rendered.get(rel) != golden.get(rel)}
    for expected in (
        "resources/production/LkeCluster-production-lke.yaml",
        "resources/production-deployment/RepositoryEnvironment-production-deployment-environment.yaml",
        "resources/production-deployment/Token-production-deployment-up-token.yaml",
        "resources/production-argocd/Namespace-production-argocd-namespace.yaml",
        "resources/production-gitops/Application-production-gitops-web-portal.yaml",
        "resources/production-gitops/Application-production-gitops-search-service.yaml",
    ):
        assert expected in differing


def test_summary_counts_each_operation_and_type(
    production_changes: tuple[Run, list[Step], dict[str, str]],
) -> None:
    steps = production_changes[1]
    summary = "\n".join(summary_lines(steps))
    ops = {op: sum(s.op == op for s in steps) for op in ("create", "update", "replace", "delete", "same")}
    assert ops["create"] == 1 and ops["delete"] == 1
    assert f"+- {ops['replace']} to replace" in summary
    assert f"~  {ops['update']} to update" in summary
    assert f"{ops['same']} unchanged" in summary
    by_type = {
        line.split()[-1]: line.split()[:-1]
        for line in summary.splitlines()[summary.splitlines().index("By type:") + 1 :]
    }
    assert by_type[TOKEN] == ["2", "+-2"]
    # Five Applications remain or are replaced, one is new, one deleted.
    assert by_type["kubernetes:argoproj.io/v1alpha1:Application"][0] == "6"
    assert "-1" in by_type["kubernetes:argoproj.io/v1alpha1:Application"]


def test_a_changed_token_scope_is_a_replacement() -> None:
    """Scopes are the program's choice, not config: an earlier base with other scopes shows it."""
    base = read_directory(GOLDEN / "staging")
    rel = "resources/staging-deployment/Token-staging-deployment-up-token.yaml"
    doc = yaml.safe_load(base[rel])
    doc["inputs"]["scopes"] = doc["inputs"]["scopes"].replace("lke:read_write", "lke:read_only")
    base[rel] = yaml.safe_dump(doc)
    token = steps_by_name(plan_steps(run_stack("staging"), base))["staging-deployment-up-token"]
    assert (token.marker, token.changed, token.forcing) == ("+-", ["scopes"], ["scopes"])


def test_full_prints_every_input(production_changes: tuple[Run, list[Step], dict[str, str]]) -> None:
    full = "\n".join(plan_lines(production_changes[1], full=True))
    assert "requiredApprovingReviewCount: 2" in full
    assert "highAvailability: true" in full
    assert "requiredApprovingReviewCount" not in "\n".join(plan_lines(production_changes[1]))


@pytest.mark.parametrize("stack", STACKS)
def test_values_known_only_after_apply_are_marked_unknown(stack: str) -> None:
    run = run_stack(stack)
    docs = {str(d["name"]): d for d in declared_documents(run)}
    assert docs[f"{stack}-k8s"]["inputs"]["clusterIdentifier"] == f"<unknown: id of {stack}-lke>"
    deploy_key = docs[f"{stack}-gitops-repository-deploy-key"]["inputs"]["key"]
    assert deploy_key.startswith("<unknown: publicKeyOpenssh")
    made_up = set(run.recorder.unknowns)
    for doc in docs.values():
        for path, leaf, _ in walk(doc["inputs"]):
            number = int(leaf) if isinstance(leaf, str) and leaf.isdigit() else leaf
            assert number not in made_up, f"{doc['name']}.{path} shows a made-up id as if it were real"
    if stack == "production":
        reviewers = docs["production-deployment-environment"]["inputs"]["reviewers"][0]
        assert reviewers["users"] == ["<unknown: id from getUser(username=platform-lead)>"]
        bucket_endpoint = MOCK_OUTPUTS["linode:index/objectStorageBucket:ObjectStorageBucket"]["s3Endpoint"]
        assert bucket_endpoint.startswith("<unknown:")


@pytest.mark.parametrize("stack", STACKS)
def test_plan_documents_mask_every_secret(stack: str) -> None:
    run = run_stack(stack)
    text = "\n".join(render_documents(run).values()) + "\n".join(plan_lines(plan_steps(run, {}), full=True))
    for value in TEST_SECRETS.values():
        assert value not in text, "a secret value reached the plan"
    secrets = [d for d in declared_documents(run) if d["type"].endswith("EnvironmentSecret")]
    assert secrets and all(d["inputs"]["value"] == "[secret]" for d in secrets)


def test_base_at_a_git_ref_reads_the_golden_files_committed_there(tmp_path: Path) -> None:
    golden = tmp_path / "tests" / "golden" / "staging"
    for rel, text in read_directory(GOLDEN / "staging").items():
        (golden / rel).parent.mkdir(parents=True, exist_ok=True)
        (golden / rel).write_text(text)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "golden")
    assert read_git("HEAD", "staging", root=tmp_path) == read_directory(GOLDEN / "staging")
    assert read_git("HEAD", "development", root=tmp_path) == {}, "a ref before a stack's golden files"
    with pytest.raises(BaseError, match="not-a-ref"):
        read_git("not-a-ref", "staging", root=tmp_path)
    described, texts = read_base(str(tmp_path / "tests" / "golden"), "staging")
    assert described.endswith("golden/staging") and texts == read_directory(GOLDEN / "staging")


def test_everything_is_a_create_against_an_empty_base() -> None:
    steps = plan_steps(run_stack("development"), {})
    assert {s.marker for s in steps} == {"+"}
    assert all(line.startswith("+") for line in plan_lines(steps))


# One change of each kind of stack input: each must change a golden file and a marker.
SINGLE_CHANGES: list[tuple[str, dict[str, object]]] = [
    ("production", {"delivery:cluster.tags": ["team:platform", "cost:inference"]}),
    ("production", {"delivery:cluster.controlPlaneAcl": ["203.0.113.0/24"]}),
    ("production", {"delivery:argocd.helmTimeoutSeconds": 600}),
    ("production", {"delivery:argocd.rbacDefaultPolicy": ""}),
    ("staging", {"delivery:gitops.targetRevision": "stable"}),
    ("production", {"delivery:gitops.clusterResources": ["Namespace", "ClusterRole"]}),
    ("production", {"delivery:services.web-portal": {"namespace": "web"}}),
    ("development", {"delivery:github.deploymentBranches": ["main", "release/*"]}),
    ("production", {"delivery:github.productionReviewers.teams": ["platform-sre", "security"]}),
    ("production", {"delivery:github.workflows.goVersion": "1.25"}),
    ("production", {"delivery:metrics.retentionDays": 30}),
    ("production", {"delivery:metrics.keyIssuedOn": "2026-12-03"}),
    ("production", {"delivery:pipeline.stateBackend.bucket": "ai-aas-pulumi-state-prod"}),
    ("development", {"delivery:pipeline.credentials.lifetimeDays": 60}),
]


# A sweep: one program run and plan per stack input (make test runs it; test-fast leaves it out).
@pytest.mark.slow
@pytest.mark.parametrize("case", SINGLE_CHANGES, ids=lambda case: next(iter(case[1])))
def test_each_stack_input_changes_a_golden_file_and_the_plan(case: tuple[str, dict[str, object]]) -> None:
    stack, change = case
    run = run_program(stack, TEST_SECRETS, with_changes(stack, dict(change)))
    golden = read_directory(GOLDEN / stack)
    rendered = render_documents(run)
    assert any(
        rendered.get(rel) != golden.get(rel)
        for rel in set(rendered) | set(golden)
        if rel.startswith("resources/")
    ), "no resource document changed"
    assert changed(plan_steps(run, golden)), "the plan shows no change"


def test_a_rename_with_an_alias_is_the_old_resource_not_a_create_and_a_delete() -> None:
    """The component `repository` renamed `governance`, with an alias to its old name: its
    children (named `<component>-<role>`) follow it under the engine's inherited aliases."""
    base = declared_documents(run_stack("production"))
    renamed = copy.deepcopy(base)
    for doc in renamed:
        if doc["name"] == "repository":
            doc["name"] = "governance"
            alias = f"urn:pulumi:production::delivery::{doc['type']}::repository"
            doc["options"] = {**(doc.get("options") or {}), "aliases": [alias]}
        elif doc.get("parent") == "repository":
            doc["parent"] = "governance"
            doc["name"] = "governance" + str(doc["name"]).removeprefix("repository")
    steps = diff(base, renamed)
    assert {s.op for s in steps} == {"same", "update"}
    moved = steps_by_name(steps)
    assert moved["governance"].changed == ["options.aliases"]
    assert moved["governance-main-ruleset"].op == "same"
    for doc in renamed:
        (doc.get("options") or {}).pop("aliases", None)
    without_alias = diff(base, renamed)
    deleted = {str(s.doc["name"]) for s in without_alias if s.op == "delete"}
    assert "repository-main-ruleset" in deleted
