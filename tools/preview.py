"""The real engine's preview of a stack, offline and without a single credential.

Runs the Pulumi CLI and the real providers (a normal Pulumi install on PATH, or the engine
this team builds into ``~/.cache/delivery-engine/bin``) on a scratch copy of the project,
because ``pulumi stack init`` rewrites the stack file:

- state in a ``file://`` backend in a temporary directory, a throwaway passphrase, a
  ``PULUMI_HOME`` of its own, no update check, no plugin downloads;
- every secret ``Pulumi.yaml`` declares set with ``pulumi config set --secret`` (dummy values);
- the github and linode providers pointed, through their own stack config (``github:token``,
  ``github:baseUrl``, ``linode:token``, ``linode:url``), at the fake API of
  ``tools/fake_api.py`` on 127.0.0.1, with dummy tokens; the caller's GITHUB_*, LINODE_*,
  PULUMI_* and AWS_* variables are dropped, so no real credential can reach anything.

It prints the engine's own preview, then one summary line (operations, diagnostics, time).

    python -m tools.preview staging
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from tools.fake_api import FakeApi, Request
from tools.offline import ROOT, STACKS, declared_secrets, read_stack_file, with_offline_pins
from tools.offline import stack_file as committed_stack_file

# What the program needs to run: the project file, the program and its package.
PROJECT_PARTS = ("Pulumi.yaml", "__main__.py", "components", "requirements.txt")
PASSPHRASE = "throwaway-preview-passphrase"
DUMMY_GITHUB_TOKEN = "fake-github-token"
DUMMY_LINODE_TOKEN = "fake-linode-token"
# Variables that could carry a real credential or point the CLI at a real backend.
DROPPED_PREFIXES = ("GITHUB_", "LINODE_", "PULUMI_", "AWS_", "KUBECONFIG")


class EngineAbsentError(Exception):
    """No Pulumi CLI on PATH and no engine built into the cache."""


def engine_bin() -> Path:
    """Where `../shared/engine/build.sh` puts the CLI and plugins on this team's machines."""
    home = os.environ.get("DELIVERY_ENGINE_HOME")
    if home:
        return Path(home) / "bin"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "delivery-engine" / "bin"


# What `make engine` builds; a directory without all of them is a build under way or broken.
ENGINE_BINARIES = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    "pulumi-resource-github",
    "pulumi-resource-kubernetes",
    "pulumi-resource-linode",
    "pulumi-resource-tls",
)


def engine_path() -> str:
    """PATH with the built engine first when it is complete (it has the pinned plugins)."""
    path = os.environ.get("PATH", "")
    built = engine_bin()
    if all((built / name).is_file() for name in ENGINE_BINARIES):
        return f"{built}{os.pathsep}{path}"
    return path


def find_pulumi() -> str | None:
    return shutil.which("pulumi", path=engine_path())


def require_pulumi() -> str:
    found = find_pulumi()
    if found is None:
        raise EngineAbsentError(
            "the Pulumi CLI is absent: install it (https://www.pulumi.com/docs/install/), or on this "
            "team's machines build it with `make engine`"
        )
    return found


