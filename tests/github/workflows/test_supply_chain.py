"""What the rendered workflows download and run, besides pinned actions (review H4, M3, M8, L8).

Over the exact files the owner stack commits (the `content` of each `github.RepositoryFile`):
every Python install comes from a hash lock; every image an action runs is pinned by
digest; every binary a script downloads is checked against a sha256 before it runs; the
engine runs only the verified CLI and plugins; images are scanned before anything is
pushed; and drift.yml checks every stack against main's program.
"""

from __future__ import annotations

import functools
import re
import sys
from typing import Any

import pytest
import yaml

from components.config.base import ConfigError
from components.github import ci_contract
from components.github.config import PINNED_IMAGE, PULUMI_PLUGIN_VERSIONS
from components.github.workflows import drift
from components.github.workflows.settings import REFERENCE
from components.github.workflows.toolchain import PULUMI_INSTALL_SCRIPT, TRIVY_INSTALL_SCRIPT
from tests.support.stacks import TEST_SECRETS, run_stack, with_changes
from tests.support.types import REPOSITORY_FILE
from tools.offline import OFFLINE_PINS, STACKS, Recorder, run_program
from tools.plan import GOLDEN, render_documents

SHA256 = re.compile(r"^[0-9a-f]{64}$")
PINNED = re.compile(PINNED_IMAGE)


@functools.cache
def workflow_files() -> dict[str, dict[str, Any]]:
    """File name -> parsed document of every workflow production commits (unmasked); parsed
    once (the tests only read it)."""
    found: dict[str, dict[str, Any]] = {}
    for res in run_stack("production").recorder.of_type(REPOSITORY_FILE):
        path = str(res.inputs["file"])
        if path.startswith(".github/workflows/"):
            found[path.rsplit("/", 1)[-1]] = yaml.safe_load(str(res.inputs["content"]))
    assert "infrastructure.yml" in found and "drift.yml" in found
    return found


def all_steps() -> list[tuple[str, str, int, dict[str, Any]]]:
    """(file, job id, index, step) of every step of every job."""
    return [
        (name, job_id, index, step)
        for name, doc in workflow_files().items()
        for job_id, job in doc["jobs"].items()
        for index, step in enumerate(job.get("steps", []))
    ]


def uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).startswith(f"{action}@")


# --------------------------------------------------------------------------- Python


def test_every_pip_install_is_hash_locked() -> None:
    seen = 0
    for name, job_id, _, step in all_steps():
        for line in str(step.get("run", "")).splitlines():
            if re.search(r"\bpip install\b", line) and not line.lstrip().startswith("#"):
                seen += 1
                where = f"{name} {job_id} {step['name']!r}: {line.strip()}"
                assert "--require-hashes" in line and "--no-deps" in line, where
                assert re.search(r"--requirement \S+\.lock\b|--requirement \"\$LOCUST_LOCK\"", line), where
    # The program's runtime in every engine job (preview, up, drift) and Locust in validation.
    assert seen >= 10, seen


def test_the_locust_lock_the_load_job_installs_is_committed_beside_the_scripts() -> None:
    files = {str(r.inputs["file"]) for r in run_stack("production").recorder.of_type(REPOSITORY_FILE)}
    [load] = [
        s
        for n, j, _, s in all_steps()
        if n == "staging-validation.yml" and j == "load" and "LOCUST_LOCK" in s.get("env", {})
    ]
    lock = load["env"]["LOCUST_LOCK"].split("/", 1)[1]
    assert lock in files, f"{lock} is not among the committed files"


# --------------------------------------------------------------------------- images and binaries


def test_every_image_an_action_runs_is_pinned_by_digest() -> None:
    checked: set[str] = set()
    for name, job_id, _, step in all_steps():
        with_ = step.get("with") or {}
        where = f"{name} {job_id} {step['name']!r}"
        if uses(step, "docker/setup-qemu-action"):
            assert PINNED.match(str(with_.get("image", ""))), f"{where}: binfmt image not pinned"
            assert with_.get("cache-image") is False, f"{where}: a cached binfmt image skips the digest"
            checked.add("qemu")
        if uses(step, "docker/setup-buildx-action"):
            opts = str(with_.get("driver-opts", ""))
            assert re.fullmatch(r"image=\S+", opts) and PINNED.match(opts.removeprefix("image=")), where
            checked.add("buildkit")
        if uses(step, "zaproxy/action-baseline") or uses(step, "zaproxy/action-full-scan"):
            assert PINNED.match(str(with_.get("docker_name", ""))), f"{where}: ZAP image not pinned"
            checked.add("zap")
        for key, value in with_.items():
            text = str(value)
            if key in ("image", "docker_name", "driver-opts") or text.startswith("docker://"):
                assert "@sha256:" in text, f"{where}: {key}={text}"
    assert checked == {"qemu", "buildkit", "zap"}


