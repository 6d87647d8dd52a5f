"""``infrastructure.yml``: this Pulumi program, previewed without credentials on pull requests, applied on main.

Pull request and merge queue: ``changes`` decides whether the change touches the program;
if so, ``validate`` runs the program's own tests, lint and type checks, and ``preview-<env>``
runs the credential-free preview of every stack (``make preview STACK=<env>``: the real
Pulumi engine against a fake GitHub and Linode API on the runner). Neither job names an
environment or reads a secret: a change nobody reviewed reaches nothing that can write
(docs/security.md, "Credential closure").

``main`` (a push, or a manual run there): ``validate``, then per stack in order
development, staging, production: ``state-preview-<env>`` (the real ``pulumi preview``
against the stack's state, in ``<env>-preview``, which deploys from ``main`` only and, for
production, only after a reviewer approves) and ``up-<env>`` (in ``<env>``). Both run on
the stack's infrastructure runner (``pipeline.runners``): a control-plane ACL admits only a
self-hosted group's egress addresses. Runs on ``main`` queue in one concurrency group that
never cancels a run in progress, so merges reach the stacks in the order they were made; and
each ``up`` first refuses a commit older than the one its stack last started an ``up`` of
(``ORDER_SCRIPT``), which a re-run of an old run or a late approval would otherwise apply.

The workflow runs on every pull request and merge-queue entry (``changes`` skips the
previews when the program is untouched) so that its gate can be a required status check.
"""

from __future__ import annotations

from components.config.base import Environment
from components.github import ci_contract
from components.github.workflows.common import (
    OBJECT_STORAGE_ENV,
    READ,
    checkout,
    event_recorder_checkout,
    gate_job,
    notify_job,
    pipeline_run_step,
    secret,
    upload_events_step,
    variable,
)
from components.github.workflows.model import (
    Concurrency,
    Job,
    MergeGroup,
    PullRequest,
    Push,
    Step,
    Triggers,
    Workflow,
    WorkflowDispatch,
)
from components.github.workflows.pins import action
from components.github.workflows.settings import Settings
from components.github.workflows.toolchain import ENGINE_ENV, pulumi_install_step, runtime_install_step

FILE = "infrastructure.yml"
GATE = "infrastructure-gate"

CHANGES_SCRIPT = r"""set -euo pipefail
# On a pull request (checked out as its merge commit, HEAD^1 = base): does it touch
# PULUMI_PATH? Other events always run.
if [[ "$EVENT_NAME" != pull_request ]]; then
  changed=true
elif git diff --quiet HEAD^1 HEAD -- "$PULUMI_PATH/"; then
  changed=false
else
  changed=true
fi
echo "infra=$changed" >> "$GITHUB_OUTPUT"
echo "Pulumi program changed: $changed" >> "$GITHUB_STEP_SUMMARY"
"""

# A push to main, or a manual run there (a merge-queue run's ref is its temporary branch).
# Not a guard: the `<env>-preview` and `<env>` environments deploy from main only.
EVENTS_WORKFLOW = "infrastructure"
ON_MAIN = "github.event_name != 'pull_request' && github.ref == 'refs/heads/main'"
ON_CHANGE = "(github.event_name == 'pull_request' || github.event_name == 'merge_group')"
PROGRAM_CHANGED = "needs.changes.outputs.infra == 'true'"

# The stack tag holding the commit of the newest `pulumi up` that started on the stack (the
# S3 state backend keeps stack tags beside the state since Pulumi 3.274).
APPLIED_COMMIT_TAG = "delivery:applied-commit"

ORDER_SCRIPT = r"""set -euo pipefail
# In: STACK, TAG. Refuses to apply HEAD unless the commit the stack last started an up of
# (stack tag TAG) is HEAD or one of its ancestors; then records HEAD there, before the up,
# so a newer up that fails half-way also holds every older commit back.
head="$(git rev-parse HEAD)"
err="$(mktemp)"
if last="$(pulumi stack tag get "$TAG" --stack "$STACK" 2>"$err")"; then
  :
elif grep -qF "stack tag '$TAG' not found" "$err"; then
  last=""  # the first up from CI
else
  cat "$err" >&2
  echo "::error::cannot read stack tag $TAG of $STACK: refusing to apply without knowing what was applied"
  exit 1
fi
if [[ -n "$last" ]]; then
  if [[ ! "$last" =~ ^[0-9a-f]{40}$ ]] || ! git cat-file -e "$last^{commit}" 2>/dev/null; then
    echo "::error::$STACK was last applied at '$last', not a commit of main; check the stack's history, then: pulumi stack tag rm $TAG --stack $STACK"
    exit 1
  fi
  if ! git merge-base --is-ancestor "$last" "$head"; then
    echo "::error::$STACK was last applied at $last, which $head does not contain: refusing to roll the stack back; run the workflow on main's newest commit"
    exit 1
  fi
fi
pulumi stack tag set "$TAG" "$head" --stack "$STACK"
echo "Applying $head to $STACK (previous up: ${last:-none})" >> "$GITHUB_STEP_SUMMARY"
"""

