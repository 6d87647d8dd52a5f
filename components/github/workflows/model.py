"""Typed GitHub Actions workflow documents.

Frozen dataclasses for the parts of the workflow syntax the delivery system uses. The
constructors enforce the team's rules, so a workflow that breaks one cannot be built:

- a step names a pinned ``Action`` (never a free-form ``uses:`` string) and passes only the
  inputs that action declares, every required one included;
- ``run:`` scripts contain no ``${{ }}`` expression: values reach scripts only through
  ``env:``, so nothing a user controls is spliced into shell code;
- every job that runs steps has ``timeout-minutes`` and explicit ``permissions``;
- ``needs`` names jobs of the same workflow, without cycles;
- a gate job runs always (``if: always()``) and needs every other job that decides the
  outcome; its display name is the check name branch protection requires.

``to_dict`` methods return the plain document; ``render.py`` turns it into YAML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from components.github.workflows.pins import Action

Scalar = str | int | bool
PermissionScope = Literal[
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "id-token",
    "issues",
    "packages",
    "pull-requests",
    "security-events",
    "statuses",
]
Access = Literal["read", "write"]
Permissions = Mapping[PermissionScope, Access]

_EXPRESSION = re.compile(r"\$\{\{")
_JOB_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_STEP_ID = _JOB_ID
ALWAYS = "always()"
RUNNER = "ubuntu-24.04"


def _mapping(values: Mapping[Any, Any]) -> dict[str, Any]:
    return dict(values)


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Step:
    """One step: either ``run`` a script or ``uses`` a pinned action."""

    name: str
    run: str | None = None
    uses: Action | None = None
    with_: Mapping[str, Scalar] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None
    if_: str | None = None
    shell: Literal["bash"] | None = None
    working_directory: str | None = None
    continue_on_error: bool = False

    def __post_init__(self) -> None:
        if (self.run is None) == (self.uses is None):
            raise ValueError(f"step {self.name!r}: set exactly one of `run` and `uses`")
        if self.run is not None:
            if _EXPRESSION.search(self.run):
                raise ValueError(
                    f"step {self.name!r}: `run` must not contain ${{{{ }}}} expressions; "
                    "pass values through `env:` (script injection)"
                )
            if self.with_:
                raise ValueError(f"step {self.name!r}: `with` needs `uses`")
        if self.uses is not None:
            unknown = set(self.with_) - self.uses.inputs
            if unknown:
                raise ValueError(
                    f"step {self.name!r}: {self.uses.name} {self.uses.tag} declares no input(s) {sorted(unknown)}"
                )
            missing = self.uses.required_inputs - set(self.with_)
            if missing:
                raise ValueError(f"step {self.name!r}: {self.uses.name} requires input(s) {sorted(missing)}")
        if self.id is not None and not _STEP_ID.match(self.id):
            raise ValueError(f"step {self.name!r}: bad id {self.id!r}")
        if self.working_directory is not None and _EXPRESSION.search(self.working_directory):
            raise ValueError(f"step {self.name!r}: working-directory must be a literal path")

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name}
        if self.id is not None:
            doc["id"] = self.id
        if self.if_ is not None:
            doc["if"] = self.if_
        if self.uses is not None:
            doc["uses"] = self.uses.ref
        if self.with_:
            doc["with"] = _mapping(self.with_)
        if self.env:
            doc["env"] = _mapping(self.env)
        if self.shell is not None:
            doc["shell"] = self.shell
        if self.working_directory is not None:
            doc["working-directory"] = self.working_directory
        if self.continue_on_error:
            doc["continue-on-error"] = True
        if self.run is not None:
            doc["run"] = self.run
        return doc


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Concurrency:
    """A concurrency group; ``cancel_in_progress`` is a flag or one ``${{ }}`` expression (so a
    workflow can cancel superseded pull-request runs and never a run on ``main``)."""

    group: str
    cancel_in_progress: bool | str

    def __post_init__(self) -> None:
        flag = self.cancel_in_progress
        if isinstance(flag, str) and not (flag.startswith("${{") and flag.endswith("}}")):
            raise ValueError(
                f"concurrency {self.group!r}: cancel-in-progress must be a bool or one expression"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "cancel-in-progress": self.cancel_in_progress}


@dataclass(frozen=True)
class RunnerGroup:
    """A self-hosted runner group: the job runs on a runner of ``group`` carrying every label."""

    group: str
    labels: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "labels": list(self.labels)}


@dataclass(frozen=True)
class Strategy:
    """A matrix: literal axes, or one axis read from an expression (e.g. ``fromJSON(...)``)."""

    matrix: Mapping[str, tuple[Scalar, ...] | str]
    fail_fast: bool = False
    max_parallel: int | None = None

    def to_dict(self) -> dict[str, Any]:
        matrix = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.matrix.items()}
        doc: dict[str, Any] = {"fail-fast": self.fail_fast, "matrix": matrix}
        if self.max_parallel is not None:
            doc["max-parallel"] = self.max_parallel
        return doc


@dataclass(frozen=True)
class Job:
    """A job running ``steps`` on a runner, or calling a reusable workflow (``uses``)."""

    id: str
    permissions: Permissions
    name: str | None = None
    needs: tuple[str, ...] = ()
    if_: str | None = None
    steps: tuple[Step, ...] = ()
    timeout_minutes: int | None = None
    runs_on: str | RunnerGroup | None = None
    environment: str | None = None
    concurrency: Concurrency | None = None
    strategy: Strategy | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    uses: str | None = None  # ./.github/workflows/<file> of a reusable workflow
    with_: Mapping[str, Scalar] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    gate: bool = False
    # Observability only (metrics upload): its failure must not fail the gate.
    advisory: bool = False

    def __post_init__(self) -> None:
        where = f"job {self.id!r}"
        if not _JOB_ID.match(self.id):
            raise ValueError(f"{where}: bad job id")
        if self.uses is None:
            if not self.steps:
                raise ValueError(f"{where}: needs steps (or `uses` a reusable workflow)")
            if self.timeout_minutes is None or not 1 <= self.timeout_minutes <= 360:
                raise ValueError(f"{where}: timeout-minutes between 1 and 360 is required")
            if self.runs_on is None:
                object.__setattr__(self, "runs_on", RUNNER)
            if self.with_ or self.secrets:
                raise ValueError(f"{where}: `with`/`secrets` belong to reusable-workflow calls")
            step_ids = [s.id for s in self.steps if s.id is not None]
            if len(step_ids) != len(set(step_ids)):
                raise ValueError(f"{where}: step ids must be unique")
        else:
            if not self.uses.startswith("./.github/workflows/"):
                raise ValueError(f"{where}: only this repository's reusable workflows may be called")
            # The called workflow's own jobs carry runner, steps and timeouts.
            if self.steps or self.timeout_minutes is not None or self.runs_on is not None:
                raise ValueError(f"{where}: a reusable-workflow call takes no steps, runner or timeout")
            if self.environment is not None or self.env:
                raise ValueError(f"{where}: a reusable-workflow call takes no environment or env")
        if self.gate:
            if self.if_ != ALWAYS:
                raise ValueError(f"{where}: a gate job must run always (`if: {ALWAYS}`)")
            if not self.needs:
                raise ValueError(f"{where}: a gate job must need the jobs it judges")

    @property
    def check_name(self) -> str:
        """The name GitHub reports for this job's check run (``name:`` if set, else the id)."""
        return self.name or self.id

    @property
    def may_skip(self) -> bool:
        """Whether the job has its own condition, so ``skipped`` is a designed outcome."""
        return self.if_ is not None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.name is not None:
            doc["name"] = self.name
        if self.needs:
            doc["needs"] = list(self.needs)
        if self.if_ is not None:
            doc["if"] = self.if_
        doc["permissions"] = _mapping(self.permissions)
        if self.strategy is not None:
            doc["strategy"] = self.strategy.to_dict()
        if self.uses is not None:
            doc["uses"] = self.uses
            if self.with_:
                doc["with"] = _mapping(self.with_)
            if self.secrets:
                doc["secrets"] = _mapping(self.secrets)
            return doc
        if self.environment is not None:
            doc["environment"] = self.environment
        if self.concurrency is not None:
            doc["concurrency"] = self.concurrency.to_dict()
        doc["runs-on"] = self.runs_on.to_dict() if isinstance(self.runs_on, RunnerGroup) else self.runs_on
        doc["timeout-minutes"] = self.timeout_minutes
        if self.outputs:
            doc["outputs"] = _mapping(self.outputs)
        if self.env:
            doc["env"] = _mapping(self.env)
        doc["steps"] = [s.to_dict() for s in self.steps]
        return doc


