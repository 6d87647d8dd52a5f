"""What staging runs, read from staging itself: the evidence staging validation records.

Input: staging's Argo CD Applications as Kubernetes returns them
(``kubectl get applications.argoproj.io -l <environment label> -o json``, read with the
read-only observer identity; docs/promotion.md).
Nothing in a ``repository_dispatch`` payload is read: the payload only wakes validation up.

``observe``: staging is *settled* when every Application of the environment is Synced and
Healthy, with no sync operation running, at one and the same GitOps revision (every source
of every Application). Then each service's image file at that revision (``git show``) names
the digest its Application must run, and every image from the platform registry that Argo CD
lists for the Application's live resources (``status.summary.images``: Deployments,
Rollouts, their ReplicaSets and Pods) must be that digest: an old ReplicaSet still running
(a canary in progress, or an aborted one serving the stable version) shows as a second
image. Writes the state as JSON and exits 0; 75 (EX_TEMPFAIL) while staging has not
settled yet (the caller polls, with a deadline); 1 when it cannot settle as it is (an
Application Degraded: an aborted rollout, a failed sync) or the input is unreadable.

``same``: two observations name the same revision and the same digests (the tests ran
against one image set), exit 0, else 1.

Standard library only: the runner's own Python runs it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EX_TEMPFAIL = 75
SHA = re.compile(r"^[0-9a-f]{40}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# `image.digest` of an image file (gitops_layout's values contract), at the start of a line.
_FILE_DIGEST = re.compile(r"^  digest: (sha256:[0-9a-f]{64})\s*$", re.MULTILINE)
_PINNED = re.compile(r"@(sha256:[0-9a-f]{64})$")


class NotSettledError(Exception):
    """Staging is still moving: poll again."""


class BrokenError(Exception):
    """Staging cannot settle as it is, or the input is not what Kubernetes returns."""


@dataclass(frozen=True)
class State:
    revision: str
    applications: dict[str, str]  # name -> health/sync summary
    images: dict[str, str]  # service -> digest

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "applications": self.applications, "images": self.images}


def _revisions(app: dict[str, Any]) -> list[str]:
    sync = (app.get("status") or {}).get("sync") or {}
    # Multi-source Applications report one revision per source in `revisions`.
    revisions = sync.get("revisions") or ([sync["revision"]] if sync.get("revision") else [])
    return [str(r) for r in revisions]


def settled_revision(apps: list[dict[str, Any]], prefix: str) -> tuple[str, dict[str, str]]:
    """The one revision every Application is Synced and Healthy at; raises otherwise."""
    if not apps:
        raise BrokenError("no Application of the environment found: is the observer's namespace Argo CD's?")
    waiting: list[str] = []
    summary: dict[str, str] = {}
    revisions: set[str] = set()
    for app in sorted(apps, key=lambda a: str((a.get("metadata") or {}).get("name"))):
        name = str((app.get("metadata") or {}).get("name"))
        if not name.startswith(prefix):
            raise BrokenError(f"Application {name} is not one of {prefix}*: the label selector is wrong")
        status = app.get("status") or {}
        health = str((status.get("health") or {}).get("status") or "Unknown")
        sync = str((status.get("sync") or {}).get("status") or "Unknown")
        phase = str((status.get("operationState") or {}).get("phase") or "")
        summary[name] = f"{sync}/{health}"
        if health == "Degraded":
            # Argo CD's Rollout health: an aborted rollout is Degraded and stays so until the
            # next sync (argo-cd docs, "Resource Health", argoproj.io/Rollout).
            raise BrokenError(f"Application {name} is Degraded (an aborted rollout or a failed resource)")
        if phase in {"Failed", "Error"}:
            raise BrokenError(f"Application {name}'s last sync {phase.lower()}")
        if sync != "Synced" or health != "Healthy" or phase == "Running":
            waiting.append(f"{name} is {sync}/{health}{' (sync running)' if phase == 'Running' else ''}")
            continue
        app_revisions = _revisions(app)
        if not app_revisions or not all(SHA.match(r) for r in app_revisions):
            raise BrokenError(f"Application {name} reports no commit revision: {app_revisions}")
        revisions.update(app_revisions)
    if waiting:
        raise NotSettledError("; ".join(waiting))
    if len(revisions) != 1:
        raise NotSettledError(f"Applications are synced at different revisions: {sorted(revisions)}")
    return revisions.pop(), summary


def live_images(apps: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {
        str(app["metadata"]["name"]): [
            str(i) for i in ((app.get("status") or {}).get("summary") or {}).get("images") or []
        ]
        for app in apps
    }


def file_digest(text: str, where: str) -> str:
    found = _FILE_DIGEST.findall(text)
    if len(found) != 1:
        raise BrokenError(f"{where} does not record one image digest (image.digest)")
    return str(found[0])


def bind(
    revision: str,
    apps: list[dict[str, Any]],
    prefix: str,
    registry: str,
    image_files: dict[str, str],
) -> dict[str, str]:
    """service -> digest: the image files at `revision`, each confirmed by what its
    Application runs. Raises NotSettledError while a platform image other than the file's runs."""
    images = live_images(apps)
    digests: dict[str, str] = {}
    for service, text in sorted(image_files.items()):
        digest = file_digest(text, f"the image file of {service} at {revision}")
        app = f"{prefix}{service}"
        if app not in images:
            raise BrokenError(f"{service} has an image file but staging has no Application {app}")
        running = [
            i
            for i in images[app]
            if i.startswith(f"{registry}/{service}:") or i.startswith(f"{registry}/{service}@")
        ]
        if not running:
            raise NotSettledError(f"{app} runs no image of {registry}/{service} yet")
        for image in running:
            pinned = _PINNED.search(image)
            if pinned is None:
                raise BrokenError(f"{app} runs {image}, not pinned by digest (the image values contract)")
            if pinned.group(1) != digest:
                raise NotSettledError(
                    f"{app} still runs {image}; the image file at {revision} names {digest}"
                )
        digests[service] = digest
    for app, running in sorted(images.items()):
        for image in running:
            if image.startswith(f"{registry}/") and _PINNED.search(image) is None:
                raise BrokenError(f"{app} runs {image}, not pinned by digest (the image values contract)")
    return digests


