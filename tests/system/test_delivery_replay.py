"""The delivery loop replayed: ``delivery.yml`` as the program renders it, across pushes.

GitHub keeps at most one pending run per concurrency group: a new push cancels the older
pending run (the delivery workflow never cancels one in progress). A service changed only
in a cancelled push must still be delivered by a later run. The replay runs the rendered
workflow's jobs in order on a scratch repository: every ``run:`` script in bash with the
``env:`` GitHub would give it, and the actions simulated by what they produce (a checkout is
a clone, the image build reports a digest, artifacts are copied between jobs). An
expression or action it does not know fails the test, so a change of the workflow cannot
silently bypass the replay. The build writes a stand-in OCI archive (its index names the
digest); the checksum-verified Trivy install is simulated by a `trivy` that finds nothing,
and `skopeo` by a script that copies archives and answers for a registry directory, so
the scan and publish scripts themselves run.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.contracts.gitops_layout import environment_dir, image_file
from components.github.workflows.toolchain import TRIVY_INSTALL_SCRIPT
from components.gitops.config import GitOpsConfig
from tests.support.scratch import bash, git
from tests.support.stacks import run_stack
from tools.offline import Run

# Real tools and processes (docs/development.md, "Tests"): left out of `make test-fast`.
pytestmark = pytest.mark.slow

OWNER_STACK = "production"
WORKFLOW = ".github/workflows/delivery.yml"
SERVICES = ("api-router-service", "billing-service", "user-org-service")
ENVIRONMENTS = ("development", "staging")  # deployed by the delivery workflow itself
CLUSTERS_PATH = GitOpsConfig().clusters_path  # the owner stack's (it sets none)
ZERO = "0" * 40
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_EVENT_CHOICE = re.compile(r"^github\.event_name == '(\w+)' && '([\w-]+)' \|\| '([\w-]+)'$")
_NOT_EMPTY = re.compile(r"^(needs\.[\w-]+\.outputs\.\w+) != '\[\]'$")
_NO_OP_ACTIONS = {
    "docker/setup-qemu-action",
    "docker/setup-buildx-action",
    "docker/login-action",
    "aquasecurity/trivy-action",
    # Code scanning is GitHub's; the replay keeps the reports as artifacts only.
    "github/codeql-action/upload-sarif",
}


# A registry for the publish script: `skopeo copy` of an archive, per platform (the scan) or
# whole to a `docker://` name (kept under $REGISTRY), and `skopeo inspect --raw` of a name.
FAKE_SKOPEO = r"""#!/usr/bin/env bash
set -euo pipefail
command="$1"; shift
args=(); for arg in "$@"; do [[ "$arg" == --* || "$arg" == linux || "$arg" == amd64 || "$arg" == arm64 ]] || args+=("$arg"); done
registry_path() { printf '%s/%s.tar' "$REGISTRY" "$(tr '/:' '__' <<<"${1#docker://}")"; }
case "$command" in
  copy)
    source="${args[-2]#oci-archive:}" target="${args[-1]}"
    if [[ "$target" == docker://* ]]; then cp "$source" "$(registry_path "$target")"; else cp "$source" "${target#oci-archive:}"; fi ;;
  inspect) tar -xOf "$(registry_path "${args[-1]}")" manifest ;;
  *) exit 2 ;;
esac
"""
# `trivy image --output <json>` finds nothing; `trivy convert --format sarif --output <f>`
# writes an empty SARIF report; the table conversion prints nothing.
FAKE_TRIVY = r"""#!/usr/bin/env bash
set -euo pipefail
command="$1"; shift
out=""
while [[ $# -gt 0 ]]; do [[ "$1" == --output ]] && out="$2"; shift; done
echo 'trivy: no findings'
case "$command" in
  image) echo '{"Results": []}' > "$out" ;;
  convert) if [[ -n "$out" ]]; then echo '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Trivy"}}, "results": []}]}' > "$out"; fi ;;
esac
"""


def rendered_delivery(run: Run) -> dict[str, Any]:
    (text,) = (
        str(r.plain["content"])
        for r in run.resources
        if r.type == "github:index/repositoryFile:RepositoryFile" and r.plain["file"] == WORKFLOW
    )
    doc: dict[str, Any] = yaml.safe_load(text)
    doc["on"] = doc.pop(True)
    return doc


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return rendered_delivery(run_stack(OWNER_STACK))


def digest_of(service: str, sha: str) -> str:
    return "sha256:" + hashlib.sha256(f"{service}@{sha}".encode()).hexdigest()


class Replay:
    """One scratch repository (`origin`, a bare repository with `main`) and the runs on it."""

    def __init__(self, root: Path, workflow: dict[str, Any]):
        self.root = root
        self.workflow = workflow
        self.origin = root / "origin.git"
        git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(self.origin))
        self.dev = root / "developer"
        git(root, "clone", "--quiet", str(self.origin), str(self.dev))
        for service in SERVICES:
            path = self.dev / "services" / service
            path.mkdir(parents=True)
            (path / "Makefile").write_text("build:\n\ttrue\n")
            (path / "main.go").write_text("package main\n")
        git(self.dev, "add", ".")
        git(self.dev, "commit", "--quiet", "-m", "three services")
        git(self.dev, "push", "--quiet", "origin", "HEAD:main")
        self.runs = 0
        self.changes = 0
        self.events: list[tuple[str, str]] = []  # (github.event.before, github.sha) of each run
        self.built: list[list[str]] = []  # what each run's discovery selected

    def head(self) -> str:
        return git(self.origin, "rev-parse", "main")

    def push(self, service: str) -> tuple[str, str]:
        """A developer's change of one service merged to main: (event.before, sha)."""
        git(self.dev, "pull", "--quiet", "--rebase", "origin", "main")
        before = git(self.dev, "rev-parse", "HEAD")
        main_go = self.dev / "services" / service / "main.go"
        self.changes += 1
        main_go.write_text(main_go.read_text() + f"// change {self.changes}\n")
        git(self.dev, "commit", "--quiet", "-am", f"change {service}")
        git(self.dev, "push", "--quiet", "origin", "HEAD:main")
        return before, git(self.dev, "rev-parse", "HEAD")

    # ------------------------------------------------------------------ one run

    def run(
        self,
        before: str,
        sha: str,
        *,
        after_job: dict[str, Callable[[], None]] | None = None,
    ) -> None:
        """The workflow's run for the push `before..sha`, job after job; `after_job` runs
        callbacks between jobs (pushes landing while the run is in progress)."""
        self.runs += 1
        self.events.append((before, sha))
        base = self.root / f"run-{self.runs}"
        artifacts = base / "artifacts"
        artifacts.mkdir(parents=True)
        results: dict[str, str] = {}
        outputs: dict[str, dict[str, str]] = {}
        github = {
            "github.sha": sha,
            "github.event.before": before,
            "github.event_name": "push",
            "github.server_url": "https://github.com",
            "github.ref_name": "main",
            "github.actor": "a-developer",
            "github.token": "not-a-real-token",
            "secrets.DEPLOYER_GITHUB_TOKEN": "not-a-real-token",
        }
        for job_id, job in self.workflow["jobs"].items():
            needed = job.get("needs", [])
            context = dict(github)
            for need in needed:
                context[f"needs.{need}.result"] = results[need]
                for key, value in outputs.get(need, {}).items():
                    context[f"needs.{need}.outputs.{key}"] = value
            condition = job.get("if")
            # Failure alerts (`failure()`, on main) never run: the replayed runs do not fail.
            if condition is not None and condition.startswith("failure()"):
                results[job_id] = "skipped"
                continue
            # The delivery events job (ci-main) only records what happened: not replayed here,
            # tests/contracts/test_delivery_events.py runs it.
            if job.get("environment") == "ci-main":
                results[job_id] = "skipped"
                continue
            # As on GitHub: a job whose needs did not all succeed is skipped, unless its `if`
            # calls a status function (`!cancelled()`) and so decides for itself.
            decides = condition is not None and "!cancelled()" in condition
            if (not decides and any(results[n] != "success" for n in needed)) or not self._holds(
                condition, context
            ):
                results[job_id] = "skipped"
                continue
            legs: list[dict[str, str]] = [{}]
            if "strategy" in job:
                ((axis, values),) = job["strategy"]["matrix"].items()
                legs = [{f"matrix.{axis}": v} for v in json.loads(self._resolve(values, context, raw=True))]
            job_outputs: dict[str, str] = {}
            for index, leg in enumerate(legs):
                job_outputs = self._run_job(
                    job, {**context, **leg}, base / f"{job_id}-{index}", artifacts, sha
                )
            if job_id == "discover":
                self.built.append(json.loads(job_outputs["services"]))
            outputs[job_id] = job_outputs
            results[job_id] = "success"
            if after_job and job_id in after_job:
                after_job[job_id]()

    def _run_job(
        self, job: dict[str, Any], context: dict[str, str], base: Path, artifacts: Path, sha: str
    ) -> dict[str, str]:
        workspace, temp = base / "workspace", base / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        context = {**context, "runner.temp": str(temp)}
        for number, step in enumerate(job["steps"]):
            with_ = {
                k: self._resolve(v, context) if isinstance(v, str) else v
                for k, v in step.get("with", {}).items()
            }
            if "uses" in step:
                name = step["uses"].split("@")[0]
                produced = self._action(
                    name, with_=with_, workspace=workspace, artifacts=artifacts, sha=sha, context=context
                )
            else:
                produced = self._script(step, context, workspace, temp, number)
            if "id" in step:
                for key, value in produced.items():
                    context[f"steps.{step['id']}.outputs.{key}"] = value
        return {k: self._resolve(v, context) for k, v in job.get("outputs", {}).items()}

    def _action(
        self,
        name: str,
        *,
        with_: dict[str, Any],
        workspace: Path,
        artifacts: Path,
        sha: str,
        context: dict[str, str],
    ) -> dict[str, str]:
        if name == "actions/checkout":
            target = workspace / with_.get("path", ".")
            git(self.root, "clone", "--quiet", "--no-checkout", str(self.origin), str(target))
            # A branch as it is now, else the commit that triggered the run.
            ref = with_.get("ref")
            git(target, "checkout", "--quiet", "--detach", f"origin/{ref}" if ref else sha)
            return {}
        if name == "docker/build-push-action":
            # An OCI archive whose index names the image's digest: the sha256 of its manifest.
            assert with_["push"] is False
            dest = Path(re.fullmatch(r"type=oci,dest=(\S+)", with_["outputs"])[1])  # type: ignore[index]
            manifest = f"{context['matrix.service']}@{sha}".encode()
            index = json.dumps(
                {"manifests": [{"digest": digest_of(context["matrix.service"], sha)}]}
            ).encode()
            with tarfile.open(dest, "w") as archive:
                for member, data in (("index.json", index), ("manifest", manifest)):
                    info = tarfile.TarInfo(member)
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
            return {}
        if name == "actions/upload-artifact":
            source = Path(with_["path"])
            if not source.is_absolute():
                source = workspace / source
            if source.is_file():
                (artifacts / with_["name"]).mkdir()
                shutil.copy(source, artifacts / with_["name"])
            else:
                shutil.copytree(source, artifacts / with_["name"])
            return {}
        if name == "actions/download-artifact" and "name" in with_:
            shutil.copytree(artifacts / with_["name"], Path(with_["path"]), dirs_exist_ok=True)
            return {}
        if name == "actions/download-artifact":
            target = Path(with_["path"])
            if not target.is_absolute():
                target = workspace / target
            target.mkdir(parents=True, exist_ok=True)
            for artifact in sorted(artifacts.glob(with_["pattern"])):
                # Without merge-multiple each artifact lands in a directory of its name.
                into = target if with_.get("merge-multiple") is True else target / artifact.name
                shutil.copytree(artifact, into, dirs_exist_ok=True)
            return {}
        if name in _NO_OP_ACTIONS:
            return {}
        raise AssertionError(f"the replay does not simulate {name}: teach it what the action produces")

    def _script(
        self, step: dict[str, Any], context: dict[str, str], workspace: Path, temp: Path, number: int
    ) -> dict[str, str]:
        output = temp / f"output-{number}"
        output.write_text("")
        env = {k: self._resolve(str(v), context) for k, v in step.get("env", {}).items()}
        env |= {
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(temp / "summary"),
            "RUNNER_TEMP": str(temp),
            "GITHUB_WORKSPACE": str(workspace),
        }
        tools = self.root / "bin"
        if not tools.exists():
            tools.mkdir()
            for tool, text in (("skopeo", FAKE_SKOPEO), ("trivy", FAKE_TRIVY)):
                (tools / tool).write_text(text)
                (tools / tool).chmod(0o755)
            (self.root / "registry").mkdir()
        env |= {"PATH": f"{tools}:{os.environ['PATH']}", "REGISTRY": str(self.root / "registry")}
        if step["run"] == TRIVY_INSTALL_SCRIPT:
            return {}  # downloads; the stand-in trivy is on PATH
        done = bash(step["run"], workspace, env)
        assert done.returncode == 0, f"step {step['name']!r} failed:\n{done.stdout}{done.stderr}"
        return dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)

    # ------------------------------------------------------------------ expressions

    @staticmethod
    def _resolve(value: str, context: dict[str, str], *, raw: bool = False) -> str:
        def one(match: re.Match[str]) -> str:
            expression = match[1]
            choice = _EVENT_CHOICE.match(expression)
            if choice:
                return choice[2] if context["github.event_name"] == choice[1] else choice[3]
            inner = re.fullmatch(r"fromJSON\((.+)\)", expression) if raw else None
            key = inner[1] if inner else expression
            if key not in context:
                raise AssertionError(f"the replay does not know `{expression}`: teach it")
            return context[key]

        return _EXPRESSION.sub(one, value)

    @staticmethod
    def _holds(condition: str | None, context: dict[str, str]) -> bool:
        if condition is None:
            return True
        not_empty = _NOT_EMPTY.match(condition)
        if not_empty:
            return context[not_empty[1]] != "[]"
        # Comparisons of needs' results and outputs joined by && and || (and !cancelled(),
        # true in a replay that cancels nothing), evaluated as Python.
        known = r"needs\.[\w-]+\.(?:result|outputs\.\w+)"
        if re.fullmatch(rf"(?:!cancelled\(\)|{known}|==|!=|&&|\|\||'[^']*'|[()\s])+", condition) is None:
            raise AssertionError(f"the replay does not know the condition `{condition}`: teach it")
        # A skipped job has no outputs: GitHub reads a missing one as the empty string.
        python = re.sub(known, lambda m: repr(context.get(m[0], "")), condition)
        python = python.replace("!cancelled()", "True").replace("&&", " and ").replace("||", " or ")
        return bool(eval(python, {"__builtins__": {}}, {"True": True}))

    # ------------------------------------------------------------------ what ended on main

    def undelivered(self) -> list[tuple[str, str]]:
        """(service, environment) whose image committed on main was not built from the
        service's current source."""
        missing: list[tuple[str, str]] = []
        for service in SERVICES:
            source = git(self.origin, "rev-parse", f"main:services/{service}")
            for env in ENVIRONMENTS:
                path = image_file(environment_dir(CLUSTERS_PATH, env), service)
                if path not in self.files_on_main():
                    missing.append((service, env))
                    continue
                image = yaml.safe_load(git(self.origin, "show", f"main:{path}"))["image"]
                # The values contract: tag `<commit>@<digest>`, reference `<repository>@<digest>`.
                commit, _, pinned = image["tag"].partition("@")
                built_from = git(self.origin, "rev-parse", f"{commit}:services/{service}")
                if (
                    built_from != source
                    or image["digest"] != digest_of(service, commit)
                    or pinned != image["digest"]
                    or image["reference"] != f"{image['repository']}@{image['digest']}"
                ):
                    missing.append((service, env))
        return missing

    def files_on_main(self) -> set[str]:
        return set(git(self.origin, "ls-tree", "-r", "--name-only", "main").splitlines())