@dataclass
class Preview:
    """What one real preview of a stack did."""

    stack: str
    returncode: int
    output: str
    events: list[dict[str, Any]]
    requests: list[Request]
    seconds: float

    def steps(self) -> list[dict[str, Any]]:
        """The engine's planned step of every resource (`resourcePreEvent` metadata)."""
        return [e["resourcePreEvent"]["metadata"] for e in self.events if "resourcePreEvent" in e]

    def urns(self) -> set[str]:
        return {step["urn"] for step in self.steps()}

    def operations(self) -> Counter[str]:
        return Counter(str(step["op"]) for step in self.steps())

    def diagnostics(self, severity: str | None = None) -> list[dict[str, Any]]:
        found = [e["diagnosticEvent"] for e in self.events if "diagnosticEvent" in e]
        return [d for d in found if severity is None or d.get("severity") == severity]

    def changes(self) -> dict[str, int]:
        """The engine's own count of resource changes by operation (as in its `Resources:`)."""
        for event in self.events:
            if "summaryEvent" in event:
                return dict(event["summaryEvent"].get("resourceChanges") or {})
        return {}

    def summary(self) -> str:
        ops = ", ".join(f"{count} to {op}" for op, count in sorted(self.changes().items())) or "none"
        errors, warnings = len(self.diagnostics("error")), len(self.diagnostics("warning"))
        diags = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        verdict = "ok" if self.returncode == 0 else f"FAILED (exit {self.returncode})"
        return (
            f"real preview of {self.stack}: {verdict}; resources: {ops}; diagnostics: {diags}; "
            f"fake API requests: {len(self.requests)}; {self.seconds:.1f}s"
        )


def _scratch_project(work: Path, stack: str, stack_values: Mapping[str, Any] | None, venv: Path) -> Path:
    project = work / "project"
    project.mkdir()
    for part in PROJECT_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, project / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy2(source, project / part)
    # The language host runs the program with this project's virtualenv (absolute: the copy
    # has none of its own).
    doc = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    doc["runtime"].setdefault("options", {})["virtualenv"] = str(venv)
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    stack_file = project / f"Pulumi.{stack}.yaml"
    if stack_values is None:
        shutil.copy2(ROOT / f"Pulumi.{stack}.yaml", stack_file)
    else:
        stack_file.write_text(yaml.safe_dump({"config": dict(stack_values)}, sort_keys=False))
    return project


@cache
def _plugin_version(binary: Path) -> str:
    """The version a plugin binary reports (`-version`), or, for one without that flag (the
    kubernetes provider), the version of its installed Python SDK, which is pinned to it."""
    done = subprocess.run([binary, "-version"], capture_output=True, text=True, check=False, timeout=60)
    if done.returncode == 0 and done.stdout.strip():
        return done.stdout.strip().removeprefix("v")
    return metadata.version(binary.name.replace("-resource-", "-"))


def _install_plugins(plugins: Path) -> None:
    """The resource plugins the preview may use, in the layout of Pulumi's plugin cache.

    The built engine's plugins are linked in as `resource-<name>-v<version>/` (the version
    each binary reports); with a normal install, the user's own cache (~/.pulumi/plugins) is
    linked instead, read-only in effect since downloads are off.
    """
    built = engine_bin()
    if all((built / name).is_file() for name in ENGINE_BINARIES):
        plugins.mkdir(exist_ok=True)
        for binary in sorted(built.glob("pulumi-resource-*")):
            name = binary.name.removeprefix("pulumi-resource-")
            target = plugins / f"resource-{name}-v{_plugin_version(binary)}"
            target.mkdir(exist_ok=True)
            if not (target / binary.name).exists():
                (target / binary.name).symlink_to(binary)
        return
    user_plugins = Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi") / "plugins"
    if user_plugins.is_dir() and not plugins.exists():
        plugins.symlink_to(user_plugins)


def _environment(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_PREFIXES)}
    state = work / "state"
    state.mkdir(exist_ok=True)
    home = work / "pulumi-home"
    home.mkdir(exist_ok=True)
    _install_plugins(home / "plugins")
    env.update(
        PATH=engine_path(),
        PULUMI_HOME=str(home),
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        # Resource plugins come from the preview's plugin cache (above), at their versions;
        # plugins found on PATH instead would each draw a "using ... from $PATH" warning.
        PULUMI_IGNORE_AMBIENT_PLUGINS="true",
        # Enables `--event-log`: the engine's events (steps, diagnostics) as JSON lines, beside
        # its usual display.
        PULUMI_DEBUG_COMMANDS="true",
    )
    return env


