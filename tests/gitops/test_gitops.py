"""The AppProject and Applications of every environment: names, sources (the service's chart
with the image the delivery workflows commit), sync policy, least privilege, dependency
order, schema validity with unknown fields rejected, and golden files."""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config.adapters import gitops_spec
from components.config.base import ConfigError
from components.config.loader import parse_namespace
from components.config.stack import StackConfig
from components.github.workflows import Settings
from components.gitops.config import GitOpsConfig
from components.gitops.gitops_manifests import (
    DEFAULT_PROJECT,
    GITOPS_REF,
    IN_CLUSTER,
    PATCH_FORCE,
    RESOURCES_FINALIZER,
    GitOpsSpec,
    ServiceApp,
    app_project,
    applications,
    default_project,
)
from components.kubernetes.helm import chart_name
from tests.support.paths import ROOT
from tests.support.scratch import bash, git
from tests.support.stacks import k8s_version, run_stack
from tests.support.types import APPLICATION, RELEASE, REPOSITORY_FILE
from tools.offline import STACKS, RecordedResource, Run, stack_file, unwrap, with_offline_pins
from tools.plan import render_documents

SCHEMAS = ROOT / "components" / "schemas" / "argoproj.io"
GOLDEN = ROOT / "tests" / "golden"
APP_PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
# A server-side-apply patch of an object that exists already (Argo CD's `default` project).
APP_PROJECT_PATCH = "kubernetes:argoproj.io/v1alpha1:AppProjectPatch"
TOP_LEVEL = {"apiVersion", "kind", "metadata", "spec"}
SYNC_OPTIONS = ["CreateNamespace=true", "PrunePropagationPolicy=foreground", "PruneLast=true"]


def stack_config(stack: str) -> StackConfig:
    doc = with_offline_pins(yaml.safe_load(stack_file(stack).read_text())["config"], stack)
    return parse_namespace(
        {k.split(":", 1)[1]: v for k, v in doc.items() if k.startswith("delivery:")}, stack
    )


@cache
def validator(kind: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / f"{kind.lower()}_v1alpha1.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def manifest_problems(
    doc: dict[str, Any], kubernetes_version: str = "1.33", check_metadata: bool = True
) -> list[str]:
    """Why an Argo CD manifest is invalid, unknown fields included (empty: valid).

    The datreeio schemas refuse unknown fields below the root but not at it, and leave
    `metadata` open, so the top-level keys are checked here and the metadata against
    Kubernetes' own ObjectMeta schema (strict) by validating it on a ConfigMap.
    """
    problems = [f"unknown top-level key {key!r}" for key in sorted(set(doc) - TOP_LEVEL)]
    if doc.get("apiVersion") != "argoproj.io/v1alpha1" or doc.get("kind") not in (
        "Application",
        "AppProject",
    ):
        return [*problems, f"not an Argo CD manifest: {doc.get('apiVersion')} {doc.get('kind')}"]
    problems += [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(doc["kind"]).iter_errors(doc)
    ]
    if not check_metadata:
        return problems
    try:
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc.get("metadata")},
            kubernetes_version,
            strict=True,
        )
    except kubernetes_validate.ValidationError as error:
        problems.append(f"metadata: {error.message}")
    return problems


def named(run: Run, type_: str) -> dict[str, RecordedResource]:
    return {r.inputs["metadata"]["name"]: r for r in run.recorder.of_type(type_)}


