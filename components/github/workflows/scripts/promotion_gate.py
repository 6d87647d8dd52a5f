"""Promotion gate: production takes only an image set that staging validation passed.

Reads the commit statuses of the commit that set staging's current image files (the
response of ``GET /repos/{owner}/{repo}/commits/{sha}/statuses``, newest first) and
decides from the newest ``staging-validation`` status:

- ``success``: green, exit 0; the validation run's URL goes to ``$GITHUB_OUTPUT``
  (``run_url``) for the pull request;
- ``failure`` or ``error``: red, exit 1, naming the checks that failed (the status
  description written by the validation gate);
- ``pending``: validation still runs, exit 1;
- none: missing, exit 1 (staging has not validated these images, or not yet).

Only statuses created by ``--trusted-creator`` (GitHub Actions, which the validation
workflow's job token reports as) count: anyone else able to write commit statuses, such as
a token meant for something else, cannot make the gate green. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTEXT = "staging-validation"
GITHUB_ACTIONS = "github-actions[bot]"


@dataclass(frozen=True)
class Verdict:
    green: bool
    message: str
    run_url: str = ""


def decide(statuses: list[dict[str, Any]], sha: str, context: str, trusted_creator: str) -> Verdict:
    ours = [s for s in statuses if s.get("context") == context]
    trusted = [s for s in ours if (s.get("creator") or {}).get("login") == trusted_creator]
    ignored = len(ours) - len(trusted)
    note = f" ({ignored} `{context}` status(es) from other creators ignored)" if ignored else ""
    if not trusted:
        return Verdict(
            False,
            f"`{context}` is missing on {sha}: staging has not validated this image set{note}",
        )
    # The API lists a commit's statuses newest first; sort anyway so the order is not assumed.
    newest = max(trusted, key=lambda s: (str(s.get("created_at", "")), int(s.get("id", 0))))
    state = newest.get("state")
    url = str(newest.get("target_url") or "")
    description = str(newest.get("description") or "")
    if state == "success":
        return Verdict(True, f"`{context}` passed on {sha}: {description} {url}".rstrip() + note, url)
    if state == "pending":
        return Verdict(False, f"`{context}` is still running on {sha}: {url}".rstrip())
    return Verdict(False, f"`{context}` {state} on {sha}: {description} {url}".rstrip() + note, url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("statuses", type=Path, help="JSON response of the commit statuses API")
    parser.add_argument("--sha", required=True, help="the commit whose image set is to be promoted")
    parser.add_argument("--context", default=CONTEXT)
    parser.add_argument("--trusted-creator", default=GITHUB_ACTIONS)
    args = parser.parse_args(argv)
    try:
        statuses = json.loads(args.statuses.read_text())
    except (FileNotFoundError, ValueError) as error:
        print(f"::error::promotion gate: no readable statuses at {args.statuses}: {error}")
        return 1
    if not isinstance(statuses, list):
        print(f"::error::promotion gate: {args.statuses} is not a list of statuses")
        return 1
    verdict = decide(statuses, args.sha, args.context, args.trusted_creator)
    output = os.environ.get("GITHUB_OUTPUT")
    if output and verdict.run_url:
        with open(output, "a") as handle:
            handle.write(f"run_url={verdict.run_url}\n")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as handle:
            handle.write(
                f"### Promotion gate: {'green' if verdict.green else 'refused'}\n\n{verdict.message}\n"
            )
    print(verdict.message if verdict.green else f"::error::promotion refused: {verdict.message}")
    return 0 if verdict.green else 1


if __name__ == "__main__":
    sys.exit(main())
