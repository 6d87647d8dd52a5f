"""The local Helm repository of tools/charts.py: it holds every chart the program installs,
each archive is the chart the list names (its digest in index.yaml, its Chart.yaml inside),
and it serves them from 127.0.0.1 the way a Helm client reads a repository
(https://helm.sh/docs/topics/chart_repository/: index.yaml, then each entry's URL relative
to the repository)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml

from components.kubernetes.helm import chart_name
from tests.support.stacks import run_stack
from tools import charts
from tools.charts import cache_dir, listed, serve
from tools.offline import STACKS

RELEASE = "kubernetes:helm.sh/v3:Release"
ABSENT = "local chart repository absent: run `make charts` (needs Go); the chart archives were NOT checked"


@pytest.fixture(scope="module")
def repository() -> Path:
    directory = cache_dir()
    if not (directory / "index.yaml").is_file():
        pytest.skip(f"{ABSENT} ({directory})")
    return directory


# Charts the program installs that the local repository does not hold; the local shapes switch
# them off (tools/local_up.py, docs/local-cluster.md): the Go module proxy here refuses
# opentelemetry-helm-charts (403).
NOT_MIRRORED = {"opentelemetry-collector"}


def test_the_list_covers_every_chart_the_program_installs() -> None:
    names = {c["name"] for c in listed()}
    for stack in STACKS:
        for release in run_stack(stack).recorder.of_type(RELEASE):
            plain = release.plain
            name = chart_name(plain["chart"])
            if name in NOT_MIRRORED:
                continue
            assert name in names, (stack, name)
            [chart] = [c for c in listed() if c["name"] == name]
            # The list names the version the program pins, or says which it stands in for.
            assert plain["version"] == chart.get("pinned", chart["version"]), (stack, name)
            # Upstream, the program installs the chart from its OCI registry (test_chart_images.py).
            assert plain["chart"].startswith(f"{chart['upstream']}/{name}"), (stack, plain["chart"])


def test_every_stand_in_and_dropped_subchart_says_why() -> None:
    for chart in listed():
        for sub, why in chart.get("drop", {}).items():
            assert len(why) > 40, (chart["name"], sub)


def test_the_repository_serves_each_listed_chart_from_127_0_0_1(repository: Path) -> None:
    with serve(repository) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "index.yaml", timeout=30) as answer:
            index = yaml.safe_load(answer.read())
        assert index["apiVersion"] == "v1"
        for chart in listed():
            [entry] = index["entries"][chart["name"]]
            assert entry["version"] == chart["version"]
            with urllib.request.urlopen(url + entry["urls"][0], timeout=30) as answer:
                archive = answer.read()
            assert hashlib.sha256(archive).hexdigest() == entry["digest"]
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                names = tar.getnames()
                extracted = tar.extractfile(f"{chart['name']}/Chart.yaml")
                assert extracted is not None
                metadata = yaml.safe_load(extracted.read())
            assert (metadata["name"], str(metadata["version"])) == (chart["name"], chart["version"])
            assert all(n.startswith(f"{chart['name']}/") for n in names)
            # Helm refuses a chart whose Chart.yaml dependencies are not all under charts/.
            for dependency in metadata.get("dependencies") or []:
                assert f"{chart['name']}/charts/{dependency['name']}/Chart.yaml" in names, dependency["name"]
            for dropped in chart.get("drop", {}):
                assert dropped not in {d["name"] for d in metadata.get("dependencies") or []}


def _archive(directory: Path, name: str, version: str) -> dict[str, bytes]:
    with tarfile.open(directory / f"{name}-{version}.tgz", mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_cert_manager_is_packaged_as_its_release_makes_it(repository: Path) -> None:
    [chart] = [c for c in listed() if c["name"] == "cert-manager"]
    files = _archive(repository, "cert-manager", chart["version"])
    metadata = yaml.safe_load(files["cert-manager/Chart.yaml"])
    # make/manifests.mk: version and appVersion are the tag (the images default to appVersion).
    assert metadata["version"] == metadata["appVersion"] == chart["moduleVersion"] == "v1.21.2"
    assert metadata["annotations"]["artifacthub.io/prerelease"] == "false"
    # The CRDs ship as templates of the chart (crds.enabled), as in the released chart.
    crds = {n for n in files if n.startswith("cert-manager/templates/crd-")}
    assert len(crds) == 6, sorted(crds)
    assert "cert-manager/README.md" in files and b"{{RELEASE_VERSION}}" not in files["cert-manager/README.md"]
    assert not [n for n in files if n.startswith("cert-manager/tests/")]


def test_grafana_stands_in_under_the_version_it_holds(repository: Path) -> None:
    [chart] = [c for c in listed() if c["name"] == "kube-prometheus-stack"]
    [grafana] = [s for s in chart["subcharts"] if s["name"] == "grafana"]
    files = _archive(repository, chart["name"], chart["version"])
    held = yaml.safe_load(files["kube-prometheus-stack/charts/grafana/Chart.yaml"])["version"]
    [dependency] = [
        d
        for d in yaml.safe_load(files["kube-prometheus-stack/Chart.yaml"])["dependencies"]
        if d["name"] == "grafana"
    ]
    assert dependency["version"] == held != grafana["standsInFor"]
    assert "kube-prometheus-stack/Chart.lock" not in files


def _module(tmp_path: Path, module: str, version: str, files: dict[str, str]) -> Path:
    """A module zip as the Go module proxy serves one: every name under `<module>@<version>/`."""
    path = tmp_path / f"{module.replace('/', '_')}@{version}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{module}@{version}/{name}", text)
    return path


def _packaged_files(archive: Path) -> dict[str, str]:
    with tarfile.open(archive, mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}  # type: ignore[union-attr]


RELEASED = {
    "name": "tool",
    "version": "v1.2.3",
    "module": "example.com/tool",
    "moduleVersion": "v1.2.3",
    "path": "deploy/chart",
    "release": {
        "placeholder": "v0.0.0",
        "files": ["Chart.yaml", "values.yaml", "templates/*.yaml"],
        "readme": {"from": "README.template.md", "marker": "{{RELEASE_VERSION}}"},
        "signKeyAnnotation": "signkey.txt",
    },
}


def test_a_released_chart_gets_the_tag_and_only_the_files_its_release_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _module(
        tmp_path,
        "example.com/tool",
        "v1.2.3",
        {
            "deploy/chart/Chart.yaml": "apiVersion: v2\nname: tool\nversion: v0.0.0\nappVersion: v0.0.0\n",
            "deploy/chart/values.yaml": "a: 1\n",
            "deploy/chart/templates/crd-things.yaml": "kind: CustomResourceDefinition\n",
            "deploy/chart/tests/unit.yaml": "test: true\n",
            "deploy/chart/README.template.md": "helm install --version {{RELEASE_VERSION}}\n",
            "deploy/chart/signkey.txt": "fingerprint: ABC\n",
        },
    )
    monkeypatch.setattr(charts, "module_zip", lambda module, version: source)
    packaged = charts.package(RELEASED, tmp_path / "out")
    files = _packaged_files(packaged.archive)
    assert sorted(files) == [
        "tool/Chart.yaml",
        "tool/README.md",
        "tool/templates/crd-things.yaml",
        "tool/values.yaml",
    ]
    metadata = yaml.safe_load(files["tool/Chart.yaml"])
    assert (metadata["version"], metadata["appVersion"]) == ("v1.2.3", "v1.2.3")
    assert metadata["annotations"] == {
        "artifacthub.io/signKey": "fingerprint: ABC\n",
        "artifacthub.io/prerelease": "false",
    }
    assert files["tool/README.md"] == "helm install --version v1.2.3\n"
    # A chart whose Chart.yaml is not the placeholder the release fills is refused.
    already = _module(
        tmp_path,
        "example.com/tool",
        "v1.2.4",
        {"deploy/chart/Chart.yaml": "apiVersion: v2\nname: tool\nversion: v1.2.2\nappVersion: v1.2.2\n"},
    )
    monkeypatch.setattr(charts, "module_zip", lambda module, version: already)
    with pytest.raises(charts.ChartError, match=r"not the placeholder v0\.0\.0"):
        charts.package(RELEASED, tmp_path / "out")


def test_a_stand_in_subchart_is_named_by_the_version_it_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = _module(
        tmp_path,
        "example.com/charts",
        "v0.0.1",
        {
            "charts/stack/Chart.yaml": (
                "apiVersion: v2\nname: stack\nversion: 1.0.0\n"
                "dependencies:\n- name: ui\n  version: 12.0.0\n  repository: https://example.com\n"
            ),
            "charts/stack/Chart.lock": "dependencies: []\n",
        },
    )
    other = _module(
        tmp_path,
        "example.com/ui-charts",
        "v0.0.2",
        {"charts/ui/Chart.yaml": "apiVersion: v2\nname: ui\nversion: 13.0.1\n"},
    )
    monkeypatch.setattr(charts, "module_zip", lambda module, version: other if "ui" in module else parent)
    sub = {
        "name": "ui",
        "path": "charts/ui",
        "module": "example.com/ui-charts",
        "moduleVersion": "v0.0.2",
        "standsInFor": "12.0.0",
        "why": "test",
    }
    chart = {
        "name": "stack",
        "version": "1.0.0",
        "module": "example.com/charts",
        "moduleVersion": "v0.0.1",
        "path": "charts/stack",
        "subcharts": [sub],
    }
    files = _packaged_files(charts.package(chart, tmp_path / "out").archive)
    [dependency] = yaml.safe_load(files["stack/Chart.yaml"])["dependencies"]
    assert dependency["version"] == "13.0.1"
    assert "stack/charts/ui/Chart.yaml" in files and "stack/Chart.lock" not in files
    # A stand-in for another version than the parent requires is refused.
    with pytest.raises(charts.ChartError, match=r"stand-in replaces 11\.0\.0"):
        charts.package({**chart, "subcharts": [{**sub, "standsInFor": "11.0.0"}]}, tmp_path / "out")


def test_a_chart_is_packaged_without_what_its_helmignore_names() -> None:
    """As `helm package` loads a chart directory (helm.sh/helm/v3/pkg/ignore): a rule without `/`
    matches base names at any depth, a trailing `/` whole directories, a rule with `/` the path
    from the root; dot files in templates/ never go in. Traefik's chart relies on it: its
    .helmignore keeps crds/kustomization.yaml, which Helm would try to create, out of the archive."""
    files = {
        ".helmignore": b"# comment\n\ntests/\ncrds/kustomization.yaml\n*.swp\n/*.tgz\n",
        "Chart.yaml": b"name: x\n",
        "crds/kustomization.yaml": b"",
        "crds/a.yaml": b"",
        "tests/t.yaml": b"",
        "templates/tests/keep.yaml": b"",
        "templates/x.yaml.swp": b"",
        "templates/.hidden": b"",
        "old.tgz": b"",
        "charts/sub/old.tgz": b"",
    }
    kept = charts._without_helmignored(files, "x")
    assert sorted(kept) == [
        ".helmignore",
        "Chart.yaml",
        "charts/sub/old.tgz",
        "crds/a.yaml",
    ]


def test_a_helmignore_rule_this_packager_cannot_follow_is_refused() -> None:
    with pytest.raises(charts.ChartError, match="not supported"):
        charts._without_helmignored({".helmignore": b"!keep.yaml\n"}, "x")


def test_traefik_s_archive_leaves_its_kustomization_and_tests_out(repository: Path) -> None:
    with tarfile.open(repository / "traefik-41.6.0.tgz") as tar:
        names = tar.getnames()
    assert "traefik/crds/kustomization.yaml" not in names
    assert not [n for n in names if n.startswith("traefik/tests/")]
    assert "traefik/crds/traefik.io_ingressroutes.yaml" in names
