"""The fake GitHub and Linode API the real previews run against (`tools/fake_api.py`)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.support.paths import ROOT
from tools.fake_api import ROUTES, FakeApi

PAGE = ROOT / "docs" / "real-preview.md"


def _get(url: str, token: str | None = None) -> tuple[int, object]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def api() -> Iterator[FakeApi]:
    with FakeApi() as server:
        yield server


def test_it_answers_what_a_preview_calls_and_records_each_request(api: FakeApi) -> None:
    status, org = _get(f"{api.url}/api/v3/orgs/ai-aas", "t0k")
    assert status == 200 and isinstance(org, dict) and org["login"] == "ai-aas"
    status, team = _get(f"{api.url}/api/v3/orgs/ai-aas/teams/platform-deployers")
    assert status == 200 and isinstance(team, dict) and team["slug"] == "platform-deployers"
    status, repo = _get(f"{api.url}/api/v3/repos/ai-aas/platform")
    assert status == 200 and isinstance(repo, dict) and repo["full_name"] == "ai-aas/platform"
    status, types = _get(f"{api.url}/v4/linode/types")
    assert status == 200 and isinstance(types, dict) and types["results"] == len(types["data"])
    assert [str(r) for r in api.requests[-4:]] == [
        "GET /api/v3/orgs/ai-aas -> 200",
        "GET /api/v3/orgs/ai-aas/teams/platform-deployers -> 200",
        "GET /api/v3/repos/ai-aas/platform -> 200",
        "GET /v4/linode/types -> 200",
    ]
    assert api.requests[-4].token == "t0k"


def test_anything_else_is_a_recorded_404(api: FakeApi) -> None:
    status, _ = _get(f"{api.url}/api/v3/orgs/ai-aas/actions/runner-groups")
    assert status == 404
    assert str(api.requests[-1]) == "GET /api/v3/orgs/ai-aas/actions/runner-groups -> 404"


def test_the_docs_list_every_call_it_answers() -> None:
    section = PAGE.read_text().split("# Real preview without credentials", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`((?:GET|POST|PUT|PATCH|DELETE) /[^`]+)`", section))
    assert listed == set(ROUTES)
