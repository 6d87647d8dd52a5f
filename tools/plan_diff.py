"""What `pulumi up` would do, offline: the declared resources against an earlier plan.

Each resource is one document (type, name, parent, provider, options, every input; see
``tools.plan.resource_document``). Two sets of them, the base (the golden files, an earlier
build, or the golden files at a git ref) and the current run, give one step per resource,
as `pulumi preview` shows it: ``+`` create, ``~`` update (the changed keys), ``-`` delete,
``+-`` replace (the keys that force it). What forces a replacement comes from the
providers: their schemas' `willReplaceOnChanges` (``tools/replace_on_changes.json``), the
Kubernetes provider's identity fields, and the program's own `replace_on_changes` options.
"""

from __future__ import annotations

import difflib
import io
import json
import subprocess
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools.offline import ROOT

_SCHEMA_REPLACES: dict[str, list[str]] = json.loads(
    (Path(__file__).parent / "replace_on_changes.json").read_text()
)
# A Kubernetes object is identified by these: any other value is patched in place.
_KUBERNETES_IDENTITY = ["apiVersion", "kind", "metadata.name", "metadata.namespace"]
# pulumi-kubernetes replaces a Helm release whose name or namespace changes
# (https://github.com/pulumi/pulumi-kubernetes/pull/2532).
_HELM_RELEASE_IDENTITY = ["name", "namespace"]
# The provider is replaced, and with it every resource it manages, only when the cluster
# identifier changes (that is why the program sets it).
_KUBERNETES_PROVIDER_IDENTITY = ["clusterIdentifier"]

# libyaml's parser where PyYAML has it: the same documents, read several times faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MARKERS = {"create": "+", "update": "~", "delete": "-", "replace": "+-", "same": " "}


def replace_keys(doc: dict[str, Any]) -> list[str]:
    """Input key paths of this resource whose change forces a replacement."""
    type_ = str(doc["type"])
    keys = list(_SCHEMA_REPLACES.get(type_, []))
    if type_ == "kubernetes:helm.sh/v3:Release":
        keys += _HELM_RELEASE_IDENTITY
    elif type_.startswith("kubernetes:"):
        keys += _KUBERNETES_IDENTITY
    elif type_ == "pulumi:providers:kubernetes":
        keys += _KUBERNETES_PROVIDER_IDENTITY
    keys += list((doc.get("options") or {}).get("replaceOnChanges", []))
    return keys


def changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    """Key paths where two documents differ (a list of another length differs as a whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                found.append(sub)
            else:
                found += changed_paths(old[key], new[key], sub)
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            p
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for p in changed_paths(a, b, f"{path}[{i}]")
        ]
    return [] if old == new else [path]


def _under(path: str, key: str) -> bool:
    return path == key or path.startswith((f"{key}.", f"{key}["))


def value_at(doc: Any, path: str) -> Any:
    """The value at a key path from `changed_paths`, or `_ABSENT`."""
    node = doc
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, list) or index >= len(node):
                return _ABSENT
            node = node[index]
        else:
            if not isinstance(node, dict) or part not in node:
                return _ABSENT
            node = node[part]
    return node


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


@dataclass
class Step:
    """One resource's fate: its marker and, for an update or replace, what changed."""

    op: str  # create, update, delete, replace, same
    doc: dict[str, Any]  # the current document (the base one for a delete)
    old: dict[str, Any] | None = None
    changed: list[str] = field(default_factory=list)  # key paths, inputs without `inputs.`
    forcing: list[str] = field(default_factory=list)

    @property
    def marker(self) -> str:
        return MARKERS[self.op]

    @property
    def key(self) -> tuple[str, str]:
        return (str(self.doc["type"]), str(self.doc["name"]))


