"""The Slack notifications each stack declares, evaluated by Argo CD's own notifications
engine (tests/support/notifications_harness.py) against the sample Applications in
tests/samples/applications/: single- and multi-source, synced, never synced, failed, degraded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from components.contracts import delivery_events
from components.gitops.argocd_values import SLACK_WEBHOOK_SERVICE
from tests.support.delivery_events_harness import run_recorder
from tests.support.notifications_harness import (
    Evaluation,
    TriggerResult,
    evaluate,
    load_samples,
    require_binary,
    stack_inputs,
)
from tests.support.paths import ROOT
from tests.support.stacks import run_stack
from tools.offline import STACKS

# Which samples fire each trigger (by sample file name). A trigger the program declares
# must be listed here, so a new notification comes with its expectations.
DEPLOYED = {
    "single-source-synced",
    "multi-source-synced",
    "multi-source-synced-after-unrelated-commit",
    "multi-source-synced-with-images",
}
FIRES: dict[str, set[str]] = {
    "on-deployed": DEPLOYED,
    "on-sync-failed": {"sync-failed"},
    "on-health-degraded": {"degraded", "rollout-degraded"},
    # Not on `degraded`: a Deployment, not a Rollout, degraded there.
    "on-rollout-degraded": {"rollout-degraded"},
    # The GitHub repository_dispatch that starts staging validation: exactly when deployed.
    "on-staging-deployed": DEPLOYED,
    # Delivery events for delivery-events.yml (docs/dora-metrics.md): a rollback when a Rollout
    # was aborted, an incident opened when an Application degraded, a recovery when it is
    # healthy (every healthy sample: the report pairs a recovery with an open incident only).
    "on-rollout-aborted-event": {"rollout-degraded"},
    "on-incident-opened-event": {"degraded", "rollout-degraded"},
    "on-incident-resolved-event": {*DEPLOYED, "single-source-synced", "sync-failed"},
}
# Triggers only the stack with `argocd.notifications.githubDispatch` (staging) declares.
STAGING_ONLY = {
    "on-staging-deployed",
    "on-rollout-aborted-event",
    "on-incident-opened-event",
    "on-incident-resolved-event",
}
SLACK = "slack-webhook"


def revisions(app: dict[str, Any], trigger: str) -> list[str]:
    """The revisions a message and `oncePer` must name: for "deployed", those its sync applied
    (`operationState.syncResult`), else those Argo CD last compared (`status.sync`); one
    source's `revision`, or a multi-source app's `revisions`."""
    status = app["status"]
    deployed = trigger in ("on-deployed", "on-staging-deployed")
    at = status["operationState"]["syncResult"] if deployed else status["sync"]
    return list(at.get("revisions") or [at["revision"]])


@pytest.fixture(scope="module")
def samples() -> dict[str, dict[str, Any]]:
    return load_samples()


@pytest.fixture(scope="module")
def evaluations(samples: dict[str, dict[str, Any]]) -> dict[str, Evaluation]:
    """The engine run once per stack over every sample."""
    require_binary()
    out = {}
    for stack in STACKS:
        configmap, secret = stack_inputs(run_stack(stack))
        out[stack] = evaluate(configmap, secret, list(samples.values()))
    return out


def by_sample(
    evaluation: Evaluation, samples: dict[str, dict[str, Any]]
) -> dict[tuple[str, str], TriggerResult]:
    names = {app["metadata"]["name"]: sample for sample, app in samples.items()}
    return {(names[r.app], r.trigger): r for r in evaluation.results}


@pytest.mark.go
def test_the_harness_links_the_engine_argo_cd_pins() -> None:
    """A stale binary (built before go.mod changed) would test another engine."""
    require_binary()
    go_mod = (ROOT / "tools" / "notifications" / "go.mod").read_text()
    pinned = dict(re.findall(r"^\s+(github\.com/\S+) (v\S+)", go_mod, flags=re.MULTILINE))
    evaluation = evaluate({}, {}, [])
    for module in ("github.com/argoproj/notifications-engine", "github.com/expr-lang/expr"):
        assert evaluation.build[module] == pinned[module], (
            f"rebuild with `make notifications-harness`: {module}"
        )
    assert evaluation.build["github.com/Masterminds/sprig/v3"] == "v3.3.0"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.go
def test_each_trigger_fires_exactly_on_its_samples(
    stack: str, evaluations: dict[str, Evaluation], samples: dict[str, dict[str, Any]]
) -> None:
    results = by_sample(evaluations[stack], samples)
    triggers = sorted({trigger for _, trigger in results})
    expected = {t: fires for t, fires in FIRES.items() if stack == "staging" or t not in STAGING_ONLY}
    assert triggers == sorted(expected), f"list the samples each trigger fires on in FIRES: {triggers}"
    table = [f"{'sample':24} " + " ".join(f"{t:20}" for t in triggers)]
    for sample in samples:
        table.append(f"{sample:24} " + " ".join(f"{results[sample, t].fired!s:20}" for t in triggers))
    print(f"\n[{stack}] trigger fired, by the notifications engine\n" + "\n".join(table))
    fired = {trigger: {s for s in samples if results[s, trigger].fired} for trigger in triggers}
    assert fired == expected


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.go
def test_no_sample_raises_an_evaluation_error(stack: str, evaluations: dict[str, Evaluation]) -> None:
    problems = [
        f"{r.app} {r.trigger}[{c.index}]: {c.error or c.once_per_error or r.error}"
        for r in evaluations[stack].results
        for c in r.conditions
        if r.error or c.error or c.once_per_error
    ]
    assert problems == []
    # Argo CD's controller would process every sample (none is waiting for a refresh).
    assert not [r.app for r in evaluations[stack].results if r.skipped]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.go
def test_once_per_is_the_revision_wherever_a_trigger_with_once_per_fires(
    stack: str, evaluations: dict[str, Evaluation], samples: dict[str, dict[str, Any]]
) -> None:
    keyed = 0
    for (sample, trigger), result in by_sample(evaluations[stack], samples).items():
        for condition in result.conditions:
            if condition.triggered and condition.once_per_expression:
                keyed += 1
                # "<nil>" is what the engine makes of a missing field: one message ever.
                assert condition.once_per not in ("", "<nil>"), (sample, condition.once_per_expression)
                assert condition.once_per.split(",") == revisions(samples[sample], trigger), sample
    assert keyed >= 2, "on-deployed keys oncePer on the revision, for single- and multi-source"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.go
def test_every_message_renders_valid_json_with_the_short_revision(
    stack: str, evaluations: dict[str, Evaluation], samples: dict[str, dict[str, Any]]
) -> None:
    rendered = 0
    for (sample, trigger), result in by_sample(evaluations[stack], samples).items():
        for condition in result.conditions:
            if not condition.triggered:
                continue
            assert condition.notifications, f"{trigger} fired on {sample} but reaches no service"
            for note in condition.notifications:
                assert note.error == "", f"{trigger} on {sample}: {note.error}"
                if note.service != SLACK:
                    continue  # the dispatches' payloads: test_*_dispatch_*
                assert note.service_type == "webhook" and note.method == "POST"
                assert note.body is not None
                body = json.loads(note.body)
                short = revisions(samples[sample], trigger)[0][:7]
                assert short in json.dumps(body), f"{trigger} on {sample}: {note.body}"
                if note.service == SLACK_WEBHOOK_SERVICE:
                    text = body["attachments"][0]["text"]
                    assert text.startswith(f"[{stack}] {samples[sample]['metadata']['name']} "), text
                    assert f" {short}" in text, f"{trigger} on {sample}: {text}"
                rendered += 1
    assert rendered >= len(FIRES)


@pytest.mark.go
def test_a_commit_without_a_sync_does_not_announce_deployed_again(
    evaluations: dict[str, Evaluation], samples: dict[str, dict[str, Any]]
) -> None:
    """Every Application tracks the GitOps repository, so `status.sync` moves on any commit;
    the controller sends again only when `oncePer` changes, which needs a sync."""
    app = samples["multi-source-synced-after-unrelated-commit"]
    [condition] = evaluations["staging"].of(app["metadata"]["name"], "on-deployed").conditions
    assert condition.triggered
    assert app["status"]["sync"]["revisions"][0] not in condition.once_per


@pytest.mark.go
def test_the_unfixed_deployed_notification_fails_on_a_multi_source_app(
    samples: dict[str, dict[str, Any]],
) -> None:
    """What the engine made of the first design (argoproj/argo-cd#13188): the template keyed on
    `status.sync.revision` fails to render and `oncePer` is "<nil>" for a multi-source app."""
    configmap, secret = stack_inputs(run_stack("staging"))
    configmap["trigger.on-deployed"] = (
        "- when: app.status.operationState.phase in ['Succeeded'] and app.status.health.status == 'Healthy'\n"
        "  oncePer: app.status.sync.revision\n"
        "  send: [slack-deployed]\n"
    )
    configmap["template.slack-deployed"] = (
        "webhook:\n  slack-webhook:\n    method: POST\n    body: |\n"
        '      {"text": {{ toJson (printf "%s deployed %s" .app.metadata.name (trunc 7 .app.status.sync.revision)) }}}\n'
    )
    app = samples["multi-source-synced"]
    [condition] = evaluate(configmap, secret, [app]).of(app["metadata"]["name"], "on-deployed").conditions
    assert condition.triggered and condition.once_per == "<nil>"
    [note] = condition.notifications
    assert "trunc" in note.error or "expected string" in note.error, note.error


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.go
def test_a_degraded_rollout_says_it_was_rolled_back(
    stack: str, evaluations: dict[str, Evaluation], samples: dict[str, dict[str, Any]]
) -> None:
    app = samples["rollout-degraded"]
    [condition] = evaluations[stack].of(app["metadata"]["name"], "on-rollout-degraded").conditions
    assert condition.triggered
    [note] = condition.notifications
    text = json.loads(note.body or "")["attachments"][0]["text"]
    assert text == (
        f"[{stack}] platform-staging-api-router-service has a degraded Rollout at 7e6d5c4: its update "
        "was aborted and traffic is back on the stable version"
    )


@pytest.mark.go
def test_staging_deployed_dispatch_carries_the_application_its_revisions_and_images(
    evaluations: dict[str, Evaluation], samples: dict[str, dict[str, Any]]
) -> None:
    """What GitHub receives from staging's Argo CD, rendered by the engine: the
    repository_dispatch that staging-validation.yml runs on, for single- and multi-source
    Applications, with and without images."""
    results = by_sample(evaluations["staging"], samples)
    dispatched = set()
    for sample in sorted(FIRES["on-staging-deployed"]):
        app = samples[sample]
        [condition] = results[sample, "on-staging-deployed"].conditions
        assert condition.triggered
        assert condition.once_per.split(",") == revisions(app, "on-staging-deployed")
        [note] = condition.notifications
        assert (note.service, note.error, note.method) == ("github-dispatch", "", "POST")
        assert note.path == "/repos/ai-aas/platform/dispatches"
        assert note.body is not None
        payload = json.loads(note.body)
        assert payload == {
            "event_type": "staging-deployed",
            "client_payload": {
                "application": app["metadata"]["name"],
                "environment": "staging",
                "revisions": revisions(app, "on-staging-deployed"),
                "images": app["status"].get("summary", {}).get("images", []),
            },
        }
        dispatched.add(len(payload["client_payload"]["images"]) > 0)
    assert dispatched == {True, False}, "samples with and without images"
    # Never to Slack, and only staging sends it.
    for stack in ("development", "production"):
        assert not [r for r in evaluations[stack].results if r.trigger == "on-staging-deployed"]


EVENT_DISPATCHES = {
    "on-rollout-aborted-event": ("rollout-aborted", "rollback"),
    "on-incident-opened-event": ("incident-opened", "incident"),
    "on-incident-resolved-event": ("incident-resolved", "incident"),
}


def test_delivery_event_dispatches_become_schema_valid_events(
    evaluations: dict[str, Evaluation], samples: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """Each delivery-event dispatch, as the engine renders it for the samples, fed to the
    recorder delivery-events.yml runs (`delivery_event.py dispatch`): a rollback or an
    incident of that Application, valid against the delivery-event schema."""
    schema = delivery_events.schema()
    checker = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    results = by_sample(evaluations["staging"], samples)
    recorded = 0
    for trigger, (event_type, kind) in EVENT_DISPATCHES.items():
        for sample in sorted(FIRES[trigger]):
            app = samples[sample]
            [condition] = results[sample, trigger].conditions
            [note] = condition.notifications
            assert (note.service, note.error, note.path) == (
                "github-dispatch",
                "",
                "/repos/ai-aas/platform/dispatches",
            )
            body = json.loads(note.body or "")
            assert body["event_type"] == event_type
            out = tmp_path / f"{trigger}-{sample}"
            run_recorder(
                ["dispatch", "--out", str(out)],
                {"EVENT_TYPE": event_type, "PAYLOAD": json.dumps(body["client_payload"])},
            )
            [written] = list(out.glob("*.json"))
            record = json.loads(written.read_text())
            checker.validate(record)
            assert record["kind"] == kind
            assert record["application"] == app["metadata"]["name"]
            assert record["environment"] == "staging"
            assert record["source"]["trigger"] == event_type
            recorded += 1
    assert recorded == sum(len(FIRES[t]) for t in EVENT_DISPATCHES)