def sources(app_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every source of an Application spec, single-source or multi-source."""
    return list(app_spec["sources"]) if "sources" in app_spec else [app_spec["source"]]


def owner_stack() -> str:
    """The stack that commits the workflow files (all stacks name the same one)."""
    [owner] = {stack_config(stack).github.managing_stack for stack in STACKS}
    return owner


def workflow_settings() -> Settings:
    """The settings the committed workflows are built from: the managing stack's paths."""
    config = stack_config(owner_stack())
    return Settings(image_registry="ghcr.io/test", clusters_path=config.gitops.clusters_path)


# --------------------------------------------------------------------------- names and sources


def test_one_project_and_one_application_per_service_plus_infrastructure(stack_run: Run) -> None:
    env = stack_run.stack
    config = stack_config(env)
    assert list(named(stack_run, APP_PROJECT)) == [f"platform-{env}"]
    expected = {f"platform-{env}-infrastructure"} | {f"platform-{env}-{s}" for s in config.services}
    apps = named(stack_run, APPLICATION)
    assert set(apps) == expected
    assert len(apps) == len(config.services) + 1


def test_applications_deploy_the_environment_directory_and_service_charts(stack_run: Run) -> None:
    env = stack_run.stack
    config = stack_config(env)
    apps = named(stack_run, APPLICATION)
    infra = apps[f"platform-{env}-infrastructure"].plain["spec"]
    assert "sources" not in infra, "the infrastructure Application stays single-source"
    assert infra["source"]["path"] == f"{config.gitops.clusters_path}/{env}"
    assert "helm" not in infra["source"]
    # No `directory` block, so no `recurse`: the image files in `images/` below the
    # directory are Helm values, not manifests, and must stay out of it.
    assert "directory" not in infra["source"]
    for service in config.services:
        spec = apps[f"platform-{env}-{service}"].plain["spec"]
        chart = spec["sources"][0]
        assert chart["path"] == f"{config.gitops.charts_path}/{config.services[service].chart or service}"
        assert chart["helm"]["releaseName"] == service
        assert chart["helm"]["valueFiles"][0] == f"values-{env}.yaml"
        assert spec["destination"] == {"server": IN_CLUSTER, "namespace": config.service_namespace(service)}
    for app in apps.values():
        spec = app.plain["spec"]
        assert spec["project"] == f"platform-{env}", "every Application belongs to the environment's project"
        for source in sources(spec):
            assert source["repoURL"] == config.gitops_repo_url
            assert source["targetRevision"] == config.gitops.target_revision
        assert app.inputs["metadata"]["namespace"] == config.argocd.namespace


def test_service_applications_layer_the_committed_image_over_the_chart(stack_run: Run) -> None:
    """Each service reads its environment's image file, at the path the workflows write it,
    through a values-only `ref` source on the same repository and revision."""
    env = stack_run.stack
    config = stack_config(env)
    apps = named(stack_run, APPLICATION)
    for service in config.services:
        spec = apps[f"platform-{env}-{service}"].plain["spec"]
        assert "source" not in spec, service
        chart, values = spec["sources"]
        assert values == {
            "repoURL": chart["repoURL"],
            "targetRevision": chart["targetRevision"],
            "ref": GITOPS_REF,
        }, "the ref source is the chart's repository at the chart's revision, and nothing else"
        assert "ref" not in chart
        image = workflow_settings().image_file(env, service)
        assert chart["helm"]["valueFiles"] == [f"values-{env}.yaml", f"${values['ref']}/{image}"]
        # Only development syncs a service with no image file yet (its chart's default image):
        # staging and production fail the comparison rather than run an unvalidated image.
        assert chart["helm"]["ignoreMissingValueFiles"] is (env == "development")


def _script_step(workflow: dict[str, Any], job: str, *, pushing: bool = False) -> dict[str, Any]:
    steps = [s for s in workflow["jobs"][job]["steps"] if "run" in s]
    if pushing:
        steps = [s for s in steps if "PUSH_TOKEN" in (s.get("env") or {})]
    [step] = steps
    return step


@pytest.fixture(scope="module")
def files_the_workflows_write(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every file the committed delivery.yml and promote.yml write, replayed for real.

    Their scripts and environment paths come from the managing stack's RepositoryFiles:
    each deploy job commits one image per service to `main` of a scratch repository, then
    promote.yml moves the release branch to that revision with staging's images as production's.
    """
    committed = {
        Path(str(res.plain["file"])).name: yaml.safe_load(str(res.plain["content"]))
        for res in run_stack(owner_stack()).resources
        if res.type == REPOSITORY_FILE and str(res.plain["file"]).startswith(".github/workflows/")
    }
    root = tmp_path_factory.mktemp("gitops")
    bare, work, records, shim = root / "origin.git", root / "work", root / "records", root / "bin"
    git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(root, "clone", "--quiet", str(bare), str(work))
    (work / "README").write_text("x\n")
    git(work, "add", ".")
    git(work, "commit", "--quiet", "-m", "seed")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    records.mkdir()
    for service in {s for stack in STACKS for s in stack_config(stack).services}:
        record = {
            "service": service,
            "repository": f"ghcr.io/t/{service}",
            "tag": "1" * 40,
            "digest": "sha256:" + "a" * 64,
        }
        (records / f"{service}.json").write_text(json.dumps(record))
    shim.mkdir()
    (shim / "gh").write_text("#!/bin/sh\nexit 0\n")
    (shim / "gh").chmod(0o755)
    # Only what GitHub would fill in is replaced; TARGET_DIR and SOURCE_DIR stay as committed.
    github = {
        "SERVER": "https://github.com",
        "PUSH_TOKEN": "t",
        "GH_TOKEN": "t",
        "PATH": f"{shim}:{os.environ['PATH']}",
    }
    delivery = committed["delivery.yml"]
    deploys = [job for job in delivery["jobs"] if job.startswith("deploy-")]
    assert deploys
    for job in deploys:
        step = _script_step(delivery, job)
        done = bash(step["run"], work, {**step["env"], **github, "IMAGES_DIR": str(records)})
        assert done.returncode == 0, done.stdout + done.stderr
    step = _script_step(committed["promote.yml"], "promote", pushing=True)
    branch = step["env"]["RELEASE_BRANCH"]
    git(work, "pull", "--quiet", "origin", "main")
    # What promote.yml's `validated` job hands over: the revision staging validated.
    validated = {"REVISION": git(work, "rev-parse", "HEAD"), "RUN": "1", "RUNNER_TEMP": str(root)}
    outputs = root / "promote-outputs"
    runner = {"GITHUB_STEP_SUMMARY": "/dev/null", "GITHUB_OUTPUT": str(outputs)}
    done = bash(step["run"], work, {**step["env"], **github, **validated, **runner})
    assert done.returncode == 0, done.stdout + done.stderr
    # What the events job records the promotion from: the release commit it pushed.
    handed = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert handed["release"] == git(bare, "rev-parse", branch)
    return {
        path for ref in ("main", branch) for path in git(bare, "ls-tree", "-r", "--name-only", ref).split()
    }


def test_service_applications_read_the_files_the_workflows_write(
    stack_run: Run, files_the_workflows_write: set[str]
) -> None:
    env = stack_run.stack
    for name, app in named(stack_run, APPLICATION).items():
        if name.endswith("-infrastructure"):
            continue
        chart, values = app.plain["spec"]["sources"]
        read = [f for f in chart["helm"]["valueFiles"] if f.startswith(f"${values['ref']}/")]
        assert len(read) == 1, name
        assert read[0].removeprefix(f"${values['ref']}/") in files_the_workflows_write, (
            f"{name} reads {read[0]}, which no workflow writes for {env}"
        )


# --------------------------------------------------------------------------- sync policy


def test_automated_sync_exactly_in_development_and_staging(runs: dict[str, Run]) -> None:
    automated = {
        stack: {"automated" in app.plain["spec"]["syncPolicy"] for app in named(run, APPLICATION).values()}
        for stack, run in runs.items()
    }
    assert automated == {"development": {True}, "staging": {True}, "production": {False}}
    for stack in ("development", "staging"):
        for app in named(runs[stack], APPLICATION).values():
            assert app.plain["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_retry_sync_options_and_finalizer_on_every_application(stack_run: Run) -> None:
    for name, app in named(stack_run, APPLICATION).items():
        policy = app.plain["spec"]["syncPolicy"]
        assert policy["syncOptions"] == SYNC_OPTIONS, name
        retry = policy["retry"]
        assert retry["limit"] >= 1 and retry["backoff"]["factor"] > 1, name
        assert retry["backoff"]["duration"] and retry["backoff"]["maxDuration"], name
        assert app.inputs["metadata"]["finalizers"] == [RESOURCES_FINALIZER], name


# --------------------------------------------------------------------------- least privilege


def test_project_allows_only_the_repository_this_cluster_and_the_platform_namespaces(stack_run: Run) -> None:
    env = stack_run.stack
    config = stack_config(env)
    [project] = named(stack_run, APP_PROJECT).values()
    spec = project.plain["spec"]
    assert spec["sourceRepos"] == [config.gitops_repo_url]
    platform = {f"platform-{env}"} | {config.service_namespace(s) for s in config.services}
    assert {d["server"] for d in spec["destinations"]} == {IN_CLUSTER}
    assert {d["namespace"] for d in spec["destinations"]} == platform
    assert set().union(*(d.keys() for d in spec["destinations"])) == {"server", "namespace"}
    forbidden = {config.argocd.namespace, config.argocd.rollouts.namespace, "kube-system", "default"}
    assert not forbidden & {d["namespace"] for d in spec["destinations"]}
    assert spec["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    assert "*" not in json.dumps(spec), "no wildcards in the project"
    assert set(spec) == {"description", "sourceRepos", "destinations", "clusterResourceWhitelist"}
    assert project.inputs["metadata"]["finalizers"] == [RESOURCES_FINALIZER]


def test_every_application_destination_is_one_the_project_allows(stack_run: Run) -> None:
    [project] = named(stack_run, APP_PROJECT).values()
    allowed = [d for d in project.plain["spec"]["destinations"]]
    for name, app in named(stack_run, APPLICATION).items():
        assert app.plain["spec"]["destination"] in allowed, name


def test_repository_credentials_are_scoped_to_the_project(stack_run: Run) -> None:
    [secret] = [
        r
        for r in stack_run.recorder.of_type("kubernetes:core/v1:Secret")
        if r.inputs["metadata"].get("labels", {}).get("argocd.argoproj.io/secret-type") == "repository"
    ]
    [project] = named(stack_run, APP_PROJECT)
    assert secret.plain["stringData"]["project"] == project
    assert (
        secret.plain["stringData"]["url"]
        in named(stack_run, APP_PROJECT)[project].plain["spec"]["sourceRepos"]
    )


def allowed_by(project: dict[str, Any], app: dict[str, Any]) -> bool:
    """Whether Argo CD would let `app` deploy through `project` (exact entries or `*`, as the
    projects here hold; namespaced kinds need no whitelist unless a blacklist denies them)."""

    def matches(pattern: str, value: str) -> bool:
        return pattern in ("*", value)

    spec = project["spec"]
    repos_ok = all(
        any(matches(repo, s["repoURL"]) for repo in spec.get("sourceRepos", [])) for s in sources(app["spec"])
    )
    destination = app["spec"]["destination"]
    destination_ok = any(
        matches(d.get("server", ""), destination["server"])
        and matches(d["namespace"], destination["namespace"])
        for d in spec.get("destinations", [])
    )
    denies_all = {"group": "*", "kind": "*"} in spec.get("namespaceResourceBlacklist", [])
    return repos_ok and destination_ok and not denies_all


def test_argo_cds_default_project_is_emptied_so_no_application_can_use_it(stack_run: Run) -> None:
    """Argo CD creates `default` allowing every repository, destination and kind; the program
    takes it over (a server-side-apply patch, forced over argocd-server's fields) and empties it."""
    config = stack_config(stack_run.stack)
    [patch] = stack_run.recorder.of_type(APP_PROJECT_PATCH)
    doc = unwrap(patch.inputs)
    meta = doc["metadata"]
    assert (meta["name"], meta["namespace"]) == (DEFAULT_PROJECT, config.argocd.namespace)
    assert meta["annotations"] == {PATCH_FORCE: "true"}, "argocd-server owns the fields it wrote"
    spec = doc["spec"]
    for allow_list in ("sourceRepos", "sourceNamespaces", "destinations", "clusterResourceWhitelist"):
        assert spec[allow_list] == [], f"{allow_list} must be declared empty, not left to Argo CD's default"
    assert spec["namespaceResourceBlacklist"] == [{"group": "*", "kind": "*"}]
    assert manifest_problems(doc) == []
    [argocd] = [
        r.name for r in stack_run.recorder.of_type(RELEASE) if chart_name(r.inputs["chart"]) == "argo-cd"
    ]
    assert argocd in patch.depends_on, "argocd-server creates the project the patch applies to"
    # Not one of the environment's Applications could deploy through it, and each can through its own.
    [project] = named(stack_run, APP_PROJECT).values()
    for name, app in named(stack_run, APPLICATION).items():
        assert not allowed_by(doc, unwrap(app.inputs)), name
        assert allowed_by(unwrap(project.inputs), unwrap(app.inputs)), name


def test_argo_cds_original_default_project_would_have_allowed_them() -> None:
    """The check above can fail: Argo CD's own `default` lets every Application through."""
    spec = gitops_spec(stack_config("production"))
    original = {
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
        }
    }
    assert all(allowed_by(original, app) for app in applications(spec).values())
    assert not any(allowed_by(default_project("argocd"), app) for app in applications(spec).values())


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"services": {"api": {"namespace": "argocd"}}}, "services.api.namespace"),
        ({"services": {"api": {"namespace": "kube-system"}}}, "services.api.namespace"),
        ({"services": {"api": {"namespace": "argo-rollouts"}}}, "services.api.namespace"),
        ({"services": {"infrastructure": {}}}, "services.infrastructure"),
        ({"argocd": {"namespace": "platform-staging"}}, "argocd.namespace"),
        (
            {"gitops": {"clusterResources": ["rbac.authorization.k8s.io/ClusterRole"]}},
            "gitops.clusterResources",
        ),
        ({"gitops": {"clusterResources": ["*"]}}, "gitops.clusterResources[0]"),
    ],
)
def test_config_keeps_applications_out_of_argo_cds_reach(change: dict[str, Any], path: str) -> None:
    doc = with_offline_pins(yaml.safe_load(stack_file("staging").read_text())["config"], "staging")
    values = {k.split(":", 1)[1]: v for k, v in doc.items() if k.startswith("delivery:")}
    values.update(change)
    with pytest.raises(ConfigError) as caught:
        parse_namespace(values, "staging")
    assert path in {p.path for p in caught.value.problems}, str(caught.value)


