"""``reusable-build.yml``: build or test one service (or all) with Go and Make (seed 001)."""

from __future__ import annotations

from components.github.workflows.common import READ, checkout, setup_go
from components.github.workflows.model import Input, Job, Step, Strategy, Triggers, Workflow, WorkflowCall
from components.github.workflows.settings import Settings

FILE = "reusable-build.yml"
CALL = f"./.github/workflows/{FILE}"
TARGETS = ("build", "test")

MAKE_SCRIPT = r"""set -euo pipefail
# SERVICE: a service directory name, or "all"; TARGET: build | test (inputs, via env only).
case "$TARGET" in
  build|test) ;;
  *) echo "::error::target must be build or test"; exit 1 ;;
esac
if [[ "$SERVICE" == all ]]; then
  for makefile in "$SERVICES_PATH"/*/Makefile; do
    [[ -f "$makefile" ]] || continue
    make -C "$(dirname "$makefile")" "$TARGET"
  done
elif [[ "$SERVICE" =~ ^[a-z0-9][a-z0-9-]{0,62}$ && -f "$SERVICES_PATH/$SERVICE/Makefile" ]]; then
  make -C "$SERVICES_PATH/$SERVICE" "$TARGET"
else
  echo "::error::no service of that name under $SERVICES_PATH"
  exit 1
fi
"""


def workflow(settings: Settings) -> Workflow:
    return Workflow(
        file=FILE,
        name="Reusable build",
        on=Triggers(
            workflow_call=WorkflowCall(
                inputs={
                    "service": Input(description='Service directory name, or "all".', required=True),
                    "target": Input(description="Make target: build or test.", required=True),
                    "go-version": Input(
                        description="Go version to build with.", default=settings.workflows.go_version
                    ),
                }
            )
        ),
        jobs=(
            Job(
                id="make",
                name="make ${{ inputs.target }}",
                permissions=READ,
                timeout_minutes=30,
                steps=(
                    checkout(),
                    setup_go(settings, version="${{ inputs.go-version }}"),
                    Step(
                        name="Run the Make target",
                        env={
                            "SERVICE": "${{ inputs.service }}",
                            "TARGET": "${{ inputs.target }}",
                            "SERVICES_PATH": settings.workflows.services_path,
                        },
                        run=MAKE_SCRIPT,
                    ),
                ),
            ),
        ),
    )


def call(
    settings: Settings, job_id: str, target: str, *, needs: tuple[str, ...], if_: str, matrix_service: str
) -> Job:
    """A job calling this workflow once per service of the matrix."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}")
    return Job(
        id=job_id,
        needs=needs,
        if_=if_,
        permissions=READ,
        strategy=Strategy(matrix={"service": matrix_service}),
        uses=CALL,
        with_={
            "service": "${{ matrix.service }}",
            "target": target,
            "go-version": settings.workflows.go_version,
        },
    )