# --------------------------------------------------------------------------- triggers


InputType = Literal["string", "boolean", "choice", "number"]


@dataclass(frozen=True)
class Input:
    """An input of ``workflow_dispatch`` or ``workflow_call``."""

    description: str
    type: InputType = "string"
    required: bool = False
    default: Scalar | None = None
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.type == "choice") != bool(self.options):
            raise ValueError(f"input {self.description!r}: `options` go with type `choice` only")
        if self.required and self.default is not None:
            raise ValueError(f"input {self.description!r}: a required input takes no default")

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"description": self.description, "type": self.type, "required": self.required}
        if self.default is not None:
            doc["default"] = self.default
        if self.options:
            doc["options"] = list(self.options)
        return doc


@dataclass(frozen=True)
class _BranchAndPathFilter:
    branches: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.branches:
            doc["branches"] = list(self.branches)
        if self.paths:
            doc["paths"] = list(self.paths)
        return doc


@dataclass(frozen=True)
class Push(_BranchAndPathFilter):
    """`on.push`, optionally filtered by branch and path."""


@dataclass(frozen=True)
class PullRequest(_BranchAndPathFilter):
    """`on.pull_request`, optionally filtered by base branch and path."""


@dataclass(frozen=True)
class MergeGroup:
    """`on.merge_group`: the merge queue asks for the required checks of a queued change."""

    def to_dict(self) -> dict[str, Any]:
        # `checks_requested` is the event's only activity type.
        return {"types": ["checks_requested"]}


