"""The hash locks: what `make install` and the workflows install, against their inputs.

`requirements.lock` (the program's runtime, installed by the infrastructure jobs that hold
the stack's passphrase), `requirements-report.lock` (the weekly DORA report), `requirements-dev.lock` (`make install`: tests, lint, the
credential-free previews) and `locust.lock` (staging validation's load test) pin every
transitive package with the sha256 of its files. `make lock` writes them with pip-compile;
these tests fail while one is stale against its requirements file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.github.config import PULUMI_PLUGIN_VERSIONS, LoadTestConfig
from components.github.workflows.scripts import LOCUST_LOCK, SCRIPTS_DIR, files
from tools.offline import ROOT

SCRIPTS = ROOT / "components" / "github" / "workflows" / "scripts"
LOCKS = {
    "requirements.lock": ("requirements.txt",),
    "requirements-dev.lock": ("requirements-dev.txt", "requirements.txt", "requirements-report.txt"),
    # The DORA report's own lock (dora-report.yml installs it).
    "requirements-report.lock": ("requirements-report.txt",),
    f"{SCRIPTS.relative_to(ROOT)}/{LOCUST_LOCK}": (f"{SCRIPTS.relative_to(ROOT)}/locust.in",),
}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_ENTRY = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+) \\\n(?P<hashes>(?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)",
    re.M,
)


def normalise(name: str) -> str:
    """PEP 503: names compare lowercased, runs of `-`, `_` and `.` as one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_pins(rel: str) -> dict[str, str]:
    """`name==version` lines of a requirements file (its `-r` includes are listed apart)."""
    pins: dict[str, str] = {}
    for line in (ROOT / rel).read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[normalise(match[1])] = match[2]
    return pins


def lock_entries(rel: str) -> dict[str, tuple[str, int]]:
    """name -> (version, number of sha256 hashes) of every entry of a lock."""
    text = (ROOT / rel).read_text()
    return {
        normalise(m["name"]): (m["version"], m["hashes"].count("--hash=sha256:"))
        for m in _ENTRY.finditer(text)
    }


@pytest.mark.parametrize(("lock", "inputs"), LOCKS.items(), ids=list(LOCKS))
def test_the_lock_holds_every_pin_of_its_requirements_with_hashes(lock: str, inputs: tuple[str, ...]) -> None:
    entries = lock_entries(lock)
    for source in inputs:
        for name, version in requirement_pins(source).items():
            assert name in entries, f"{lock} lacks {name}=={version} of {source}: run `make lock`"
            locked, hashes = entries[name]
            assert locked == version, f"{lock} has {name}=={locked}, {source} pins {version}: run `make lock`"
            assert hashes >= 1, f"{lock}: {name} has no --hash=sha256"


@pytest.mark.parametrize("lock", list(LOCKS))
def test_every_line_of_the_lock_is_a_hashed_pin(lock: str) -> None:
    """Nothing a lock lists installs without its hash: no bare name, URL, editable, index or
    find-links option (which would make the lock depend on the machine that wrote it)."""
    text = (ROOT / lock).read_text()
    entries = lock_entries(lock)
    pinned = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(pinned) == len(entries), f"{lock}: lines other than hashed `name==version` entries: " + str(
        [line for line in pinned if not _PIN.match(line)]
    )
    assert not re.search(r"^\s*-(e|-editable|-index-url|-extra-index-url|-find-links|f|i)\b", text, re.M)
    assert "pip-compile --allow-unsafe --generate-hashes" in text, f"{lock} is not pip-compile's output"


def test_the_runtime_lock_is_the_dev_locks_runtime() -> None:
    """The tests run with exactly the runtime packages the infrastructure jobs install."""
    dev = lock_entries("requirements-dev.lock")
    runtime = lock_entries("requirements.lock")
    differ = {
        name: (v, dev.get(name, ("absent", 0))[0])
        for name, (v, _) in runtime.items()
        if dev.get(name, ("",))[0] != v
    }
    assert not differ, f"requirements.lock and requirements-dev.lock disagree (lock, dev lock): {differ}"


def test_the_report_lock_is_the_dev_locks_report() -> None:
    """The report's tests run with exactly the packages dora-report.yml installs."""
    dev = lock_entries("requirements-dev.lock")
    report = lock_entries("requirements-report.lock")
    differ = {
        name: (v, dev.get(name, ("absent", 0))[0])
        for name, (v, _) in report.items()
        if dev.get(name, ("",))[0] != v
    }
    assert not differ, (
        f"requirements-report.lock and requirements-dev.lock disagree (lock, dev lock): {differ}"
    )


def test_the_locust_lock_installs_the_locust_the_gate_tests_run() -> None:
    locust = lock_entries(f"{SCRIPTS.relative_to(ROOT)}/{LOCUST_LOCK}")
    dev = lock_entries("requirements-dev.lock")
    assert locust["locust"][0] == LoadTestConfig().locust_version
    differ = {name: v for name, (v, _) in locust.items() if name in dev and dev[name][0] != v}
    assert not differ, f"locust.lock and requirements-dev.lock pin these differently: {differ}"


def test_the_program_commits_the_locust_lock_beside_the_gate_scripts() -> None:
    assert files()[f"{SCRIPTS_DIR}/{LOCUST_LOCK}"] == (SCRIPTS / LOCUST_LOCK).read_text()


def test_plugin_versions_are_the_provider_sdks_of_requirements_txt() -> None:
    """A plugin's checksum is pinned for the version its SDK asks the engine for."""
    pins = requirement_pins("requirements.txt")
    assert {name: pins[f"pulumi-{name}"] for name in PULUMI_PLUGIN_VERSIONS} == PULUMI_PLUGIN_VERSIONS


def test_make_install_installs_only_from_the_dev_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(BIN)/.installed: requirements-dev.lock\n", 1)[1].split("\n\n", 1)[0]
    installs = [line for line in recipe.splitlines() if "pip install" in line]
    assert installs == ["\t$(BIN)/pip install $(PIP_LOCKED) -r requirements-dev.lock"], installs
    assert (
        "PIP_LOCKED := --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary :all:"
        in makefile
    )


def test_the_lock_inputs_exist_where_make_lock_reads_them() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for lock, inputs in LOCKS.items():
        stem = Path(lock).name.removesuffix(".lock")
        assert (ROOT / inputs[0]).is_file()
        assert f"--output-file {lock} {inputs[0]}" in makefile.replace(
            "$(LOCUST_LOCK)", f"{SCRIPTS.relative_to(ROOT)}/{stem}"
        ), lock