def test_extra_cluster_kinds_reach_the_project_whitelist() -> None:
    config = stack_config("staging")
    gitops = GitOpsConfig(
        cluster_resources=["Namespace", "rbac.authorization.k8s.io/ClusterRole", "Namespace"]
    )
    spec = gitops_spec(config).model_copy(update={"gitops": gitops})
    assert app_project(spec)["spec"]["clusterResourceWhitelist"] == [
        {"group": "", "kind": "Namespace"},
        {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"},
    ]


# --------------------------------------------------------------------------- dependency order


def test_applications_depend_on_argo_cd_so_destroy_deletes_them_first(stack_run: Run) -> None:
    config = stack_config(stack_run.stack)
    releases = {chart_name(r.inputs["chart"]): r.name for r in stack_run.recorder.of_type(RELEASE)}
    [project] = named(stack_run, APP_PROJECT).values()
    [repo_secret] = [
        r.name
        for r in stack_run.recorder.of_type("kubernetes:core/v1:Secret")
        if r.inputs["metadata"].get("labels", {}).get("argocd.argoproj.io/secret-type") == "repository"
    ]
    needed = {releases["argo-cd"], repo_secret}
    if config.rollouts_enabled:
        needed.add(releases["argo-rollouts"])
    else:
        assert "argo-rollouts" not in releases
    assert needed <= set(project.depends_on)
    for name, app in named(stack_run, APPLICATION).items():
        # Pulumi deletes dependents before their dependencies: these edges make destroy remove
        # the Applications (finalizers processed by a running Argo CD) before the release.
        assert needed | {project.name} <= set(app.depends_on), name
    apps = {a.name for a in named(stack_run, APPLICATION).values()}
    for release in stack_run.recorder.of_type(RELEASE):
        assert not apps & set(release.depends_on), "no cycle: the release must not wait for Applications"


def test_production_applications_and_argocd_namespace_are_protected(runs: dict[str, Run]) -> None:
    for stack, run in runs.items():
        production = stack == "production"
        for name, app in named(run, APPLICATION).items():
            assert app.protect is production, name
        [argocd_ns] = [
            r
            for r in run.recorder.of_type("kubernetes:core/v1:Namespace")
            if r.name.endswith("-argocd-namespace")
        ]
        assert argocd_ns.protect is production


# --------------------------------------------------------------------------- schema validation


def test_every_argo_cd_manifest_is_schema_valid_with_unknown_fields_rejected(stack_run: Run) -> None:
    documents = [*named(stack_run, APP_PROJECT).values(), *named(stack_run, APPLICATION).values()]
    assert len(documents) >= 2
    for res in documents:
        assert manifest_problems(res.plain, k8s_version(stack_run)) == [], res.name


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(specs={}), "unknown top-level key 'specs'"),
        (lambda d: d["spec"].update(syncPolcy={}), "syncPolcy"),
        (lambda d: d["spec"]["syncPolicy"]["automated"].update(selfheal=True), "selfheal"),
        (lambda d: d["spec"]["source"].pop("repoURL"), "repoURL"),
        (lambda d: d["spec"]["syncPolicy"]["retry"].update(limit="five"), "five"),
        (lambda d: d["metadata"].update(finalizer=[RESOURCES_FINALIZER]), "finalizer"),
        (lambda d: d.update(kind="Aplication"), "not an Argo CD manifest"),
    ],
)
def test_schema_check_rejects_typos(mutate: Any, expected: str) -> None:
    doc = copy.deepcopy(applications(gitops_spec(stack_config("staging")))["infrastructure"])
    assert manifest_problems(doc) == []
    mutate(doc)
    problems = manifest_problems(doc)
    assert any(expected in p for p in problems), problems


