"""Steps that bring a binary or a Python package onto a runner, each verified before use.

Every download is checked against a checksum the stack config pins (``github.workflows.toolchain``)
and fails the step when it does not match, before anything from it runs:

- the Pulumi CLI from its release archive (``sha256sum --check``), then each resource plugin
  with ``pulumi plugin install --checksum``; the jobs then run with automatic plugin
  downloads off and a ``PULUMI_HOME`` of their own, so neither a plugin the engine would
  fetch by itself nor one an earlier job left on a self-hosted runner is ever run.
  ``pulumi/actions`` finds the verified CLI on ``PATH`` and downloads nothing (it skips the
  download when the installed version satisfies ``pulumi-version``: ``downloadCli`` in
  src/libs/pulumi-cli.ts of pulumi/actions v7.0.0);
- Trivy from its release archive, so ``aquasecurity/setup-trivy`` (which trusts the
  checksums file of the same release it downloads) never runs;
- Python packages only from hash locks (``pip install --require-hashes --no-deps``).

Scripts read every value from ``env:`` (the model refuses ``${{ }}`` in scripts).
"""

from __future__ import annotations

from components.github.workflows.model import Step
from components.github.workflows.settings import Settings

# Hash-locked installs: pip refuses a file whose sha256 the lock does not list, resolves
# nothing beyond the lock (--no-deps) and runs no package's build code (--only-binary).
PIP_LOCKED = "--quiet --disable-pip-version-check --require-hashes --no-deps --only-binary :all:"
RUNTIME_LOCK = "requirements.lock"

# The engine's own settings in every job that runs it: plugins only from this job's
# PULUMI_HOME, where the install step put the verified ones.
PULUMI_HOME = "${{ runner.temp }}/pulumi-home"
ENGINE_ENV: dict[str, str] = {
    "PULUMI_HOME": PULUMI_HOME,
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    "PULUMI_SKIP_UPDATE_CHECK": "true",
}

# Downloads: HTTPS only, redirects followed only to HTTPS, errors fail the command.
_CURL = "curl --fail --silent --show-error --location --proto '=https' --tlsv1.2"

_LINUX_X64 = r"""if [[ "$(uname -s)/$(uname -m)" != Linux/x86_64 ]]; then
  echo "::error::the pinned checksums are of the linux-x64 archives; this runner is $(uname -s)/$(uname -m)"
  exit 1
fi
"""

PULUMI_INSTALL_SCRIPT = (
    "set -euo pipefail\n"
    + _LINUX_X64
    + r"""# PULUMI_VERSION, PULUMI_SHA256: the CLI; PLUGINS: lines of "<name> <version> <sha256>".
if [[ ! "$PULUMI_SHA256" =~ ^[0-9a-f]{64}$ ]]; then
  echo "::error::no sha256 pinned for the Pulumi CLI (github.workflows.toolchain.pulumiCliSha256)"
  exit 1
fi
archive="pulumi-v${PULUMI_VERSION}-linux-x64.tar.gz"
"""
    + _CURL
    + r""" --output "$RUNNER_TEMP/$archive" "https://get.pulumi.com/releases/sdk/$archive"
echo "$PULUMI_SHA256  $RUNNER_TEMP/$archive" | sha256sum --check --strict
rm -rf "$RUNNER_TEMP/pulumi"
mkdir -p "$RUNNER_TEMP/pulumi" "$PULUMI_HOME"
tar -xzf "$RUNNER_TEMP/$archive" -C "$RUNNER_TEMP/pulumi" --strip-components=1
rm -f "$RUNNER_TEMP/$archive"
export PATH="$RUNNER_TEMP/pulumi:$PATH"
if [[ "$(pulumi version)" != "v$PULUMI_VERSION" ]]; then
  echo "::error::the archive holds Pulumi $(pulumi version), not v$PULUMI_VERSION"
  exit 1
fi
echo "$RUNNER_TEMP/pulumi" >> "$GITHUB_PATH"
while read -r name version sha256; do
  [[ -n "$name" ]] || continue
  # --reinstall: a plugin already in PULUMI_HOME is downloaded and checked again.
  pulumi plugin install resource "$name" "$version" --exact --reinstall --checksum "$sha256"
done <<<"$PLUGINS"
pulumi plugin ls
"""
)

TRIVY_INSTALL_SCRIPT = (
    "set -euo pipefail\n"
    + _LINUX_X64
    + r"""archive="trivy_${TRIVY_VERSION}_Linux-64bit.tar.gz"
"""
    + _CURL
    + r""" --output "$RUNNER_TEMP/$archive" \
  "https://github.com/aquasecurity/trivy/releases/download/v${TRIVY_VERSION}/$archive"
echo "$TRIVY_SHA256  $RUNNER_TEMP/$archive" | sha256sum --check --strict
rm -rf "$RUNNER_TEMP/trivy"
mkdir -p "$RUNNER_TEMP/trivy"
tar -xzf "$RUNNER_TEMP/$archive" -C "$RUNNER_TEMP/trivy" trivy
rm -f "$RUNNER_TEMP/$archive"
"$RUNNER_TEMP/trivy/trivy" --version
echo "$RUNNER_TEMP/trivy" >> "$GITHUB_PATH"
"""
)


def pulumi_install_step(settings: Settings) -> Step:
    """The verified Pulumi CLI on PATH and every resource plugin the program needs in PULUMI_HOME."""
    wf = settings.workflows
    toolchain = wf.toolchain
    # Config validation requires every checksum of the stack that manages the repository;
    # settings without them (the reference shapes) render a step that refuses to install.
    plugins = "".join(
        f"{name} {pin.version} {pin.sha256}\n" for name, pin in sorted(toolchain.pulumi_plugins.items())
    )
    return Step(
        name="Install the Pulumi CLI and plugins (checksums pinned)",
        env={
            **ENGINE_ENV,
            "PULUMI_VERSION": wf.pulumi_version,
            # sha256 of pulumi-v<version>-linux-x64.tar.gz and of each plugin's
            # pulumi-resource-<name>-v<version>-linux-amd64.tar.gz (github.workflows.toolchain).
            "PULUMI_SHA256": toolchain.pulumi_cli_sha256 or "",
            "PLUGINS": plugins,
        },
        run=PULUMI_INSTALL_SCRIPT,
    )


def trivy_install_step(settings: Settings) -> Step:
    """Trivy on PATH from its release archive, checked against the pinned sha256."""
    toolchain = settings.workflows.toolchain
    return Step(
        name="Install Trivy (checksum pinned)",
        env={"TRIVY_VERSION": toolchain.trivy_version, "TRIVY_SHA256": toolchain.trivy_sha256},
        run=TRIVY_INSTALL_SCRIPT,
    )


def runtime_install_step(settings: Settings) -> Step:
    """The program's virtualenv (Pulumi.yaml names .venv) from requirements.lock only."""
    return Step(
        name="Install the program's dependencies (hash-locked)",
        working_directory=settings.workflows.pulumi_path,
        run=RUNTIME_INSTALL_SCRIPT,
    )


RUNTIME_INSTALL_SCRIPT = f"""set -euo pipefail
# Pulumi.yaml names the virtualenv (.venv); the CLI runs the program from it. Every package,
# transitive ones included, comes from {RUNTIME_LOCK} with its sha256 (`make lock`).
python -m venv .venv
.venv/bin/pip install {PIP_LOCKED} --requirement {RUNTIME_LOCK}
"""