@dataclass(frozen=True)
class WorkflowDispatch:
    inputs: Mapping[str, Input] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": {k: v.to_dict() for k, v in self.inputs.items()}} if self.inputs else {}


@dataclass(frozen=True)
class WorkflowCall:
    inputs: Mapping[str, Input] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)  # name -> description; all required

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.inputs:
            doc["inputs"] = {k: v.to_dict() for k, v in self.inputs.items()}
        if self.secrets:
            doc["secrets"] = {k: {"description": v, "required": True} for k, v in self.secrets.items()}
        return doc


@dataclass(frozen=True)
class RepositoryDispatch:
    """`on.repository_dispatch` of the listed event types (sent through the REST API)."""

    types: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.types:
            raise ValueError("repository_dispatch needs its event types: an empty list would take every one")

    def to_dict(self) -> dict[str, Any]:
        return {"types": list(self.types)}


@dataclass(frozen=True)
class Triggers:
    push: Push | None = None
    pull_request: PullRequest | None = None
    merge_group: MergeGroup | None = None
    schedule: tuple[str, ...] = ()  # cron expressions, UTC
    workflow_dispatch: WorkflowDispatch | None = None
    workflow_call: WorkflowCall | None = None
    repository_dispatch: RepositoryDispatch | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.push is not None:
            doc["push"] = self.push.to_dict()
        if self.pull_request is not None:
            doc["pull_request"] = self.pull_request.to_dict()
        if self.merge_group is not None:
            doc["merge_group"] = self.merge_group.to_dict()
        if self.schedule:
            doc["schedule"] = [{"cron": c} for c in self.schedule]
        if self.workflow_dispatch is not None:
            doc["workflow_dispatch"] = self.workflow_dispatch.to_dict()
        if self.workflow_call is not None:
            doc["workflow_call"] = self.workflow_call.to_dict()
        if self.repository_dispatch is not None:
            doc["repository_dispatch"] = self.repository_dispatch.to_dict()
        return doc

    @property
    def on_every_pull_request(self) -> bool:
        """Runs on every pull request to any branch: no path or branch filter can skip it."""
        pr = self.pull_request
        return pr is not None and not pr.paths and not pr.branches


