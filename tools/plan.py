"""Offline plan: what the program declares for a stack, with no credentials and no Pulumi CLI.

Writes every declared resource (type, name, parent, provider, options and every input,
secrets masked, values only known after apply marked) as one YAML document under
``build/<stack>/resources/<component path>/``, beside the documents the program renders
(workflow files, Argo CD manifests, monitoring rules, admission policies, Helm values).
Prints the resources as a tree, the way `pulumi preview` does, each marked against a base:
the golden files ``tests/golden/<stack>/`` (default), an earlier build directory, or the
golden files at a git ref (``--base``).
``--full`` prints every input. ``--update-golden`` rewrites the golden files, which
reviewers read as the pull request's diff; it refuses to drop a URN from ``urns.txt`` that
only an alias could keep (``tools/urns.py``) unless ``--allow-delete`` says the delete is meant.

    python -m tools.plan staging
    python -m tools.plan staging --base origin/main --full
    python -m tools.plan --update-golden development staging production
    python -m tools.plan --update-golden --allow-delete production
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from components.config.base import ConfigError
from components.gitops.analysis import STRATEGIES, example_rollout
from tools.offline import (
    OFFLINE_PINS,
    ROOT,
    STACKS,
    EngineConfigError,
    RecordedResource,
    Run,
    Secret,
    declared_secrets,
    run_program,
    unknown,
)
from tools.plan_diff import (
    BaseError,
    Step,
    change_lines,
    diff,
    read_base,
    read_directory,
    resource_documents,
    summary_lines,
)
from tools.urns import URNS_FILE, orphans, orphans_message, read_snapshot, snapshot_text

BUILD = ROOT / "build"
GOLDEN = ROOT / "tests" / "golden"
GOLDEN_COMMAND = "make golden"

# Offline runs need values for the declared secrets; these placeholders never leave the
# process and are masked in every printed or written document.
PLACEHOLDER_SECRETS = {key: f"offline-placeholder-{key}" for key in declared_secrets()}


def present(value: Any, unknowns: dict[int, str]) -> Any:
    """A recorded value as a reviewer reads it: secrets masked, made-up lookup ids named,
    keys sorted (recorded inputs come back through protobuf Structs whose key order varies
    with the hash seed, and golden files must not churn with it)."""
    if isinstance(value, Secret):
        return "[secret]"
    if isinstance(value, dict):
        return {k: present(value[k], unknowns) for k in sorted(value)}
    if isinstance(value, list):
        return [present(v, unknowns) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and value in unknowns:
        return unknown(unknowns[value])
    if isinstance(value, str) and value.isdigit() and int(value) in unknowns:
        return unknown(unknowns[int(value)])
    return value


# libyaml's emitter (PyYAML's wheels carry it): the pure-Python one took most of the plan's time.
_SAFE_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _ReadableDumper(_SAFE_DUMPER):  # type: ignore[valid-type,misc]
    """Multi-line strings (workflow files, scripts, notification templates) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_ReadableDumper.add_representer(str, _represent_str)


def _dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_ReadableDumper, sort_keys=True, default_flow_style=False, width=100)


def dump_resource(doc: dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_ReadableDumper, sort_keys=False, default_flow_style=False, width=100)


def resource_document(res: RecordedResource, unknowns: dict[int, str]) -> dict[str, Any]:
    """Everything the program declares about one resource, as the plan and golden files show it."""
    doc: dict[str, Any] = {"type": res.type, "name": res.name}
    if res.parent is not None:
        doc["parent"] = res.parent
    if res.provider is not None:
        doc["provider"] = res.provider
    options = {
        "protect": res.protect,
        "dependsOn": sorted(res.depends_on),
        "deleteBeforeReplace": res.delete_before_replace,
        "retainOnDelete": res.retain_on_delete,
        "ignoreChanges": sorted(res.ignore_changes),
        "replaceOnChanges": sorted(res.replace_on_changes),
        "additionalSecretOutputs": sorted(set(res.additional_secret_outputs)),
        "aliases": sorted(res.aliases),
    }
    if any(options.values()):
        doc["options"] = {k: v for k, v in options.items() if v}
    doc["inputs"] = present(res.inputs, unknowns)
    return doc


def declared_documents(run: Run) -> list[dict[str, Any]]:
    """Every resource's document in declaration order (as its file reads back)."""
    return [_masked(resource_document(r, run.recorder.unknowns)) for r in run.resources]


