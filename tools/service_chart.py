"""Render every service's chart for every committed stack with the real Helm, as Argo CD
would: the service chart over the library chart `charts/delivery-service`, the
environment's values file, the image file, then the Application's `valuesObject`.

    python -m tools.service_chart --update-golden     rewrite tests/golden/charts/<stack>/<service>.yaml
    python -m tools.service_chart scaffold <service> <dir> [--program-path P] [--charts-path C]
                                                       write a service chart over the library

Helm is the binary `make helm` builds (helm.sh/helm/v3, pinned in tools/helm/go.mod).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.config.adapters import gitops_spec
from components.config.loader import parse_namespace
from components.config.stack import StackConfig
from components.gitops.gitops_manifests import service_application
from components.gitops.service_chart import LIBRARY_DIR, library_reference, service_chart_files
from tools.offline import read_stack_file, stack_file, with_offline_pins
from tools.toolcache import cached_tool

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "charts"
STACKS = ("development", "staging", "production")
HELM = "helm"

# The example services' own values in the golden renders: the services reached from outside
# get an Ingress (a host per environment under the example domain); the rest keep defaults.
EXAMPLE_HOSTS = {"api-router-service": "api", "web-portal": "app"}
EXAMPLE_DOMAIN = "ai-aas.example"


def helm_binary() -> Path | None:
    """The Helm built by `make helm`, or None."""
    return cached_tool(HELM)


def stack_config(stack: str) -> StackConfig:
    doc = with_offline_pins(read_stack_file(stack_file(stack))["config"], stack)
    return parse_namespace(
        {k.split(":", 1)[1]: v for k, v in doc.items() if k.startswith("delivery:")}, stack
    )


def example_image(config: StackConfig, service: str) -> dict[str, Any]:
    """An image file as delivery.yml writes it (gitops_layout's contract), digest made up."""
    repository = f"{config.github.workflows.registry_for(config.github.owner)}/{service}"
    digest = "sha256:" + hashlib.sha256(service.encode()).hexdigest()
    commit = hashlib.sha1(service.encode()).hexdigest()
    return {
        "image": {
            "repository": repository,
            "tag": f"{commit}@{digest}",
            "digest": digest,
            "reference": f"{repository}@{digest}",
        }
    }


def example_values(environment: str, service: str) -> dict[str, Any]:
    """values-<env>.yaml of an example service."""
    prefix = EXAMPLE_HOSTS.get(service)
    if prefix is None:
        return {}
    host = (
        f"{prefix}.{EXAMPLE_DOMAIN}"
        if environment == "production"
        else f"{prefix}.{environment}.{EXAMPLE_DOMAIN}"
    )
    return {"ingress": {"enabled": True, "host": host}}


@dataclass(frozen=True)
class ChartInputs:
    """Everything Argo CD renders one service's Application from."""

    environment: str
    service: str
    namespace: str
    kubernetes_version: str
    chart_dir: str
    program_path: str
    values_files: tuple[tuple[str, dict[str, Any]], ...]
    values_object: dict[str, Any]


def inputs(config: StackConfig, service: str) -> ChartInputs:
    spec = gitops_spec(config)
    app = service_application(spec, service)
    [chart_source] = [s for s in app["spec"]["sources"] if "path" in s]
    helm = chart_source["helm"]
    env = config.environment
    return ChartInputs(
        environment=env,
        service=service,
        namespace=spec.services[service].namespace,
        kubernetes_version=config.cluster.kubernetes_version,
        chart_dir=chart_source["path"],
        program_path=config.github.workflows.pulumi_path,
        values_files=(
            (helm["valueFiles"][0], example_values(env, service)),
            ("image.yaml", example_image(config, service)),
        ),
        values_object=helm["valuesObject"],
    )


def _run(helm: Path, *args: str, home: Path) -> str:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    done = subprocess.run(
        [str(helm), *args], capture_output=True, text=True, env=env, check=False, timeout=120
    )
    if done.returncode != 0:
        raise RenderError(f"helm {' '.join(args[:2])} failed:\n{done.stderr}")
    return done.stdout


class RenderError(RuntimeError):
    """Helm refused the chart or its values (the message is Helm's)."""


def render(helm: Path, chart: ChartInputs, workdir: Path, *, override: dict[str, Any] | None = None) -> str:
    """`helm template` of the service's chart laid out as in the GitOps repository."""
    repo = workdir / "repo"
    library = repo / chart.program_path / LIBRARY_DIR
    shutil.copytree(ROOT / LIBRARY_DIR, library)
    chart_dir = repo / chart.chart_dir
    charts_path, chart_name = chart.chart_dir.rsplit("/", 1)
    files = service_chart_files(
        chart.service, library=library_reference(charts_path, chart_name, chart.program_path)
    )
    for name, text in files.items():
        (chart_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (chart_dir / name).write_text(text)
    value_args: list[str] = []
    for name, values in (*chart.values_files, ("values-object.yaml", chart.values_object)):
        path = workdir / "values" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(values))
        value_args += ["--values", str(path)]
    if override:
        path = workdir / "values" / "override.yaml"
        path.write_text(yaml.safe_dump(override))
        value_args += ["--values", str(path)]
    home = workdir / "helm-home"
    # Argo CD runs `helm dependency build` on a chart with dependencies before rendering it.
    _run(helm, "dependency", "build", str(chart_dir), home=home)
    return _run(
        helm,
        "template",
        chart.service,
        str(chart_dir),
        "--namespace",
        chart.namespace,
        "--kube-version",
        chart.kubernetes_version,
        *value_args,
        home=home,
    )


def render_all(helm: Path) -> dict[tuple[str, str], str]:
    """(stack, service) -> the rendered manifests, for every committed stack."""
    out: dict[tuple[str, str], str] = {}
    for stack in STACKS:
        config = stack_config(stack)
        for service in sorted(config.services):
            with tempfile.TemporaryDirectory() as tmp:
                out[(stack, service)] = render(helm, inputs(config, service), Path(tmp))
    return out


def golden_path(stack: str, service: str) -> Path:
    return GOLDEN / stack / f"{service}.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("golden", help="rewrite tests/golden/charts")
    scaffold = sub.add_parser("scaffold", help="write a service chart over the library")
    scaffold.add_argument("service")
    scaffold.add_argument("directory", type=Path)
    scaffold.add_argument("--program-path", default="infra/pulumi")
    scaffold.add_argument("--charts-path", default="infra/helm/charts")
    parser.add_argument("--update-golden", action="store_true", help="same as the golden command")
    args = parser.parse_args(argv)
    if args.command == "scaffold":
        library = library_reference(args.charts_path, args.service, args.program_path)
        for name, text in service_chart_files(args.service, library=library).items():
            path = args.directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
        return 0
    if args.command == "golden" or args.update_golden:
        helm = helm_binary()
        if helm is None:
            print("helm absent: build it with `make helm` (needs Go)", file=sys.stderr)
            return 1
        for (stack, service), text in render_all(helm).items():
            path = golden_path(stack, service)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