def previous_design(replay: Replay, before: str, sha: str) -> list[str]:
    """What the replaced discovery selected: the services changed in `before..sha`, all of
    them when `before` is unknown."""
    if before == ZERO:
        return list(SERVICES)
    changed = git(replay.origin, "diff", "--name-only", before, sha, "--", "services/").splitlines()
    return sorted({path.split("/")[1] for path in changed})


def test_no_service_is_lost_when_github_cancels_a_pending_run(
    tmp_path: Path, workflow: dict[str, Any]
) -> None:
    replay = Replay(tmp_path, workflow)
    # First delivery: nothing is recorded on main yet, so every service is built.
    replay.run(ZERO, replay.head())
    # Push 1; while its run builds, push 2 arrives (its run waits) and push 3 (GitHub
    # cancels the waiting run 2, which never runs); run 1 deploys on top of both pushes.
    before_1, sha_1 = replay.push("api-router-service")
    pushes: list[tuple[str, str]] = []

    def two_more_pushes() -> None:
        pushes.append(replay.push("billing-service"))
        pushes.append(replay.push("user-org-service"))

    replay.run(before_1, sha_1, after_job={"images": two_more_pushes})
    (_, _), (before_3, sha_3) = pushes
    replay.run(before_3, sha_3)

    assert replay.undelivered() == []
    assert replay.built == [list(SERVICES), ["api-router-service"], ["billing-service", "user-org-service"]]
    # The replaced design, on the same runs, never selects the cancelled push's service.
    previous = [previous_design(replay, before, sha) for before, sha in replay.events]
    assert previous == [list(SERVICES), ["api-router-service"], ["user-org-service"]]
    # Nothing new: a re-run builds nothing and commits nothing (the bot's own commits are
    # no changes of a service).
    head = replay.head()
    replay.run(before_3, sha_3)
    assert replay.built[-1] == []
    assert replay.head() == head