PREVIEW_SCRIPT = r"""set -euo pipefail
# The real Pulumi engine against a fake GitHub and Linode API on this runner: no stack
# credential, no state, nothing the change could use to write anywhere.
make preview STACK="$STACK"
"""


def pulumi_env() -> dict[str, str]:
    """Credentials of one stack, from the job's GitHub environment."""
    return {
        # The S3-compatible state backend (Linode Object Storage) reads the AWS variables.
        "AWS_ACCESS_KEY_ID": secret(ci_contract.STATE_ACCESS_KEY_ID),
        "AWS_SECRET_ACCESS_KEY": secret(ci_contract.STATE_SECRET_ACCESS_KEY),
        **OBJECT_STORAGE_ENV,
        "PULUMI_CONFIG_PASSPHRASE": secret(ci_contract.PULUMI_CONFIG_PASSPHRASE),
        "LINODE_TOKEN": secret(ci_contract.LINODE_TOKEN),
        # The github provider's credentials: the deployer identity (read-only in previews).
        "GITHUB_TOKEN": secret(ci_contract.DEPLOYER_GITHUB_TOKEN),
    }


def one_run_on_main_at_a_time() -> Concurrency:
    """Pull requests: a new push cancels the stale run. ``main`` (pushes and manual runs): one
    group that never cancels, so each merge's run starts after the previous one finished;
    GitHub keeps one run pending and replaces it with a newer one, which contains its commit.
    Merge-queue and other runs: each alone in its group (keyed by the run id)."""
    return Concurrency(
        group=(
            "${{ github.workflow }}-${{ github.event.pull_request.number"
            " || (github.ref == 'refs/heads/main' && 'main') || github.run_id }}"
        ),
        cancel_in_progress="${{ github.event_name == 'pull_request' }}",
    )


def _setup_python(settings: Settings) -> Step:
    return Step(
        name="Set up Python",
        uses=action("actions/setup-python"),
        with_={"python-version": settings.workflows.python_version},
    )


def _pulumi_steps(
    settings: Settings, stack: Environment, command: str, *, refresh: bool = False
) -> tuple[Step, ...]:
    """The program's hash-locked dependencies, the verified CLI and plugins, then ``command``.
    With ``refresh`` (drift detection) the preview reads every resource back first and
    fails on any change."""
    wf = settings.workflows
    with_: dict[str, str | bool] = {
        "command": command,
        "stack-name": stack,
        "work-dir": wf.pulumi_path,
        "pulumi-version": wf.pulumi_version,
        "cloud-url": variable(ci_contract.PULUMI_BACKEND_URL),
        "diff": True,
    }
    if command == "preview":
        # On main there is no pull request to comment on: the job summary shows the diff
        # to whoever approves the `up`.
        with_ |= {"comment-on-summary": True}
    if refresh:
        with_ |= {"refresh": True, "expect-no-changes": True}
    ordering: tuple[Step, ...] = ()
    if command == "up":
        ordering = (
            Step(
                name=f"Refuse a commit older than {stack}'s last up",
                working_directory=wf.pulumi_path,
                env={
                    "STACK": stack,
                    "TAG": APPLIED_COMMIT_TAG,
                    # The stack tags live in the state bucket: the state key and its URL only.
                    "PULUMI_BACKEND_URL": variable(ci_contract.PULUMI_BACKEND_URL),
                    "AWS_ACCESS_KEY_ID": secret(ci_contract.STATE_ACCESS_KEY_ID),
                    "AWS_SECRET_ACCESS_KEY": secret(ci_contract.STATE_SECRET_ACCESS_KEY),
                    **OBJECT_STORAGE_ENV,
                },
                run=ORDER_SCRIPT,
            ),
        )
    return (
        # The order check asks git whether the last applied commit is an ancestor: whole history.
        checkout(fetch_depth=0) if command == "up" else checkout(),
        _setup_python(settings),
        runtime_install_step(settings),
        pulumi_install_step(settings),
        *ordering,
        Step(
            name=f"pulumi {command}{' --refresh' if refresh else ''} ({stack})",
            uses=action("pulumi/actions"),
            env={**pulumi_env(), **ENGINE_ENV},
            with_=with_,
        ),
    )