def _downloads(script: str) -> list[str]:
    """Lines of a script that fetch something (curl or wget), Slack posts aside."""
    return [
        line
        for line in script.splitlines()
        if re.search(r"\b(curl|wget)\b", line)
        and "--request POST" not in line
        and not line.lstrip().startswith("#")
    ]


def test_every_download_in_a_script_is_checked_before_use() -> None:
    verified = 0
    for name, job_id, _, step in all_steps():
        script = str(step.get("run", ""))
        where = f"{name} {job_id} {step['name']!r}"
        assert not re.search(r"\|\s*(ba|z)?sh\b", script), f"{where}: pipes a download into a shell"
        assert not re.search(r"\bdocker (run|pull)\b", script) or "@sha256:" in script, (
            f"{where}: docker by tag"
        )
        for line in re.findall(r"\bgo install \S+", script):
            assert re.search(r"@(v\d|\$\{?[A-Z_]+_VERSION)", line), (
                f"{where}: {line} (the Go checksum database needs a version)"
            )
        lines = _downloads(script)
        if not lines:
            continue
        lines = [line for line in script.splitlines() if line in lines]
        check = script.find("sha256sum --check --strict")
        assert check != -1, f"{where}: downloads without a sha256 check: {lines}"
        for line in lines:
            assert script.find(line) < check, f"{where}: the check must follow the download"
        verified += 1
    assert verified >= 3  # the Pulumi CLI, and Trivy in ci.yml, security.yml, delivery.yml ...


def test_every_checksum_a_step_verifies_against_is_pinned_hex() -> None:
    for name, job_id, _, step in all_steps():
        env = step.get("env") or {}
        for key in ("PULUMI_SHA256", "TRIVY_SHA256"):
            if key in env:
                assert SHA256.match(str(env[key])), f"{name} {job_id}: {key}={env[key]!r}"
        for line in str(env.get("PLUGINS", "")).splitlines():
            plugin, version, sha256 = line.split()
            assert PULUMI_PLUGIN_VERSIONS[plugin] == version and SHA256.match(sha256), line


def test_trivy_runs_only_as_the_checksum_verified_binary() -> None:
    for name, job_id, index, step in all_steps():
        job = workflow_files()[name]["jobs"][job_id]
        before = job["steps"][:index]
        installed = any(s.get("run") == TRIVY_INSTALL_SCRIPT for s in before)
        if uses(step, "aquasecurity/trivy-action"):
            assert (step.get("with") or {}).get("skip-setup-trivy") is True, (
                f"{name} {job_id}: setup-trivy would run"
            )
            assert installed, f"{name} {job_id}: trivy-action before the verified install"
        if re.search(r"^\s*trivy ", str(step.get("run", "")), re.M):
            assert installed, f"{name} {job_id}: trivy before the verified install"


