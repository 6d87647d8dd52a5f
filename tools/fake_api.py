"""A fake GitHub and Linode API on 127.0.0.1 for the real engine's credential-free preview.

The github and linode providers call their APIs even in a preview: linode lists the instance
types when it starts, github reads the owner organisation when it starts, the program's
`getTeam` and `getUser` look up the deployer and the production reviewers, and its
`getRepository` the repository's id (for the runner groups). This server answers
exactly those reads (``ROUTES``) with small, well-formed bodies, records every request, and
answers anything else 404, so a preview that starts calling more shows up in the log.

    python -m tools.fake_api            # serves until interrupted, prints its base URL

Point the providers at it with ``GITHUB_BASE_URL=<url>/`` (the github provider then talks the
GitHub Enterprise form, ``<url>/api/v3/...``) and ``LINODE_URL=<url>`` (linodego adds ``/v4``).
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _id(kind: str, name: str) -> int:
    """A stable numeric id per object, so repeated previews see the same answers."""
    return 1000 + zlib.crc32(f"{kind}:{name}".encode()) % 9_000_000


def _org(owner: str) -> dict[str, Any]:
    return {
        "login": owner,
        "id": _id("org", owner),
        "node_id": f"O_fake_{owner}",
        "type": "Organization",
        "name": owner,
        "plan": {"name": "team"},
    }


def _team(owner: str, slug: str) -> dict[str, Any]:
    return {
        "id": _id("team", slug),
        "node_id": f"T_fake_{slug}",
        "slug": slug,
        "name": slug,
        "description": "",
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_count": 1,
        "repos_count": 1,
        "organization": _org(owner),
    }


def _user(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": _id("user", login),
        "node_id": f"U_fake_{login}",
        "type": "User",
        "name": login,
        "site_admin": False,
    }


def _repository(owner: str, name: str) -> dict[str, Any]:
    """What the provider's `getRepository` reads: no pages, licence or template, so it makes
    no further call."""
    return {
        "id": _id("repository", f"{owner}/{name}"),
        "node_id": f"R_fake_{name}",
        "name": name,
        "full_name": f"{owner}/{name}",
        "owner": _org(owner),
        "private": True,
        "visibility": "private",
        "default_branch": "main",
        "archived": False,
        "fork": False,
        "has_pages": False,
        "license": None,
        "topics": [],
    }


def _linode_types() -> dict[str, Any]:
    kinds = ("g6-standard-2", "g6-standard-4", "g6-dedicated-8")
    data: list[dict[str, Any]] = [
        {
            "id": kind,
            "label": kind,
            "class": "dedicated" if "dedicated" in kind else "standard",
            "vcpus": 2,
            "memory": 4096,
            "disk": 81920,
            "transfer": 4000,
            "network_out": 4000,
            "price": {"hourly": 0.036, "monthly": 24.0},
            "region_prices": [],
            "addons": {"backups": {"price": {"hourly": 0.0075, "monthly": 5.0}, "region_prices": []}},
            "successor": None,
            "gpus": 0,
        }
        for kind in kinds
    ]
    return {"data": data, "page": 1, "pages": 1, "results": len(data)}


# Every call a preview of this program makes, as docs/real-preview.md's "Real preview without
# credentials" lists them (`<name>` is one path segment), and its answer.
ROUTES: dict[str, Callable[..., Any]] = {
    "GET /v4/linode/types": _linode_types,
    "GET /api/v3/orgs/<owner>": _org,
    "GET /api/v3/orgs/<owner>/teams/<slug>": _team,
    "GET /api/v3/repos/<owner>/<repo>": _repository,
    "GET /api/v3/users/<login>": _user,
    "GET /api/v3/users/<login>/gpg_keys": lambda login: [],
    "GET /api/v3/users/<login>/keys": lambda login: [],
}


def _pattern(route: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"<[a-z]+>", "([^/]+)", re.escape(route)))


_COMPILED = [(_pattern(route), answer) for route, answer in ROUTES.items()]


@dataclass(frozen=True)
class Request:
    """One request the fake API received, and whether a route answered it."""

    method: str
    path: str
    status: int
    token: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


def route_of(method: str, path: str) -> tuple[Callable[..., Any], tuple[str, ...]] | None:
    """The answer to a request and its path's parts, or None when the preview should not call it."""
    for pattern, answer in _COMPILED:
        match = pattern.fullmatch(f"{method} {path}")
        if match:
            return answer, match.groups()
    return None


class FakeApi:
    """The server, on an ephemeral port of 127.0.0.1, serving from a daemon thread."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def environment(self) -> dict[str, str]:
        """Provider settings pointing at this server, with dummy tokens."""
        return {
            "GITHUB_BASE_URL": f"{self.url}/",
            "GITHUB_TOKEN": "fake-github-token",
            "LINODE_URL": self.url,
            "LINODE_TOKEN": "fake-linode-token",
        }

    def __enter__(self) -> FakeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                found = route_of(self.command, path)
                status = 200 if found else 404
                # Only dummy tokens ever reach it; recorded to show which setting the provider used.
                auth = self.headers.get("Authorization", "")
                token = auth.split(" ", 1)[1] if " " in auth else None
                api._record(Request(self.command, path, status, token))
                body = found[0](*found[1]) if found else {"message": "Not Found (fake API)"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            # BaseHTTPRequestHandler dispatches on these names.
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def do_PATCH(self) -> None:
                self._answer()

            def do_PUT(self) -> None:
                self._answer()

            def do_DELETE(self) -> None:
                self._answer()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def main() -> None:
    with FakeApi() as api:
        print(api.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    for request in api.requests:
        print(request, file=sys.stderr)


if __name__ == "__main__":
    main()
