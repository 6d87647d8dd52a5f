"""Promotion gate: the newest staging validation verdict, and only evidence no writer can forge.

Commit statuses prove nothing here: every workflow run's ``GITHUB_TOKEN`` writes them as
``github-actions[bot]``, a branch's workflows included (GitHub docs, "Automatic token
authentication"). The gate instead reads the validation *runs* and the evidence artifact each
one uploaded; an artifact can only be uploaded by a job of its own run (the runtime token
the upload uses is scoped to the run; GitHub docs, "Storing workflow data as artifacts").

``select``: from the workflow-runs listing of ``staging-validation.yml``
(``GET /repos/{repo}/actions/workflows/staging-validation.yml/runs?branch=main&status=completed``,
so runs on other branches cannot crowd the verdict off the page), the newest *verdict*: a
completed run of that file (``path``), in this repository, started by
``repository_dispatch`` or ``workflow_dispatch`` on branch ``main`` at a commit of main
(``head_sha`` an ancestor of the checkout's HEAD: a tag named ``main`` cannot pass it off
as main), whose conclusion is a verdict (cancelled and skipped runs are not). Writes its id
into ``--out`` and exits 0 when that verdict is ``success``; exits 1 when the newest verdict
is red (a newer failure outranks an older success) or there is none.

``verify``: the run's evidence (``evidence.json`` of its ``staging-validation-evidence``
artifact) names this run and a passed result, a revision that is a commit of main, and
digests equal to the image files of ``--images-dir`` at that revision. Writes
``revision``, ``run_id`` and ``run_url`` to ``$GITHUB_OUTPUT``.

Standard library only: the runner's own Python runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

SCHEMA = 1
WORKFLOW_PATH = ".github/workflows/staging-validation.yml"
# Events that run the workflow file of the default branch, or of the ref chosen by hand
# (refused unless main below); `push`/`pull_request` never start this workflow.
EVENTS = ("repository_dispatch", "workflow_dispatch")
NOT_VERDICTS = ("cancelled", "skipped", "neutral", "stale")
SHA = re.compile(r"^[0-9a-f]{40}$")
_FILE_DIGEST = re.compile(r"^  digest: (sha256:[0-9a-f]{64})\s*$", re.MULTILINE)


class RefusedError(Exception):
    pass


def _is_commit_of_main(sha: str) -> bool:
    return bool(SHA.match(sha)) and (
        subprocess.run(
            ["git", "merge-base", "--is-ancestor", sha, "HEAD"], capture_output=True, check=False
        ).returncode
        == 0
    )


def why_not_trusted(run: dict[str, Any], repository: str) -> str | None:
    """Why this run's word does not count (None: it does)."""
    if run.get("path") != WORKFLOW_PATH:
        return f"a run of {run.get('path')}, not {WORKFLOW_PATH}"
    if (run.get("repository") or {}).get("full_name") != repository or (run.get("head_repository") or {}).get(
        "full_name"
    ) != repository:
        return "a run of another repository"
    if run.get("event") not in EVENTS:
        return f"started by {run.get('event')}"
    if run.get("head_branch") != "main":
        return f"ran on {run.get('head_branch')}, not main"
    if not _is_commit_of_main(str(run.get("head_sha"))):
        return f"ran at {run.get('head_sha')}, not a commit of main"
    if run.get("status") != "completed":
        return "still running"
    if run.get("conclusion") in NOT_VERDICTS:
        return f"{run.get('conclusion')}: no verdict"
    return None


def newest_verdict(runs: list[dict[str, Any]], repository: str) -> tuple[dict[str, Any], list[str]]:
    """The newest trusted verdict, and why each newer run was passed over."""
    passed_over: list[str] = []
    ordered = sorted(runs, key=lambda r: (str(r.get("created_at", "")), int(r.get("id", 0))), reverse=True)
    for run in ordered:
        reason = why_not_trusted(run, repository)
        if reason is None:
            return run, passed_over
        passed_over.append(f"run {run.get('id')}: {reason}")
    raise RefusedError("no completed staging validation run of main: staging has not validated anything yet")