def _masked(value: Any) -> Any:
    """A document with every string's offline stand-ins named (mask_offline_pins)."""
    if isinstance(value, str):
        return mask_offline_pins(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def plan_steps(run: Run, base_docs: dict[str, str]) -> list[Step]:
    """The run's resources against a base's files (relative path -> text)."""
    return diff(resource_documents(base_docs), declared_documents(run))


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def resource_path(res: RecordedResource, by_name: dict[str, RecordedResource]) -> str:
    """`resources/<ancestor names>/<Kind>-<name>.yaml`: a component's children in its folder."""
    parts: list[str] = []
    parent = res.parent
    while parent is not None and parent in by_name:
        parts.insert(0, _file_part(parent))
        parent = by_name[parent].parent
    kind = res.type.rsplit(":", 1)[-1] if not res.type.startswith("pulumi:providers:") else "Provider"
    return "/".join(["resources", *parts, f"{kind}-{_file_part(res.name)}.yaml"])


def render_documents(run: Run) -> dict[str, str]:
    """Relative path -> text of every document the stack renders, secrets masked."""
    docs: dict[str, str] = {URNS_FILE: snapshot_text(run.resources)}
    unknowns = run.recorder.unknowns
    by_name = {res.name: res for res in run.resources}
    for res in run.resources:
        docs[resource_path(res, by_name)] = dump_resource(resource_document(res, unknowns))
        inputs = present(res.inputs, unknowns)
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
        elif res.type.startswith("kubernetes:admissionregistration.k8s.io/"):
            meta = inputs.get("metadata", {})
            kind = str(inputs.get("kind", res.type.rsplit(":", 1)[-1])).lower()
            docs[f"admission/{kind}-{meta.get('name', res.name)}.yaml"] = _dump(inputs)
        elif res.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy":
            meta = inputs.get("metadata", {})
            docs[f"network/{meta.get('namespace')}-{meta.get('name', res.name)}.yaml"] = _dump(inputs)
        elif res.type == "kubernetes:helm.sh/v3:Release":
            docs[f"helm/{inputs.get('name', res.name)}.values.yaml"] = _dump(inputs.get("values", {}))
    return {rel: mask_offline_pins(text) for rel, text in sorted(docs.items())}


def mask_offline_pins(text: str) -> str:
    """The offline stand-ins for unpublished checksums (OFFLINE_PINS) named as what they are."""
    for key, value in OFFLINE_PINS.items():
        text = text.replace(value, f"unpublished-checksum-stand-in-{key}")
    return text


def example_documents() -> dict[str, str]:
    """The documented example Rollout of each strategy (docs/monitoring.md, "Analysis and rollback")."""
    return {
        f"rollout-{strategy.lower()}.yaml": yaml.safe_dump(example_rollout(strategy), sort_keys=False)
        for strategy in sorted(set(STRATEGIES.values()))
    }


def _flags(doc: dict[str, Any]) -> str:
    options = doc.get("options") or {}
    flags = [
        flag
        for flag, key in (
            ("protect", "protect"),
            ("delete-before-replace", "deleteBeforeReplace"),
            ("retain-on-delete", "retainOnDelete"),
        )
        if options.get(key)
    ]
    return f"  [{' '.join(flags)}]" if flags else ""


def plan_lines(steps: list[Step], full: bool = False) -> list[str]:
    """The tree by parent, a marker per resource, the changed keys below an update or replace."""
    children: dict[str | None, list[Step]] = {}
    names = {str(step.doc["name"]) for step in steps}
    for step in steps:
        parent = step.doc.get("parent")
        children.setdefault(parent if parent in names else None, []).append(step)
    lines: list[str] = []

    def show(parent: str | None, depth: int) -> None:
        for step in children.get(parent, []):
            pad = "    " + "  " * depth
            doc = step.doc
            lines.append(f"{step.marker:<3}{pad}{doc['type']}  {doc['name']}{_flags(doc)}")
            detail = change_lines(step) if step.old is not None and step.changed else []
            if full and step.op != "delete" and doc.get("inputs"):
                detail += dump_resource(doc.get("inputs") or {}).rstrip("\n").splitlines()
            lines.extend(f"   {pad}    {line}" for line in detail)
            show(str(doc["name"]), depth + 1)

    show(None, 0)
    return lines


def print_plan(run: Run, steps: list[Step], base: str, full: bool) -> None:
    print(f"stack {run.stack}: {len(run.resources)} resources, compared with {base}")
    if all(step.op == "create" for step in steps):
        print("    (the base holds no resource documents of this stack: every resource shows as a create)")
    for line in plan_lines(steps, full):
        print(line)
    for line in summary_lines(steps):
        print(line)
    print("Outputs:")
    for name, value in sorted(present(run.outputs, run.recorder.unknowns).items()):
        print(f"    {name}: {json.dumps(value, default=str)}")


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
    parser.add_argument(
        "--base",
        help="compare with this build directory (or one holding <stack>/), or the golden files at this "
        "git ref; default: tests/golden/<stack>",
    )
    parser.add_argument("--full", action="store_true", help="print every input of every resource")
    parser.add_argument("--update-golden", action="store_true", help="rewrite tests/golden/<stack>/")
    parser.add_argument(
        "--allow-delete",
        action="store_true",
        help=f"with --update-golden: drop URNs from {URNS_FILE} although no alias keeps them (a meant delete)",
    )
    args = parser.parse_args(argv)
    for stack in args.stacks:
        try:
            run = run_program(stack, PLACEHOLDER_SECRETS)
            base, base_docs = (
                read_base(args.base, stack)
                if args.base
                else (
                    str((GOLDEN / stack).relative_to(ROOT)),
                    read_directory(GOLDEN / stack),
                )
            )
        except (ConfigError, EngineConfigError, BaseError) as error:
            print(f"stack {stack}: {error}", file=sys.stderr)
            return 1
        docs = render_documents(run)
        steps = plan_steps(run, base_docs)
        print_plan(run, steps, base, args.full)
        write_documents(docs, BUILD / stack)
        print(f"wrote {len(docs)} documents under {(BUILD / stack).relative_to(ROOT)}/")
        if args.update_golden:
            snapshot = GOLDEN / stack / URNS_FILE
            lost = orphans(read_snapshot(snapshot.read_text()), run.resources) if snapshot.exists() else []
            if lost and not args.allow_delete:
                print(orphans_message(stack, lost), file=sys.stderr)
                return 1
            write_documents(docs, GOLDEN / stack)
            print(f"updated {(GOLDEN / stack).relative_to(ROOT)}/")
        print()
    if args.update_golden:
        write_documents(example_documents(), GOLDEN / "examples")
        print(f"updated {(GOLDEN / 'examples').relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
