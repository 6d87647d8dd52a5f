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
from pathlib import Path

import pytest
import yaml

from components.kubernetes.helm import chart_name
from tests.support.stacks import run_stack
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
# them off (tools/local_up.py, docs/local-cluster.md): cert-manager's chart is generated at its
# release, not kept in its repository, and the other two were not taken through the proxy yet.
NOT_MIRRORED = {"traefik", "cert-manager", "opentelemetry-collector"}


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