def test_the_engine_runs_only_the_verified_cli_and_plugins() -> None:
    """Every job that runs Pulumi installs the CLI and each plugin by checksum first, and runs
    the engine with downloads off in a PULUMI_HOME of its own (pulumi/actions then finds the
    CLI at its `pulumi-version` and downloads nothing)."""
    engine_jobs = 0
    for name, doc in workflow_files().items():
        for job_id, job in doc["jobs"].items():
            steps = job.get("steps", [])
            installs = [i for i, s in enumerate(steps) if s.get("run") == PULUMI_INSTALL_SCRIPT]
            runs = [
                i
                for i, s in enumerate(steps)
                if uses(s, "pulumi/actions") or re.search(r"\bmake preview\b", str(s.get("run", "")))
            ]
            assert all(
                not uses(s, "pulumi/actions") or (s.get("with") or {}).get("command") for s in steps
            ), f"{name} {job_id}: pulumi/actions only to install the CLI (it would download it)"
            if not runs:
                continue
            engine_jobs += 1
            assert installs and installs[0] < runs[0], (
                f"{name} {job_id}: the engine runs before the verified install"
            )
            install = steps[installs[0]]
            assert set(install["env"]["PLUGINS"].split()[::3]) == set(PULUMI_PLUGIN_VERSIONS)
            for i in runs:
                env = steps[i].get("env") or {}
                assert env.get("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION") == "true", f"{name} {job_id}"
                assert env.get("PULUMI_HOME") == install["env"]["PULUMI_HOME"], f"{name} {job_id}"
                with_ = steps[i].get("with") or {}
                if "pulumi-version" in with_:
                    assert with_["pulumi-version"] == install["env"]["PULUMI_VERSION"]
    # preview-, state-preview- and up- of each stack, and drift- of each stack.
    assert engine_jobs == 4 * len(STACKS), engine_jobs


def test_golangci_lint_is_built_through_the_go_checksum_database() -> None:
    lint = [s for _, _, _, s in all_steps() if uses(s, "golangci/golangci-lint-action")]
    assert lint and all(s["with"]["install-mode"] == "goinstall" for s in lint)


# --------------------------------------------------------------------------- checksums in config


def test_the_managing_stack_must_set_every_checksum_itself() -> None:
    with pytest.raises(ConfigError) as refused:
        run_program("production", TEST_SECRETS, recorder=Recorder(), offline_pins=False)
    text = str(refused.value)
    assert (
        "delivery:github.workflows.toolchain.pulumiCliSha256: the infrastructure jobs install the Pulumi CLI"
        in text
    )
    assert "pulumi-3.274.1-checksums.txt of https://github.com/pulumi/pulumi/releases/tag/v3.274.1" in text
    for name in ("kubernetes", "linode", "tls"):
        assert f"delivery:github.workflows.toolchain.pulumiPlugins.{name}: " in text
        assert f"https://github.com/pulumi/pulumi-{name}/releases/tag/v{PULUMI_PLUGIN_VERSIONS[name]}" in text
    # The committed file sets the github plugin's checksum (from a published source).
    assert "pulumiPlugins.github:" not in text


def test_a_plugin_pinned_for_another_version_than_its_sdk_is_refused() -> None:
    values = with_changes(
        "production",
        {
            "delivery:github.workflows.toolchain.pulumiPlugins.github": {
                "version": "6.14.0",
                "sha256": "a" * 64,
            }
        },
    )
    with pytest.raises(
        ConfigError, match=r"pulumiPlugins\.github\.version = \"6\.14\.0\": requirements\.txt pins"
    ):
        run_program("production", TEST_SECRETS, values, recorder=Recorder())


def test_a_checksum_that_is_not_64_hex_digits_is_refused() -> None:
    values = with_changes("production", {"delivery:github.workflows.toolchain.pulumiCliSha256": "sha256:abc"})
    with pytest.raises(ConfigError, match=r"toolchain\.pulumiCliSha256"):
        run_program("production", TEST_SECRETS, values, recorder=Recorder())


def test_the_golden_files_name_the_offline_placeholders_and_never_show_their_values() -> None:
    golden = "".join(p.read_text() for p in (GOLDEN / "production").rglob("*") if p.is_file())
    assert "PULUMI_SHA256: unpublished-checksum-stand-in-pulumiCliSha256" in golden
    for value in OFFLINE_PINS.values():
        assert value not in golden
    rendered = render_documents(run_stack("production"))
    assert all(value not in text for text in rendered.values() for value in OFFLINE_PINS.values())


# --------------------------------------------------------------------------- the bar: zero unpinned

# Package managers that resolve at run time: none may appear in a workflow script (what the
# jobs need comes as a pinned action, a checksum-verified download, a hash lock or `go install`
# at a version through the Go checksum database).
FLOATING_INSTALLERS = re.compile(
    r"\b(npm (install|i|ci|exec)|npx|yarn (add|install)|pnpm (add|install)|apt(-get)? install|gem install|"
    r"cargo install|brew install|pipx (install|run)|uv (pip|tool) install|conda install|helm (pull|install|repo add))\b"
)


