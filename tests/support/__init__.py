"""What test modules share: the stack runs and their config edits (stacks), scratch git
repositories and runner-like shells (scratch), the test data folders (paths), and the harnesses
that run built tools (cel_harness, notifications_harness, delivery_events_harness, s3_server).
Test modules import from here, never from conftest.py or from each other's helpers;
conftest.py holds fixtures only (docs/development.md, "Tests")."""
