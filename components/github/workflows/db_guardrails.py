"""``db-guardrails.yml``: migrations are numbered in sequence and each can be reversed.

Seed 001: "Ensures migrations are reversible", triggered by changes to the migrations.
The check runs on every pull request rather than behind a ``paths`` filter: a required
status check must report on every pull request (a path-filtered workflow never reports
on the others, which would then wait forever), and listing one directory takes seconds.
Pushes to ``main`` are checked only when they touch the migrations.

Naming (golang-migrate's): ``<number>_<name>.up.sql`` with its ``<number>_<name>.down.sql``;
numbers run 1, 2, 3, ... (zero padding allowed) without gaps or duplicates.
"""

from __future__ import annotations

from components.github.workflows.common import READ, checkout, gate_job, supersede_pull_request_runs
from components.github.workflows.model import Job, MergeGroup, PullRequest, Push, Step, Triggers, Workflow
from components.github.workflows.settings import Settings

FILE = "db-guardrails.yml"
GATE = "db-guardrails-gate"

CHECK_SCRIPT = r"""set -euo pipefail
# MIGRATIONS_PATH: directory of <number>_<name>.up.sql / <number>_<name>.down.sql files.
export LC_ALL=C
if [[ ! -d "$MIGRATIONS_PATH" ]]; then
  echo "no $MIGRATIONS_PATH directory: nothing to check"
  exit 0
fi
errors=0
fail() { echo "::error::$*"; errors=$((errors + 1)); }
declare -A up=() down=()
max=0
while IFS= read -r -d '' path; do
  file="${path##*/}"
  if [[ ! "$file" =~ ^([0-9]+)_([a-z0-9_]+)\.(up|down)\.sql$ ]]; then
    fail "$(printf '%q' "$file"): not <number>_<name>.up.sql or <number>_<name>.down.sql (name: a-z, 0-9, _)"
    continue
  fi
  number=$((10#${BASH_REMATCH[1]})); name="${BASH_REMATCH[2]}"; direction="${BASH_REMATCH[3]}"
  (( number > max )) && max=$number
  if [[ "$direction" == up ]]; then
    [[ -z "${up[$number]:-}" ]] || fail "migration $number has two up files"
    up[$number]="$name"
  else
    [[ -z "${down[$number]:-}" ]] || fail "migration $number has two down files"
    [[ -s "$path" ]] || fail "$file is empty: a down migration must undo its up migration"
    down[$number]="$name"
  fi
done < <(find "$MIGRATIONS_PATH" -mindepth 1 -maxdepth 1 -print0 | sort -z)
for ((n = 1; n <= max; n++)); do
  if [[ -z "${up[$n]:-}" ]]; then
    fail "migration $n is missing: numbers must run 1, 2, 3, ... without gaps"
  elif [[ -z "${down[$n]:-}" ]]; then
    fail "migration $n (${up[$n]}) has no down migration"
  elif [[ "${up[$n]}" != "${down[$n]}" ]]; then
    fail "migration $n: up (${up[$n]}) and down (${down[$n]}) names differ"
  fi
done
if (( errors )); then
  echo "$errors problem(s) in $MIGRATIONS_PATH"
  exit 1
fi
echo "$max migration(s), numbered in sequence, each with its down migration"
"""


def workflow(settings: Settings) -> Workflow:
    path = settings.workflows.migrations_path
    migrations = Job(
        id="migrations",
        name="migrations",
        permissions=READ,
        timeout_minutes=5,
        steps=(
            checkout(sparse=(path,)),
            Step(name="Check numbering and down migrations", env={"MIGRATIONS_PATH": path}, run=CHECK_SCRIPT),
        ),
    )
    return Workflow(
        file=FILE,
        name="DB guardrails",
        on=Triggers(
            push=Push(branches=("main",), paths=(f"{path}/**",)),
            pull_request=PullRequest(),
            merge_group=MergeGroup(),
        ),
        permissions={"contents": "read"},
        concurrency=supersede_pull_request_runs(),
        jobs=(migrations, gate_job(GATE, (migrations,))),
    )
