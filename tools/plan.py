"""Offline plan: run the program for a stack with no credentials and no Pulumi CLI.

Prints every declared resource as a tree by parent (type, name, the inputs that matter,
secrets masked) and writes every rendered document (workflow files, Argo CD manifests,
Helm values) under ``build/<stack>/``. ``--update-golden`` also rewrites the committed
golden copies under ``tests/golden/<stack>/`` that reviewers read in a PR diff.

    python -m tools.plan staging
    python -m tools.plan --update-golden development staging production
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from components.config import ConfigError
from components.gitops.analysis import STRATEGIES, example_rollout
from tools.offline import (
    ROOT,
    STACKS,
    EngineConfigError,
    RecordedResource,
    Run,
    declared_secrets,
    mask,
    run_program,
)

BUILD = ROOT / "build"
GOLDEN = ROOT / "tests" / "golden"

# Offline runs need values for the declared secrets; these placeholders never leave the
# process and are masked in every printed or written document.
PLACEHOLDER_SECRETS = {key: f"offline-placeholder-{key}" for key in declared_secrets()}

# Inputs too long or too noisy for the tree; they are in the rendered documents instead.
_HIDDEN_INPUTS = {"content", "values", "spec", "metadata", "kubeconfig", "valueYamlFiles"}


def _dump(doc: Any) -> str:
    # Sorted: recorded inputs come back through protobuf Structs whose key order varies
    # from run to run (hash seed), and golden files must not churn with it.
    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, width=100)


def render_documents(run: Run) -> dict[str, str]:
    """Relative path -> text of every document the stack renders, secrets masked."""
    docs: dict[str, str] = {}
    for res in run.resources:
        inputs = mask(res.inputs)
        if res.type == "github:index/repositoryFile:RepositoryFile":
            docs[f"github/{inputs['file']}"] = str(inputs["content"])
        elif res.type.startswith("kubernetes:argoproj.io/"):
            meta = inputs.get("metadata", {})
            kind = str(inputs.get("kind", res.type.rsplit(":", 1)[-1])).lower()
            docs[f"argocd/{kind}-{meta.get('name', res.name)}.yaml"] = _dump(inputs)
        elif res.type.startswith("kubernetes:monitoring.coreos.com/"):
            meta = inputs.get("metadata", {})
            kind = str(inputs.get("kind", res.type.rsplit(":", 1)[-1])).lower()
            docs[f"monitoring/{kind}-{meta.get('name', res.name)}.yaml"] = _dump(inputs)
        elif res.type == "kubernetes:helm.sh/v3:Release":
            docs[f"helm/{inputs.get('name', res.name)}.values.yaml"] = _dump(inputs.get("values", {}))
    return dict(sorted(docs.items()))


def example_documents() -> dict[str, str]:
    """The documented example Rollout of each strategy (README, "Analysis and rollback")."""
    return {
        f"rollout-{strategy.lower()}.yaml": yaml.safe_dump(example_rollout(strategy), sort_keys=False)
        for strategy in sorted(set(STRATEGIES.values()))
    }


def _summary(res: RecordedResource) -> str:
    shown = {k: v for k, v in mask(res.inputs).items() if k not in _HIDDEN_INPUTS}
    flags = [
        flag
        for flag, on in (
            ("protect", res.protect),
            ("delete-before-replace", res.delete_before_replace),
            ("retain-on-delete", res.retain_on_delete),
        )
        if on
    ]
    if res.depends_on:
        flags.append("depends-on=" + ",".join(res.depends_on))
    text = json.dumps(shown, sort_keys=True, default=str)
    if len(text) > 160:
        text = text[:157] + "..."
    return (
        f"{res.type}  {res.name}"
        + (f"  [{' '.join(flags)}]" if flags else "")
        + (f"\n      {text}" if shown else "")
    )


def print_tree(run: Run) -> None:
    children: dict[str | None, list[RecordedResource]] = {}
    for res in run.resources:
        children.setdefault(res.parent, []).append(res)

    def show(parent: str | None, depth: int) -> None:
        for res in children.get(parent, []):
            pad = "  " * depth
            print(pad + _summary(res).replace("\n", "\n" + pad))
            show(res.name, depth + 1)

    print(f"stack {run.stack}: {len(run.resources)} resources")
    show(None, 1)
    print("outputs:")
    for name, value in sorted(mask(run.outputs).items()):
        print(f"  {name}: {json.dumps(value, default=str)}")


def write_documents(docs: dict[str, str], target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    for rel, text in docs.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stacks", nargs="+", choices=STACKS, metavar="STACK", help=", ".join(STACKS))
    parser.add_argument("--update-golden", action="store_true", help="rewrite tests/golden/<stack>/")
    args = parser.parse_args(argv)
    for stack in args.stacks:
        started = time.perf_counter()
        try:
            run = run_program(stack, PLACEHOLDER_SECRETS)
        except (ConfigError, EngineConfigError) as error:
            print(f"stack {stack}: {error}", file=sys.stderr)
            return 1
        docs = render_documents(run)
        print_tree(run)
        write_documents(docs, BUILD / stack)
        print(f"wrote {len(docs)} documents under {(BUILD / stack).relative_to(ROOT)}/")
        if args.update_golden:
            write_documents(docs, GOLDEN / stack)
            print(f"updated {(GOLDEN / stack).relative_to(ROOT)}/")
        print(f"planned in {time.perf_counter() - started:.2f}s\n")
    if args.update_golden:
        write_documents(example_documents(), GOLDEN / "examples")
        print(f"updated {(GOLDEN / 'examples').relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