def select(runs_doc: dict[str, Any], repository: str) -> tuple[int, list[str]]:
    runs = runs_doc.get("workflow_runs")
    if not isinstance(runs, list):
        raise RefusedError("not a workflow-runs listing")
    run, passed_over = newest_verdict(runs, repository)
    if run.get("conclusion") != "success":
        raise RefusedError(
            f"the newest staging validation, run {run.get('id')} at {run.get('head_sha')}, "
            f"concluded {run.get('conclusion')}: {run.get('html_url', '')}"
        )
    return int(run["id"]), passed_over


def verify(evidence: dict[str, Any], run_id: int, images_dir: str) -> dict[str, str]:
    """The evidence is this run's passed verdict on the image files at its revision."""
    if evidence.get("schema") != SCHEMA:
        raise RefusedError(f"evidence schema {evidence.get('schema')!r}, expected {SCHEMA}")
    if str(evidence.get("run_id")) != str(run_id):
        raise RefusedError(f"the evidence names run {evidence.get('run_id')}, not run {run_id}")
    if evidence.get("result") != "success":
        raise RefusedError(f"the evidence of run {run_id} records {evidence.get('result')}")
    revision = str(evidence.get("revision"))
    if not _is_commit_of_main(revision):
        raise RefusedError(f"the validated revision {revision} is not a commit of main")
    images = evidence.get("images")
    if not isinstance(images, dict) or not images:
        raise RefusedError("the evidence names no images")
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", revision, f"{images_dir}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = {p.rsplit("/", 1)[-1].removesuffix(".yaml"): p for p in listing if p.endswith(".yaml")}
    if set(files) != set(images):
        raise RefusedError(
            f"the evidence names {sorted(images)}, the image files at {revision} are {sorted(files)}"
        )
    for service, path in sorted(files.items()):
        text = subprocess.run(
            ["git", "show", f"{revision}:{path}"], capture_output=True, text=True, check=True
        ).stdout
        found = _FILE_DIGEST.findall(text)
        if found != [images[service]]:
            raise RefusedError(f"{path} at {revision} names {found}, the evidence {images[service]}")
    return {"revision": revision, "run_id": str(run_id)}


def _write(name: str, text: str) -> None:
    target = os.environ.get(name)
    if target:
        with open(target, "a") as handle:
            handle.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sel = commands.add_parser("select")
    sel.add_argument("runs", type=Path, help="JSON of the workflow-runs listing")
    sel.add_argument("--repository", required=True, help="owner/name")
    sel.add_argument("--out", type=Path, required=True, help="where the selected run id goes")
    ver = commands.add_parser("verify")
    ver.add_argument("evidence", type=Path)
    ver.add_argument("--run-id", type=int, required=True)
    ver.add_argument("--images-dir", required=True)
    ver.add_argument("--run-url", default="")
    args = parser.parse_args(argv)
    try:
        if args.command == "select":
            run_id, passed_over = select(json.loads(args.runs.read_text()), args.repository)
            for line in passed_over:
                print(f"passed over {line}")
            args.out.write_text(f"{run_id}\n")
            print(f"the newest verdict: run {run_id}, success")
            return 0
        evidence = json.loads(args.evidence.read_text())
        outputs = verify(evidence, args.run_id, args.images_dir)
    except RefusedError as refused:
        print(f"::error::promotion refused: {refused}")
        _write("GITHUB_STEP_SUMMARY", f"### Promotion gate: refused\n\n{refused}\n")
        return 1
    except (OSError, ValueError, subprocess.CalledProcessError) as error:
        print(f"::error::promotion refused: unreadable evidence: {error}")
        return 1
    outputs["run_url"] = args.run_url
    _write("GITHUB_OUTPUT", "".join(f"{k}={v}\n" for k, v in outputs.items()))
    images = json.dumps(evidence["images"], sort_keys=True)
    _write(
        "GITHUB_STEP_SUMMARY",
        f"### Promotion gate: green\n\nStaging validation run {args.run_id} passed on revision "
        f"`{outputs['revision']}` with {images} {args.run_url}\n",
    )
    print(f"validated: revision {outputs['revision']}, run {args.run_id}, images {images}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