def test_project_schema_check_rejects_typos() -> None:
    doc = app_project(gitops_spec(stack_config("staging")))
    assert manifest_problems(doc) == []
    doc["spec"]["sourceRepo"] = doc["spec"].pop("sourceRepos")
    assert any("sourceRepo" in p for p in manifest_problems(doc))


def test_core_objects_are_valid_kubernetes_objects(stack_run: Run) -> None:
    core = [
        r
        for r in stack_run.resources
        if r.type in ("kubernetes:core/v1:Namespace", "kubernetes:core/v1:Secret")
    ]
    assert core
    for res in core:
        kubernetes_validate.validate(unwrap(res.inputs), k8s_version(stack_run), strict=True)


_NAMES = st.from_regex(r"\A[a-z][a-z0-9-]{0,20}[a-z0-9]\Z").filter(
    lambda s: "--" not in s and s != "infrastructure"
)


# Data generation time is no property of the program: a busy machine must not fail the test.
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    env=st.sampled_from(STACKS),
    services=st.dictionaries(
        _NAMES, st.tuples(st.one_of(st.none(), _NAMES), st.one_of(st.none(), _NAMES)), min_size=1, max_size=6
    ),
)
def test_any_service_set_yields_valid_least_privilege_manifests(
    env: Any, services: dict[str, tuple[str | None, str | None]]
) -> None:
    spec = GitOpsSpec(
        environment=env,
        argocd_namespace="argocd",
        repo_url="git@github.com:example/repo.git",
        gitops=GitOpsConfig(),
        services={
            name: ServiceApp(namespace=ns or f"platform-{env}", chart=chart or name)
            for name, (ns, chart) in services.items()
        },
        automated_sync=env != "production",
        tolerate_missing_image=env == "development",
        image_pull_secret="ghcr-pull",
        platform={"strategy": "canary"},
    )
    project = app_project(spec)
    # Metadata is checked (slowly, ~10 ms each) on the committed stacks' manifests above.
    assert manifest_problems(project, check_metadata=False) == []
    apps = applications(spec)
    names = [a["metadata"]["name"] for a in apps.values()]
    assert len(set(names)) == len(services) + 1
    allowed = project["spec"]["destinations"]
    for app in apps.values():
        assert manifest_problems(app, check_metadata=False) == []
        assert app["spec"]["destination"] in allowed
        assert app["spec"]["project"] == project["metadata"]["name"]
        assert {s["repoURL"] for s in sources(app["spec"])} <= set(project["spec"]["sourceRepos"])
    assert len(allowed) == len({d["namespace"] for d in allowed}), "destinations are a set"


# --------------------------------------------------------------------------- golden files


def test_argocd_manifests_and_helm_values_match_the_golden_files(stack_run: Run) -> None:
    """Rewrite with `make golden`."""
    rendered = {
        rel: text
        for rel, text in render_documents(stack_run).items()
        if rel.startswith(("argocd/", "helm/", "monitoring/", "admission/", "network/"))
    }
    base = GOLDEN / stack_run.stack
    golden = {
        str(path.relative_to(base)): path.read_text()
        for kind in ("argocd", "helm", "monitoring", "admission", "network")
        for path in sorted((base / kind).glob("*.yaml"))
    }
    assert sorted(rendered) == sorted(golden), "documents added or removed; run `make golden`"
    for rel, text in rendered.items():
        assert text == golden[rel], (
            f"{rel} drifted from tests/golden/{stack_run.stack}/{rel}; run `make golden`"
        )
