"""Gate scripts the workflows run, committed beside them under ``.github/scripts/``.

Standard-library Python, run by the runner's Python: ``locust_gate.py`` (performance gate of
staging validation), ``zap_gate.py`` (its DAST gate), ``staging_state.py`` (what staging runs,
read from its Argo CD Applications) and ``validation_evidence.py`` (the promotion gate of
``promote.yml``: the newest validation run of main and its evidence), ``delivery_event.py``
(the delivery events every deploying, promoting, validating or recording workflow uploads to
the metrics bucket), ``locust.lock``, the
hash lock the load job installs Locust from (``make lock`` writes it from ``locust.in``),
``sarif_gate.py`` (fails a scanner job on a high or critical finding, as code scanning
judges severity), ``coverage_gate.py`` (the seed's coverage thresholds over a service's
Cobertura report) and ``semgrep.lock`` (Semgrep, from ``semgrep.in``). The
program commits them with the
workflow files in the same ``pulumi up`` (``workflow_files``), so a workflow and the scripts
it calls never come from different versions of this program; the tests run these files.
"""

from __future__ import annotations

from pathlib import Path

SCRIPTS_DIR = ".github/scripts"
LOCUST_GATE = "locust_gate.py"
ZAP_GATE = "zap_gate.py"
STAGING_STATE = "staging_state.py"
VALIDATION_EVIDENCE = "validation_evidence.py"
DELIVERY_EVENT = "delivery_event.py"
LOCUST_LOCK = "locust.lock"
SARIF_GATE = "sarif_gate.py"
COVERAGE_GATE = "coverage_gate.py"
SEMGREP_LOCK = "semgrep.lock"
_HERE = Path(__file__).parent


def files() -> dict[str, str]:
    """Repository path -> text of every gate script."""
    return {
        f"{SCRIPTS_DIR}/{name}": (_HERE / name).read_text()
        for name in (
            LOCUST_GATE,
            ZAP_GATE,
            STAGING_STATE,
            VALIDATION_EVIDENCE,
            DELIVERY_EVENT,
            LOCUST_LOCK,
            SARIF_GATE,
            COVERAGE_GATE,
            SEMGREP_LOCK,
        )
    }