def _urn(doc: dict[str, Any], docs: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    """The type chain and name that make a resource's URN: a new parent is a new resource."""
    chain = [str(doc["type"])]
    parent = doc.get("parent")
    while parent is not None and parent in docs:
        chain.insert(0, str(docs[parent]["type"]))
        parent = docs[parent].get("parent")
    return (*chain, str(doc["name"]))


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """What an update changes: inputs by their own paths, options and provider by name."""
    return {
        **(doc.get("inputs") or {}),
        **{f"options.{k}": v for k, v in (doc.get("options") or {}).items()},
        "provider": doc.get("provider"),
    }


def _alias_keys(
    doc: dict[str, Any], parent: dict[str, Any] | None, parent_took: tuple[str, ...] | None
) -> list[tuple[str, ...]]:
    """The URN keys a resource answers for besides its own: its `aliases`, then the same under
    the earlier URN its parent took over (the engine's inherited child aliases, with the
    parent's old name in place of its new one at the start of the child's name)."""
    own: list[tuple[str, ...]] = []
    for alias in (doc.get("options") or {}).get("aliases", []):
        _, _, qualified, name = str(alias).split("::", 3)
        own.append((*qualified.split("$"), name))
    keys = list(own)
    if parent is not None and parent_took is not None:
        parent_name = str(parent["name"])
        for key in [(str(doc["type"]), str(doc["name"])), *((k[-2], k[-1]) for k in own)]:
            type_, name = key
            if name.startswith(parent_name):
                name = parent_took[-1] + name[len(parent_name) :]
            keys.append((*parent_took[:-1], type_, name))
    return list(dict.fromkeys(keys))


def diff(base: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[Step]:
    """One step per resource of either side, in the current declaration order (deletes last).

    A resource whose URN is new but which answers for an old one through `aliases` is that old
    resource renamed, as for the engine: compared with it, not created beside its delete."""
    base_by_name = {str(d["name"]): d for d in base}
    current_by_name = {str(d["name"]): d for d in current}
    old_by_urn = {_urn(d, base_by_name): d for d in base}
    steps: list[Step] = []
    seen: set[tuple[str, ...]] = set()
    took: dict[str, tuple[str, ...]] = {}  # current name -> the old URN key it took over
    for doc in current:
        urn = _urn(doc, current_by_name)
        old = old_by_urn.get(urn)
        if old is None:
            parent = current_by_name.get(str(doc.get("parent")))
            aliases = _alias_keys(doc, parent, took.get(str(parent["name"])) if parent else None)
            urn = next((key for key in aliases if key in old_by_urn and key not in seen), urn)
            old = old_by_urn.get(urn)
            if old is not None:
                took[str(doc["name"])] = urn
        seen.add(urn)
        if old is None:
            steps.append(Step("create", doc))
            continue
        changed = changed_paths(_comparable(old), _comparable(doc))
        forcing = [p for p in changed if any(_under(p, k) for k in replace_keys(doc))]
        if "provider" in changed:
            forcing.append("provider")  # another provider is another cloud object
        op = "replace" if forcing else "update" if changed else "same"
        steps.append(Step(op, doc, old, changed, sorted(set(forcing))))
    steps += [Step("delete", d) for urn, d in old_by_urn.items() if urn not in seen]
    return steps


# --------------------------------------------------------------------------- base documents


def resource_documents(texts: dict[str, str]) -> list[dict[str, Any]]:
    """The resource documents among a plan's files (relative path -> text)."""
    return [
        yaml.load(text, Loader=_LOADER) for rel, text in sorted(texts.items()) if rel.startswith("resources/")
    ]


def read_directory(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): path.read_text()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def read_git(ref: str, stack: str, root: Path = ROOT) -> dict[str, str]:
    """The golden files of `stack` as committed at `ref` (relative path -> text)."""
    prefix = f"tests/golden/{stack}/"
    done = subprocess.run(
        ["git", "archive", "--format=tar", ref, prefix],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        if "did not match any files" in message:
            return {}  # the ref predates this stack's golden files: everything is new
        raise BaseError(f"cannot read {prefix} at {ref!r}: {message}")
    texts: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        for member in archive.getmembers():
            extracted = archive.extractfile(member) if member.isfile() else None
            if extracted is not None:
                texts[member.name[len(prefix) :]] = extracted.read().decode()
    return texts


class BaseError(Exception):
    """The base of a comparison cannot be read."""


def read_base(base: str, stack: str, root: Path = ROOT) -> tuple[str, dict[str, str]]:
    """(what it is, its files) for `BASE`: a build directory, one holding `<stack>/`, or a git ref."""
    directory = Path(base)
    if directory.is_dir():
        chosen = directory / stack if (directory / stack / "resources").is_dir() else directory
        return str(chosen), read_directory(chosen)
    return f"tests/golden/{stack} at {base}", read_git(base, stack, root)


# --------------------------------------------------------------------------- printing


def _short(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    return json.dumps(value, sort_keys=True, default=str)


def change_lines(step: Step) -> list[str]:
    """`key: old => new` per changed key path; a multi-line text as a unified diff."""
    assert step.old is not None
    old, new = _comparable(step.old), _comparable(step.doc)
    lines: list[str] = []
    for path in step.changed:
        before, after = value_at(old, path), value_at(new, path)
        mark = "+-" if path in step.forcing else "~"
        suffix = "  (forces replacement)" if path in step.forcing else ""
        if isinstance(before, str) and isinstance(after, str) and "\n" in before + after:
            lines.append(f"{mark} {path}:{suffix}")
            lines += [
                "    " + line
                for line in difflib.unified_diff(
                    before.splitlines(), after.splitlines(), "before", "after", lineterm="", n=2
                )
            ]
        else:
            lines.append(f"{mark} {path}: {_short(before)} => {_short(after)}{suffix}")
    return lines


def summary_lines(steps: list[Step]) -> list[str]:
    """Counts per operation, then per resource type with its changes."""
    ops = Counter(s.op for s in steps)
    lines = ["Resources:"]
    for op, label in (("create", "to create"), ("update", "to update"), ("replace", "to replace")):
        if ops[op]:
            lines.append(f"    {MARKERS[op]:<2} {ops[op]} {label}")
    if ops["delete"]:
        lines.append(f"    -  {ops['delete']} to delete")
    lines.append(f"       {ops['same']} unchanged")
    by_type: dict[str, Counter[str]] = {}
    for step in steps:
        by_type.setdefault(step.key[0], Counter())[step.op] += 1
    lines.append("By type:")
    for type_, counts in sorted(by_type.items()):
        total = sum(v for op, v in counts.items() if op != "delete")
        changes = " ".join(
            f"{MARKERS[op]}{counts[op]}" for op in ("create", "update", "replace", "delete") if counts[op]
        )
        lines.append(f"    {total:>3}  {changes:<12}  {type_}")
    return lines