def fetch_inventory() -> list[tuple[str, str, bool]]:
    """(where, what, pinned) for everything every rendered workflow fetches and runs: actions,
    images, downloads, Go tools, Python packages, plugins."""
    inventory: list[tuple[str, str, bool]] = []
    for name, doc in workflow_files().items():
        for job_id, job in doc["jobs"].items():
            job_where = f"{name} {job_id}"
            if "uses" in job:  # a reusable workflow: this repository's own file at this commit
                ref = str(job["uses"])
                inventory.append((job_where, ref, ref.startswith("./.github/workflows/")))
            container = job.get("container")
            images = (
                [container.get("image") if isinstance(container, dict) else container] if container else []
            )
            images += [
                svc.get("image") for svc in (job.get("services") or {}).values() if isinstance(svc, dict)
            ]
            inventory += [(job_where, f"image {i}", bool(PINNED.match(str(i)))) for i in images]
            for index, step in enumerate(job.get("steps", [])):
                where = f"{job_where} step {index} {step.get('name', '')!r}"
                if "uses" in step:
                    ref = str(step["uses"])
                    if ref.startswith("docker://"):
                        inventory.append((where, ref, "@sha256:" in ref))
                    elif not ref.startswith("./"):
                        inventory.append(
                            (where, ref, bool(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref)))
                        )
                for key, value in (step.get("with") or {}).items():
                    text = str(value)
                    if key in ("image", "docker_name") or text.startswith(("docker://", "image=")):
                        inventory.append((where, f"{key}={text}", "@sha256:" in text))
                script = str(step.get("run", ""))
                for line in script.splitlines():
                    if line.lstrip().startswith("#"):
                        continue
                    if FLOATING_INSTALLERS.search(line):
                        inventory.append((where, line.strip(), False))
                    if re.search(r"\bpip install\b", line):
                        inventory.append(
                            (where, line.strip(), "--require-hashes" in line and "--no-deps" in line)
                        )
                    for tool in re.findall(r"\bgo install \S+", line):
                        inventory.append((where, tool, bool(re.search(r"@(v\d|\$\{?[A-Z_]+_VERSION)", tool))))
                    if re.search(r"\bpulumi plugin install\b", line):
                        inventory.append((where, line.strip(), "--checksum" in line))
                    if re.search(r"\bdocker (run|pull)\b", line):
                        inventory.append((where, line.strip(), "@sha256:" in line))
                if _downloads(script):
                    inventory.append((where, "download", "sha256sum --check --strict" in script))
    return inventory


def test_zero_unpinned_images_binaries_or_unhashed_packages_in_the_rendered_workflows() -> None:
    """The issue's bar over every workflow file the managing stack commits. `pytest -s` prints
    the inventory."""
    inventory = fetch_inventory()
    print(f"\n{len(inventory)} fetches in the rendered workflows, {sum(p for *_, p in inventory)} pinned")
    unpinned = [f"{where}: {what}" for where, what, pinned in inventory if not pinned]
    assert unpinned == [], "unpinned:\n" + "\n".join(unpinned)
    kinds = {what.split("@")[0].split("=")[0] for _, what, _ in inventory}
    # The inventory saw what it must judge: actions, images, downloads, Go tools, locks, plugins.
    assert {"actions/checkout", "image", "download"} <= kinds, sorted(kinds)
    assert any("pip install" in w for _, w, _ in inventory) and any(
        "go install" in w for _, w, _ in inventory
    )
    assert any("pulumi plugin install" in w for _, w, _ in inventory)


def test_the_inventory_flags_what_floats(monkeypatch: pytest.MonkeyPatch) -> None:
    floating = {
        "jobs": {
            "j": {
                "container": "node:20",
                "steps": [
                    {"name": "a", "uses": "actions/checkout@v4"},
                    {"name": "b", "run": "npm install -g pnpm"},
                    {"name": "c", "run": "pip install requests"},
                    {"name": "d", "run": "curl -LO https://example.com/x.tgz && tar xf x.tgz"},
                    {"name": "e", "uses": "docker://alpine:3"},
                ],
            }
        }
    }
    monkeypatch.setattr(sys.modules[__name__], "workflow_files", lambda: {"x.yml": floating})
    unpinned = [what for _, what, pinned in fetch_inventory() if not pinned]
    assert unpinned == [
        "image node:20",
        "actions/checkout@v4",
        "npm install -g pnpm",
        "pip install requests",
        "download",
        "docker://alpine:3",
    ]


