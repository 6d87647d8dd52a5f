"""A local Helm repository of the charts in tools/charts.json, for installing without the internet.

Each chart is read from a public GitHub repository as the Go module proxy serves it (`go mod
download -json <module>@<version>`: a zip of the repository at one commit, verified against
the checksum database like any module), checked to be the listed chart at the listed version
(a chart whose Chart.yaml its project's release fills, like cert-manager's, made as that
release makes it: `release` in the list), packaged as Helm packages it (`<name>/` in a
gzipped tar, subcharts under `<name>/charts/`) and listed in a generated `index.yaml`. Nothing fetched is committed: the archives live in
$CHARTS_CACHE (default ~/.cache/delivery-charts).

    python -m tools.charts            # fetch (once) and write the repository
    python -m tools.charts --serve    # and serve it on 127.0.0.1 until interrupted

A stack installs from it with `delivery:charts.repository: http://127.0.0.1:<port>/`
(docs/local-cluster.md).
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml

LIST = Path(__file__).with_name("charts.json")
# A fixed time in every archive and the index: the same inputs give byte-identical archives.
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def cache_dir() -> Path:
    return Path(os.environ.get("CHARTS_CACHE") or Path.home() / ".cache" / "delivery-charts")


def listed() -> list[dict[str, Any]]:
    charts: list[dict[str, Any]] = json.loads(LIST.read_text())["charts"]
    return charts


class ChartError(Exception):
    """A listed chart that cannot be fetched or is not what the list says."""


@dataclass(frozen=True)
class Packaged:
    name: str
    version: str
    archive: Path
    metadata: dict[str, Any]


def module_zip(module: str, version: str) -> Path:
    """The module zip from the Go module cache, downloaded through the proxy if absent."""
    done = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        check=False,
        # Outside any module: `go mod download` of a path@version needs none.
        cwd=Path("/"),
        env={**os.environ, "GOFLAGS": "-mod=mod", "GO111MODULE": "on"},
        timeout=600,
    )
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise ChartError(f"go mod download {module}@{version} failed: {done.stderr.strip()}") from None
    if "Error" in answer or "Zip" not in answer:
        raise ChartError(f"go mod download {module}@{version}: {answer.get('Error', answer)}")
    return Path(answer["Zip"])


def _files(archive: zipfile.ZipFile, prefix: str) -> dict[str, bytes]:
    """Files under `prefix/` in a module zip (its names start with `<module>@<version>/`)."""
    found: dict[str, bytes] = {}
    for name in archive.namelist():
        # The module path itself has slashes: the files start after `@<version>/`.
        inside = name[name.index("/", name.index("@")) + 1 :]
        if inside.startswith(prefix + "/") and not name.endswith("/"):
            found[inside[len(prefix) + 1 :]] = archive.read(name)
    if not found:
        raise ChartError(f"no {prefix}/ in the module zip")
    return found


def _go_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match: `*` and `?` never cross a `/`."""
    parts, names = pattern.split("/"), name.split("/")
    return len(parts) == len(names) and all(
        fnmatch.fnmatchcase(n, p) for p, n in zip(parts, names, strict=True)
    )


def _ignored(rules: list[str], path: str, is_dir: bool) -> bool:
    """Helm's ignore rules (helm.sh/helm/v3/pkg/ignore, rules.go): a rule without `/` matches the
    base name, one with `/` the whole path from the chart's root (a leading `/` only anchors it),
    a trailing `/` only directories; `!` rules are refused (no chart here uses them)."""
    for raw in rules:
        rule = raw.removesuffix("/")
        if raw.endswith("/") and not is_dir:
            continue
        if "/" in rule:
            if _go_match(rule.removeprefix("/"), path):
                return True
        elif _go_match(rule, path.rpartition("/")[2]):
            return True
    return False


