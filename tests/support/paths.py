"""The repository root and the test data folders, named once for every test module."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
# Recorded provider and Kubernetes schemas (tests/schemas/README.md says where each is from).
SCHEMAS = TESTS / "schemas"
# Inputs a test feeds the program's scripts: GitHub API answers, the old design's files.
FIXTURES = TESTS / "fixtures"
# Sample objects the built harnesses judge: Argo CD Applications, Pods.
SAMPLES = TESTS / "samples"
# The committed rendering of every stack (`make golden` writes it).
GOLDEN = TESTS / "golden"