# --------------------------------------------------------------------------- scan before push


def test_images_are_scanned_before_anything_is_pushed() -> None:
    jobs = workflow_files()["delivery.yml"]["jobs"]
    images, publish = jobs["images"], jobs["publish"]
    assert images["permissions"] == {"contents": "read"}, "the scanning job must not write packages"
    names = [s["name"] for s in images["steps"]]
    [build] = [s for s in images["steps"] if uses(s, "docker/build-push-action")]
    assert build["with"]["push"] is False and build["with"]["outputs"].startswith("type=oci,dest=")
    scan = next(i for i, s in enumerate(images["steps"]) if "trivy image" in str(s.get("run", "")))
    upload = next(i for i, s in enumerate(images["steps"]) if uses(s, "actions/upload-artifact"))
    assert names.index(build["name"]) < scan < upload
    assert not any(uses(s, "docker/login-action") for s in images["steps"])
    # Only the publish job writes packages, and it runs no scanner.
    assert publish["permissions"] == {"contents": "read", "packages": "write"}
    assert "images" in publish["needs"]
    assert not any(
        "trivy" in str(s.get("run", "")) or uses(s, "aquasecurity/trivy-action") for s in publish["steps"]
    )
    push = next(s for s in publish["steps"] if "skopeo copy" in str(s.get("run", "")))
    assert "--preserve-digests" in push["run"] and "sha256sum" in push["run"]
    record = next(s for s in publish["steps"] if s["name"] == "Record the image")
    assert record["env"]["DIGEST"] == f"${{{{ steps.{push['id']}.outputs.digest }}}}"
    assert jobs["deploy-development"]["needs"] == ["publish"]
    others = [j for j, job in jobs.items() if (job.get("permissions") or {}).get("packages") == "write"]
    assert others == ["publish"]


# --------------------------------------------------------------------------- drift


def test_drift_checks_every_stack_in_its_preview_environment_from_main_only() -> None:
    doc = workflow_files()["drift.yml"]
    on = doc[True]  # PyYAML reads the key `on` as a YAML 1.1 boolean
    assert set(on) == {"schedule", "workflow_dispatch"}
    assert [c["cron"] for c in on["schedule"]] == [drift.SCHEDULE]
    checks = {j: job for j, job in doc["jobs"].items() if j.startswith("drift-")}
    assert set(checks) == {f"drift-{env}" for env in STACKS}
    runner = yaml.safe_load(
        str(
            next(
                r.inputs["content"]
                for r in run_stack("production").recorder.of_type(REPOSITORY_FILE)
                if r.inputs["file"].endswith("infrastructure.yml")
            )
        )
    )
    for env in STACKS:
        job = checks[f"drift-{env}"]
        assert job["environment"] == ci_contract.preview_environment(env)
        assert job["if"] == "github.ref == 'refs/heads/main'"
        assert job["runs-on"] == runner["jobs"][f"state-preview-{env}"]["runs-on"]
        [preview] = [s for s in job["steps"] if uses(s, "pulumi/actions")]
        assert preview["with"]["command"] == "preview"
        assert preview["with"]["stack-name"] == env
        assert preview["with"]["refresh"] is True and preview["with"]["expect-no-changes"] is True
        assert preview["env"]["GITHUB_TOKEN"] == f"${{{{ secrets.{ci_contract.DEPLOYER_GITHUB_TOKEN} }}}}"
    assert isinstance(checks["drift-production"]["runs-on"], dict), (
        "production's check runs on its runner group"
    )
    notify = doc["jobs"]["notify"]
    assert notify["environment"] == ci_contract.CI_MAIN_ENVIRONMENT
    assert set(notify["needs"]) == set(checks)
    assert notify["if"] == "failure() && github.ref == 'refs/heads/main'"


def test_drift_is_no_pull_request_check() -> None:
    workflow = drift.workflow(REFERENCE)
    assert workflow.gate is None and not workflow.on.on_every_pull_request