def _without_helmignored(files: dict[str, bytes], what: str) -> dict[str, bytes]:
    """The files `helm package` puts into the archive: its loader skips what the chart's
    .helmignore names (and a directory it names with everything in it), and always the dot
    files in templates/ (rules.go's AddDefaults)."""
    rules = ["templates/.?*"]
    for text in files.get(".helmignore", b"").decode().splitlines():
        line = text.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!") or "**" in line:
            raise ChartError(f"{what}: .helmignore rule {line!r} is not supported here")
        rules.append(line)
    kept = {}
    for path, data in files.items():
        parts = path.split("/")
        directories = ["/".join(parts[:i]) for i in range(1, len(parts))]
        if not any(_ignored(rules, d, is_dir=True) for d in directories) and not _ignored(
            rules, path, is_dir=False
        ):
            kept[path] = data
    return kept


def _chart_yaml(files: dict[str, bytes], what: str) -> dict[str, Any]:
    if "Chart.yaml" not in files:
        raise ChartError(f"{what}: no Chart.yaml")
    loaded: dict[str, Any] = yaml.safe_load(files["Chart.yaml"])
    return loaded


def _as_released(files: dict[str, bytes], chart: dict[str, Any]) -> dict[str, bytes]:
    """The chart directory as its project's release makes it into a package (`release` in the
    list): only the files the release packages, Chart.yaml's placeholder version and
    appVersion set to the tag, the release's annotations, the README filled from its template.
    For cert-manager this is make/manifests.mk's `$(bin_dir)/cert-manager-$(VERSION).tgz`
    target at that tag; the CRDs are templates of the chart itself (`crds.enabled`)."""
    release = chart["release"]
    tag = chart["moduleVersion"]
    metadata = _chart_yaml(files, chart["name"])
    placeholder = release["placeholder"]
    if (str(metadata.get("version")), str(metadata.get("appVersion"))) != (placeholder, placeholder):
        raise ChartError(
            f"{chart['name']}: Chart.yaml has version {metadata.get('version')} and appVersion "
            f"{metadata.get('appVersion')}, not the placeholder {placeholder} its release fills"
        )
    kept = {
        path: data
        for path, data in files.items()
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in release["files"])
    }
    annotations = dict(metadata.get("annotations") or {})
    if "signKeyAnnotation" in release:
        annotations["artifacthub.io/signKey"] = files[release["signKeyAnnotation"]].decode()
    # The release's IS_PRERELEASE: a tag with a pre-release part (`v1.22.0-alpha.1`).
    annotations["artifacthub.io/prerelease"] = "true" if "-" in tag else "false"
    metadata.update(annotations=annotations, version=tag, appVersion=tag)
    kept["Chart.yaml"] = yaml.safe_dump(metadata, sort_keys=False).encode()
    if "readme" in release:
        template = files[release["readme"]["from"]].decode()
        kept["README.md"] = template.replace(release["readme"]["marker"], tag).encode()
    return kept


def _subchart(
    source: zipfile.ZipFile, sub: dict[str, Any], wanted: dict[str, Any], parent: str
) -> dict[str, bytes]:
    """A subchart's files, from the parent's module zip or its own (`module`), checked
    against the parent's requirement or, for a stand-in, against the version it replaces."""
    if "module" in sub:
        with zipfile.ZipFile(module_zip(sub["module"], sub["moduleVersion"])) as own:
            files = _files(own, sub["path"])
    else:
        files = _files(source, sub["path"])
    files = _without_helmignored(files, sub["name"])
    meta = _chart_yaml(files, sub["name"])
    required, got = str(wanted["version"]), str(meta["version"])
    if meta.get("name") != sub["name"]:
        raise ChartError(f"{parent}: {sub['path']} is {meta.get('name')}, not {sub['name']}")
    if "standsInFor" in sub:
        if required != sub["standsInFor"]:
            raise ChartError(
                f"{parent} needs {sub['name']} {required}; the list's stand-in replaces {sub['standsInFor']}"
            )
    # Exact pins and `x.y.*` ranges are what these charts use.
    elif not (got == required or (required.endswith(".*") and got.startswith(required[:-1]))):
        raise ChartError(f"{parent} needs {sub['name']} {required}; the module has {got}")
    return files