def refresh_preview_steps(settings: Settings, stack: Environment) -> tuple[Step, ...]:
    """``pulumi preview --refresh --expect-no-changes`` of ``stack`` (drift.yml's check)."""
    return _pulumi_steps(settings, stack, "preview", refresh=True)


def workflow(settings: Settings) -> Workflow:
    changes = Job(
        id="changes",
        permissions=READ,
        timeout_minutes=5,
        outputs={"infra": "${{ steps.changes.outputs.infra }}"},
        steps=(
            checkout(fetch_depth=2),
            Step(
                name="Does the change touch the Pulumi program?",
                id="changes",
                env={"EVENT_NAME": "${{ github.event_name }}", "PULUMI_PATH": settings.workflows.pulumi_path},
                run=CHANGES_SCRIPT,
            ),
        ),
    )
    # The program's own checks (the seeds' "infrastructure tests"): policy tests over what
    # every stack declares, the workflow and manifest validators, lint and strict types.
    # No credentials: the program runs under mocks.
    validate = Job(
        id="validate",
        needs=(changes.id,),
        if_=PROGRAM_CHANGED,
        permissions=READ,
        timeout_minutes=20,
        steps=(
            checkout(),
            _setup_python(settings),
            Step(
                name="Policy tests, lint and type checks of the program",
                working_directory=settings.workflows.pulumi_path,
                run="make test lint typecheck\n",
            ),
        ),
    )
    previews = tuple(
        Job(
            id=f"preview-{env}",
            needs=(changes.id,),
            if_=f"{ON_CHANGE} && {PROGRAM_CHANGED}",
            # No environment and no secret: the change may be one nobody reviewed.
            permissions=READ,
            timeout_minutes=30,
            steps=(
                checkout(),
                _setup_python(settings),
                pulumi_install_step(settings),
                Step(
                    name=f"Credential-free preview ({env})",
                    working_directory=settings.workflows.pulumi_path,
                    # tools.preview takes the verified plugins from this PULUMI_HOME.
                    env={"STACK": env, **ENGINE_ENV},
                    run=PREVIEW_SCRIPT,
                ),
            ),
        )
        for env in settings.environments
    )
    deploys: list[Job] = []
    for env in settings.environments:
        runner = settings.infrastructure_runner(env)
        # The real preview against the stack's state: its environment deploys from main only
        # (and production's only after a reviewer approves), because the passphrase it holds
        # unlocks every secret of the stack.
        state_preview = Job(
            id=f"state-preview-{env}",
            needs=(deploys[-1].id,) if deploys else (validate.id,),
            if_=ON_MAIN,
            environment=ci_contract.preview_environment(env),
            runs_on=runner,
            permissions=READ,
            timeout_minutes=30,
            steps=_pulumi_steps(settings, env, "preview"),
        )
        up = Job(
            id=f"up-{env}",
            needs=(state_preview.id,),
            if_=ON_MAIN,
            environment=env,
            runs_on=runner,
            concurrency=Concurrency(group=f"pulumi-{env}", cancel_in_progress=False),
            permissions=READ,
            timeout_minutes=60,
            steps=_pulumi_steps(settings, env, "up"),
        )
        deploys += [state_preview, up]
    notify = notify_job("infrastructure", tuple(deploys), if_=f"failure() && {ON_MAIN}")
    # The run as a `pipeline_run` delivery event, from ci-main (the bucket's key; main only).
    # Observability only: outside the gate.
    metrics = Job(
        id="metrics",
        needs=tuple(j.id for j in deploys),
        if_=f"always() && {ON_MAIN}",
        environment=ci_contract.CI_MAIN_ENVIRONMENT,
        advisory=True,
        permissions={"actions": "read", "contents": "read"},
        timeout_minutes=5,
        steps=(
            event_recorder_checkout(),
            pipeline_run_step(EVENTS_WORKFLOW),
            upload_events_step(settings, EVENTS_WORKFLOW),
        ),
    )
    judged = (changes, validate, *previews, *deploys)
    return Workflow(
        file=FILE,
        name="Infrastructure",
        on=Triggers(
            push=Push(branches=("main",), paths=(f"{settings.workflows.pulumi_path}/**",)),
            pull_request=PullRequest(),
            merge_group=MergeGroup(),
            workflow_dispatch=WorkflowDispatch(),
        ),
        permissions={"contents": "read"},
        concurrency=one_run_on_main_at_a_time(),
        jobs=(*judged, notify, metrics, gate_job(GATE, judged)),
    )