# --------------------------------------------------------------------------- workflows


@dataclass(frozen=True)
class Workflow:
    """One file under ``.github/workflows/``."""

    file: str
    name: str
    on: Triggers
    jobs: tuple[Job, ...]
    permissions: Permissions = field(default_factory=dict)
    concurrency: Concurrency | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    run_name: str | None = None

    def __post_init__(self) -> None:
        where = f"workflow {self.file}"
        if not re.match(r"^[a-z0-9-]+\.yml$", self.file):
            raise ValueError(f"{where}: file name must be <lowercase-name>.yml")
        if any(access != "read" for access in self.permissions.values()):
            raise ValueError(f"{where}: top-level permissions must be none or read-only")
        ids = [j.id for j in self.jobs]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{where}: job ids must be unique")
        for job in self.jobs:
            unknown = set(job.needs) - set(ids)
            if unknown or job.id in job.needs:
                raise ValueError(f"{where}: job {job.id!r} needs unknown job(s) {sorted(unknown)}")
        self._check_acyclic()
        gates = [j for j in self.jobs if j.gate]
        if len(gates) > 1:
            raise ValueError(f"{where}: at most one gate job")
        for gate in gates:
            judged = {j.id for j in self.jobs if not j.gate and not j.advisory}
            missing = judged - set(gate.needs)
            if missing:
                raise ValueError(f"{where}: gate {gate.id!r} must need {sorted(missing)}")

    def _check_acyclic(self) -> None:
        needs = {j.id: j.needs for j in self.jobs}
        state: dict[str, int] = {}

        def visit(node: str) -> None:
            if state.get(node) == 1:
                raise ValueError(f"workflow {self.file}: `needs` cycle through {node!r}")
            if state.get(node) == 2:
                return
            state[node] = 1
            for dep in needs[node]:
                visit(dep)
            state[node] = 2

        for node in needs:
            visit(node)

    @property
    def path(self) -> str:
        return f".github/workflows/{self.file}"

    def job(self, job_id: str) -> Job:
        for job in self.jobs:
            if job.id == job_id:
                return job
        raise KeyError(f"{self.file} has no job {job_id!r}")

    @cached_property
    def gate(self) -> Job | None:
        return next((j for j in self.jobs if j.gate), None)

    def chain_length(self, job_id: str) -> int:
        """Jobs on the longest ``needs`` chain ending at ``job_id`` (itself included)."""
        job = self.job(job_id)
        return 1 + max((self.chain_length(dep) for dep in job.needs), default=0)

    def critical_path(self, job_ids: set[str] | None = None) -> int:
        """Longest ``needs`` chain, in jobs, over ``job_ids`` (default: every job)."""
        ids = job_ids if job_ids is not None else {j.id for j in self.jobs}
        return max((self.chain_length(i) for i in ids), default=0)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name}
        if self.run_name is not None:
            doc["run-name"] = self.run_name
        doc["on"] = self.on.to_dict()
        doc["permissions"] = _mapping(self.permissions)
        if self.concurrency is not None:
            doc["concurrency"] = self.concurrency.to_dict()
        if self.env:
            doc["env"] = _mapping(self.env)
        doc["jobs"] = {j.id: j.to_dict() for j in self.jobs}
        return doc