def package(chart: dict[str, Any], out: Path) -> Packaged:
    """The listed chart as a Helm package in `out`, verified against the list."""
    name, version = chart["name"], chart["version"]
    with zipfile.ZipFile(module_zip(chart["module"], chart["moduleVersion"])) as source:
        files = _files(source, chart["path"])
        # A release's recipe names its files itself; otherwise the chart is packaged as
        # `helm package` packages its directory.
        files = _as_released(files, chart) if "release" in chart else _without_helmignored(files, name)
        metadata = _chart_yaml(files, name)
        if (metadata.get("name"), str(metadata.get("version"))) != (name, version):
            raise ChartError(
                f"{chart['module']}@{chart['moduleVersion']} {chart['path']} is "
                f"{metadata.get('name')} {metadata.get('version')}, not {name} {version}"
            )
        dropped = chart.get("drop", {})
        needs = {d["name"] for d in metadata.get("dependencies") or [] if d.get("repository")}
        rewritten = False
        for sub in chart.get("subcharts", []):
            [wanted] = [d for d in metadata["dependencies"] if d["name"] == sub["name"]]
            sub_files = _subchart(source, sub, wanted, name)
            if "standsInFor" in sub:
                # The archive says what it holds: the dependency names the stand-in's version.
                wanted["version"] = str(_chart_yaml(sub_files, sub["name"])["version"])
                rewritten = True
            files.update({f"charts/{sub['name']}/{k}": v for k, v in sub_files.items()})
            needs.discard(sub["name"])
        missing = needs - set(dropped)
        if missing:
            raise ChartError(
                f"{name}: dependencies neither listed as subcharts nor dropped: {sorted(missing)}"
            )
        if dropped:
            metadata["dependencies"] = [d for d in metadata["dependencies"] if d["name"] not in dropped]
        if dropped or rewritten:
            files["Chart.yaml"] = yaml.safe_dump(metadata, sort_keys=False).encode()
            # The lock names the original dependencies' versions and digests; Helm does not
            # need it to install, and it would no longer describe the archive.
            files.pop("Chart.lock", None)
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"{name}-{version}.tgz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(files[path])
            info.mtime = int(EPOCH.timestamp())
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[path]))
    archive.write_bytes(buffer.getvalue())
    return Packaged(name, version, archive, metadata)


def write_index(out: Path, packaged: list[Packaged]) -> Path:
    """Helm's repository index (`index.yaml`, apiVersion v1) of the packaged charts."""
    entries: dict[str, list[dict[str, Any]]] = {}
    for item in packaged:
        entry = {k: v for k, v in item.metadata.items() if k != "dependencies"}
        entry.update(
            apiVersion=item.metadata.get("apiVersion", "v2"),
            created=EPOCH.isoformat(),
            digest=hashlib.sha256(item.archive.read_bytes()).hexdigest(),
            urls=[item.archive.name],
        )
        if item.metadata.get("dependencies"):
            entry["dependencies"] = item.metadata["dependencies"]
        entries.setdefault(item.name, []).append(entry)
    index = out / "index.yaml"
    index.write_text(
        yaml.safe_dump(
            {"apiVersion": "v1", "entries": entries, "generated": EPOCH.isoformat()}, sort_keys=True
        )
    )
    return index


def build(out: Path | None = None) -> list[Packaged]:
    """Every listed chart packaged into `out` (default: the cache) with its index."""
    out = out or cache_dir()
    packaged = [package(chart, out) for chart in listed()]
    write_index(out, packaged)
    return packaged


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """`directory` over HTTP on a free 127.0.0.1 port; yields the repository URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--serve", action="store_true", help="serve the repository on 127.0.0.1")
    args = parser.parse_args(argv)
    try:
        packaged = build()
    except ChartError as error:
        print(f"make charts: {error}", file=sys.stderr)
        return 1
    for item in packaged:
        print(f"{item.name} {item.version}: {item.archive}")
    for chart in listed():
        if "pinned" in chart:
            print(f"note: {chart['name']} {chart['version']} stands in for the pinned {chart['pinned']}")
        for sub, why in chart.get("drop", {}).items():
            print(f"note: {chart['name']} without subchart {sub}: {why}")
        for sub in chart.get("subcharts", []):
            if "standsInFor" in sub:
                print(f"note: {chart['name']}'s {sub['name']} subchart is a stand-in: {sub['why']}")
    if args.serve:
        with serve(cache_dir()) as url:
            print(f"serving {url} (delivery:charts.repository); Ctrl-C stops")
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
