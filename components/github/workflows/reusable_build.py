"""``reusable-build.yml``: build or test one service (or all) with Go and Make (seed 001).

The test contract: ``make test`` of a service writes a Cobertura report
(``github.workflows.coverage.report``, relative to the service's directory), and the
coverage gate (``.github/scripts/coverage_gate.py``) fails the test job unless overall,
critical-path and new-code line coverage are above the configured thresholds (seed 003:
85 %, 95 %, 90 %). New code is what the commit adds to its first parent: a pull request's
merge commit against its base, a push against the previous ``main``.
"""

from __future__ import annotations

from components.github.workflows.common import READ, checkout, setup_go
from components.github.workflows.model import Input, Job, Step, Strategy, Triggers, Workflow, WorkflowCall
from components.github.workflows.scripts import COVERAGE_GATE, SCRIPTS_DIR
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


COVERAGE_SCRIPT = r"""set -euo pipefail
# SERVICE: a service directory name (checked by the step before) or "all"; REPORT: the
# Cobertura report `make test` writes in the service directory; OVERALL, CRITICAL, NEW_CODE:
# thresholds in percent; GLOBS: critical-path globs, one a line; GATE: the gate script.
base=""
if git rev-parse -q --verify 'HEAD^1' >/dev/null; then base='HEAD^1'; fi
dirs=()
if [[ "$SERVICE" == all ]]; then
  for makefile in "$SERVICES_PATH"/*/Makefile; do
    [[ -f "$makefile" ]] && dirs+=("$(dirname "$makefile")")
  done
else
  dirs=("$SERVICES_PATH/$SERVICE")
fi
globs=()
while IFS= read -r glob; do
  [[ -n "$glob" ]] && globs+=(--critical-path "$glob")
done <<<"$GLOBS"
status=0
for dir in "${dirs[@]}"; do
  echo "coverage of $dir"
  python3 "$GATE" --report "$dir/$REPORT" --service-dir "$dir" --base "$base" \
    --overall "$OVERALL" --critical "$CRITICAL" --new-code "$NEW_CODE" "${globs[@]}" || status=1
done
exit "$status"
"""


def coverage_step(settings: Settings) -> Step:
    coverage = settings.workflows.coverage
    return Step(
        name="Coverage above the thresholds (seed 003)",
        if_="inputs.target == 'test'",
        env={
            "SERVICE": "${{ inputs.service }}",
            "SERVICES_PATH": settings.workflows.services_path,
            "REPORT": coverage.report,
            "OVERALL": f"{coverage.overall:g}",
            "CRITICAL": f"{coverage.critical_paths:g}",
            "NEW_CODE": f"{coverage.new_code:g}",
            "GLOBS": "\n".join(coverage.critical_path_globs),
            "GATE": f"{SCRIPTS_DIR}/{COVERAGE_GATE}",
        },
        run=COVERAGE_SCRIPT,
    )


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
                    # The parent too: new code is counted against it.
                    checkout(fetch_depth=2),
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
                    coverage_step(settings),
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
