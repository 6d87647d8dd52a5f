"""The delivery-event record: what the workflows write to the metrics bucket and the DORA
report reads (schema ``delivery-events.schema.json`` beside this module; docs/dora-metrics.md).

github's workflows write the records (through ``.github/scripts/delivery_event.py``, which
repeats these constants because it runs on a runner with the standard library only; a test
holds them equal), gitops' notifications wake the workflow that records staging's rollbacks
and incidents, promote.yml's health job observes production's, and ``tools/dora`` reads them
back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "delivery-event/1"
SCHEMA_PATH = Path(__file__).with_name("delivery-events.schema.json")
# Objects live under <PREFIX>/<kind>/<yyyy>/<mm>/<dd>/<id>.json: one version per prefix, so a
# schema change writes beside the old records instead of over them.
PREFIX = "events/v1"
KINDS = ("pipeline_run", "deployment", "promotion", "validation", "rollback", "incident", "gap")

# repository_dispatch event types Argo CD's notifications send for the events workflow.
ROLLOUT_ABORTED_EVENT = "rollout-aborted"
INCIDENT_OPENED_EVENT = "incident-opened"
INCIDENT_RESOLVED_EVENT = "incident-resolved"
RECORDED_DISPATCH_EVENTS = (ROLLOUT_ABORTED_EVENT, INCIDENT_OPENED_EVENT, INCIDENT_RESOLVED_EVENT)


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


def object_key(kind: str, occurred_at: str, event_id: str) -> str:
    """Where an event lives in the bucket (``occurred_at`` in RFC 3339: its date names the folder)."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    year, month, day = occurred_at[:10].split("-")
    return f"{PREFIX}/{kind}/{year}/{month}/{day}/{event_id}.json"
