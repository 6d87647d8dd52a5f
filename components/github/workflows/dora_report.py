"""``dora-report.yml``: the weekly DORA report (``make report`` in CI), from the metrics bucket.

Every Monday (and by hand): reads the delivery events through the S3 API with the bucket's
read-only key (the ``metrics-report`` environment: main only, and this job alone uses it; the
write key stays in ``ci-main``), writes the Markdown summary into the job summary, keeps the
summary and the self-contained HTML page as an artifact, and tells Slack which of seed 003's
targets the last complete week missed. The report's code is this program's ``tools/dora``,
installed from its own hash lock (``requirements-report.lock``).
"""

from __future__ import annotations

from components.github import ci_contract
from components.github.workflows.common import OBJECT_STORAGE_ENV, checkout, secret, variable
from components.github.workflows.model import Job, Step, Triggers, Workflow, WorkflowDispatch
from components.github.workflows.pins import action
from components.github.workflows.settings import Settings
from components.github.workflows.toolchain import PIP_LOCKED

FILE = "dora-report.yml"
REPORT_LOCK = "requirements-report.lock"
REPORT_ARTIFACT = "dora-report"
# Mondays 06:17 UTC: the week before is complete, and off the top of the hour GitHub's
# scheduler is busiest at.
SCHEDULE = "17 6 * * 1"

REPORT_SCRIPT = f"""set -euo pipefail
python -m venv "$RUNNER_TEMP/report-venv"
"$RUNNER_TEMP/report-venv/bin/pip" install {PIP_LOCKED} --requirement {REPORT_LOCK}
"$RUNNER_TEMP/report-venv/bin/python" -m tools.dora --bucket "$METRICS_BUCKET" --endpoint "$METRICS_ENDPOINT" \\
  --region "$METRICS_REGION" --out "$REPORT_DIR"
cat "$REPORT_DIR/summary.md" >> "$GITHUB_STEP_SUMMARY"
"""

SLACK_SCRIPT = r"""set -euo pipefail
# MISSED: the targets the last complete week missed, one a line (empty: all met).
if [[ ! -s "$MISSED" ]]; then
  echo "every target met"
  exit 0
fi
if [[ -z "${SLACK_WEBHOOK_URL:-}" ]]; then
  echo "::notice::no Slack webhook configured"
  exit 0
fi
text="$(printf 'Delivery targets missed (%s/actions/runs/%s):\n%s' "$SERVER/$REPO" "$RUN_ID" "$(cat "$MISSED")")"
jq -n --arg text "$text" '{text: $text}' \
  | curl --fail --silent --show-error --request POST --header 'Content-Type: application/json' \
      --data @- "$SLACK_WEBHOOK_URL"
"""


def workflow(settings: Settings) -> Workflow:
    report_dir = "${{ runner.temp }}/dora-report"
    report = Job(
        id="report",
        environment=ci_contract.REPORT_ENVIRONMENT,
        # The environment admits main only; a run on another ref would fail at the environment.
        if_="github.ref == 'refs/heads/main'",
        permissions={"contents": "read"},
        timeout_minutes=15,
        steps=(
            checkout(sparse=(settings.workflows.pulumi_path,)),
            Step(
                name="Set up Python",
                uses=action("actions/setup-python"),
                with_={"python-version": settings.workflows.python_version},
            ),
            Step(
                name="Build the report from the metrics bucket",
                working_directory=settings.workflows.pulumi_path,
                env={
                    # Read-only: the report cannot alter the history it reports on.
                    "AWS_ACCESS_KEY_ID": secret(ci_contract.METRICS_READ_ACCESS_KEY_ID),
                    "AWS_SECRET_ACCESS_KEY": secret(ci_contract.METRICS_READ_SECRET_ACCESS_KEY),
                    "METRICS_BUCKET": variable(ci_contract.METRICS_BUCKET),
                    "METRICS_ENDPOINT": variable(ci_contract.METRICS_ENDPOINT),
                    "METRICS_REGION": settings.metrics_region,
                    "REPORT_DIR": report_dir,
                    **OBJECT_STORAGE_ENV,
                },
                run=REPORT_SCRIPT,
            ),
            Step(
                name="Keep the report",
                uses=action("actions/upload-artifact"),
                with_={"name": REPORT_ARTIFACT, "path": report_dir, "retention-days": 90},
            ),
            Step(
                name="Tell Slack about missed targets",
                env={
                    "MISSED": f"{report_dir}/missed.txt",
                    "SLACK_WEBHOOK_URL": secret(ci_contract.SLACK_WEBHOOK_URL),
                    "SERVER": "${{ github.server_url }}",
                    "REPO": "${{ github.repository }}",
                    "RUN_ID": "${{ github.run_id }}",
                },
                run=SLACK_SCRIPT,
            ),
        ),
    )
    return Workflow(
        file=FILE,
        name="DORA report",
        on=Triggers(schedule=(SCHEDULE,), workflow_dispatch=WorkflowDispatch()),
        permissions={},
        jobs=(report,),
    )