def _current_venv() -> Path:
    """The virtualenv this tool runs in (make runs it with .venv/bin/python), else .venv."""
    return Path(sys.prefix) if sys.prefix != sys.base_prefix else ROOT / ".venv"


def run_preview(
    stack: str,
    *,
    stack_values: Mapping[str, Any] | None = None,
    stream: bool = False,
    timeout: float = 600,
) -> Preview:
    """Preview `stack` (its committed stack file, or `stack_values` as its `config:` block)."""
    with tempfile.TemporaryDirectory(prefix=f"delivery-preview-{stack}-") as tmp:
        work = Path(tmp)
        # The checksums no published file here gives stand in as the offline runs' (OFFLINE_PINS).
        values = (
            stack_values
            if stack_values is not None
            else read_stack_file(committed_stack_file(stack)).get("config")
        )
        project = _scratch_project(work, stack, with_offline_pins(values or {}, stack), _current_venv())
        return preview_project(project, stack, work, declared_secrets(), stream=stream, timeout=timeout)


def preview_project(
    project: Path,
    stack: str,
    work: Path,
    secrets: Sequence[str],
    *,
    config: Mapping[str, str] | None = None,
    stream: bool = False,
    timeout: float = 600,
) -> Preview:
    """`pulumi preview` of a Pulumi project directory whose stack file may be rewritten.

    `work` holds the state backend and PULUMI_HOME; `secrets` are the keys to set with
    `pulumi config set --secret` (dummy values), `config` more plain keys to set. The fake API
    serves for the whole run.
    """
    pulumi = require_pulumi()
    started = time.perf_counter()
    env = _environment(work)

    def cli(*args: str, secret_value: str | None = None) -> None:
        done = subprocess.run(
            [pulumi, *args, "--stack", stack, "--non-interactive"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        shown = " ".join(args) if secret_value is None else " ".join(args).replace(secret_value, "***")
        if done.returncode != 0:
            raise RuntimeError(f"`pulumi {shown}` failed:\n{done.stdout}{done.stderr}")

    with FakeApi() as api:
        done = subprocess.run(
            [pulumi, "stack", "init", stack, "--non-interactive"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"`pulumi stack init {stack}` failed:\n{done.stdout}{done.stderr}")
        for key in secrets:
            # The program checks that the passphrase it hands to CI opens this very stack.
            value = PASSPHRASE if key == "ciPulumiPassphrase" else f"dummy-{key}"
            cli("config", "set", "--secret", key, value, secret_value=value)
        cli("config", "set", "--secret", "github:token", DUMMY_GITHUB_TOKEN, secret_value=DUMMY_GITHUB_TOKEN)
        cli("config", "set", "github:baseUrl", f"{api.url}/")
        cli("config", "set", "--secret", "linode:token", DUMMY_LINODE_TOKEN, secret_value=DUMMY_LINODE_TOKEN)
        cli("config", "set", "linode:url", api.url)
        for key, value in (config or {}).items():
            cli("config", "set", key, value)

        events_file = work / f"events-{stack}.jsonl"
        proc = subprocess.Popen(
            [pulumi, "preview", "--stack", stack, "--non-interactive", "--event-log", str(events_file)],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if stream:
                sys.stdout.write(line)
                sys.stdout.flush()
        returncode = proc.wait(timeout=timeout)
        events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
        requests = list(api.requests)
    return Preview(
        stack=stack,
        returncode=returncode,
        output="".join(lines),
        events=events,
        requests=requests,
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("stack", choices=STACKS)
    args = parser.parse_args(argv)
    try:
        preview = run_preview(args.stack, stream=True)
    except EngineAbsentError as error:
        print(f"make preview: {error}", file=sys.stderr)
        return 2
    for request in preview.requests:
        if request.status != 200:
            print(f"fake API: unexpected request {request}", file=sys.stderr)
    print(preview.summary())
    return preview.returncode


if __name__ == "__main__":
    sys.exit(main())