def _image_files_at(revision: str, images_dir: str) -> dict[str, str]:
    """service -> text of every image file of `images_dir` at `revision` (git, in the cwd)."""
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", revision, f"{images_dir}/"],
        capture_output=True,
        text=True,
        check=False,
    )
    if listing.returncode != 0:
        raise BrokenError(f"revision {revision} is not in this checkout: {listing.stderr.strip()}")
    files: dict[str, str] = {}
    for path in listing.stdout.split():
        if path.endswith(".yaml"):
            service = path.rsplit("/", 1)[-1].removesuffix(".yaml")
            files[service] = subprocess.run(
                ["git", "show", f"{revision}:{path}"], capture_output=True, text=True, check=True
            ).stdout
    if not files:
        raise BrokenError(f"{images_dir} holds no image files at {revision}: nothing to validate")
    return files


def observe(
    apps_doc: dict[str, Any], environment: str, registry: str, images_dir: str, expected: str | None = None
) -> State:
    """The settled state; with `expected` (production's release commit), settled at exactly
    that commit: an earlier one means the operator has not synced yet (poll again)."""
    apps = apps_doc.get("items")
    if not isinstance(apps, list):
        raise BrokenError("not a Kubernetes list of Applications")
    prefix = f"platform-{environment}-"
    revision, summary = settled_revision(apps, prefix)
    if expected is not None:
        if revision != expected:
            raise NotSettledError(
                f"{environment} is settled at {revision}, not yet synced to the release {expected}"
            )
    elif subprocess.run(
        ["git", "merge-base", "--is-ancestor", revision, "HEAD"], capture_output=True, check=False
    ).returncode:
        raise BrokenError(f"staging runs {revision}, which is not a commit of main")
    digests = bind(revision, apps, prefix, registry, _image_files_at(revision, images_dir))
    return State(revision, summary, digests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    obs = commands.add_parser("observe", help="settled state of staging from its Applications")
    obs.add_argument("applications", type=Path)
    obs.add_argument("--environment", required=True)
    obs.add_argument("--registry", required=True, help="ghcr.io/<owner>: the platform's images")
    obs.add_argument("--images-dir", required=True, help="the environment's image files, in the repository")
    obs.add_argument("--out", type=Path, required=True)
    obs.add_argument(
        "--revision", help="the commit the environment must be settled at (production's release)"
    )
    same = commands.add_parser("same", help="two observations name one image set")
    same.add_argument("before", type=Path)
    same.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "same":
        before, after = (json.loads(p.read_text()) for p in (args.before, args.after))
        changed = [k for k in ("revision", "images") if before.get(k) != after.get(k)]
        if changed:
            print(
                f"::error::staging changed while the tests ran ({', '.join(changed)}): "
                f"{before.get('revision')} -> {after.get('revision')}; the results prove no one image set"
            )
            return 1
        print(f"staging stayed at {after['revision']} while the tests ran")
        return 0
    try:
        doc = json.loads(args.applications.read_text())
        state = observe(doc, args.environment, args.registry, args.images_dir, args.revision)
    except NotSettledError as waiting:
        print(f"{args.environment} has not settled: {waiting}")
        return EX_TEMPFAIL
    except (BrokenError, ValueError, OSError, KeyError, TypeError) as error:
        print(f"::error::{error}")
        return 1
    args.out.write_text(json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n")
    print(f"{args.environment} settled at {state.revision}: {json.dumps(state.images, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
