"""A real Kubernetes API server on 127.0.0.1 for the tests: etcd and kube-apiserver as built by
`make kube-apiserver` (tools/kube-apiserver/go.mod pins Kubernetes v1.34.12, etcd v3.6.4).

`start(directory)` generates a CA, the API server's serving certificate (127.0.0.1), an
admin client certificate (group `system:masters`) and the service-account signing key,
starts etcd and kube-apiserver, waits for `/readyz` and writes a kubeconfig. Both processes
run under coreutils `timeout`, so they end by themselves after `LIFETIME_SECONDS` even when
the test process dies; `stop()` ends them earlier. No kubelet, controller manager or
scheduler: objects are stored, validated and admitted, never run. Nor are admission webhooks
called (their Pods would answer them): ValidatingAdmissionPolicies are enforced, webhooks not.

Absent binaries skip LOUDLY (the `pytest.skip` message says what was not checked); `.ci/run`
builds them, so CI never skips.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tools.toolcache import cached_tool, tools_cache

ABSENT = (
    "local API server absent: build etcd and kube-apiserver with `make kube-apiserver` (needs Go); "
    "nothing was applied to a real Kubernetes API server"
)
# Upper bound on one server's life: the whole module's tests fit well inside it on the shared
# 2-core CI machine; a process orphaned by a killed test run is gone after it.
LIFETIME_SECONDS = 1800
READY_SECONDS = 240


def binaries() -> tuple[Path, Path]:
    """etcd and kube-apiserver from the tools cache, or a loud skip."""
    found = []
    for name in ("etcd", "kube-apiserver"):
        path = cached_tool(name)
        if path is None:
            pytest.skip(f"{ABSENT} ({name} not in {tools_cache()} nor on PATH)")
        found.append(path)
    return found[0], found[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes.default.svc"),
                ]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _name(common: str, organisation: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attributes)


def write_certificates(directory: Path) -> dict[str, Path]:
    """CA, serving pair, admin client pair and service-account key pair, as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def write(name: str, data: bytes) -> None:
        files[name] = directory / name
        files[name].write_bytes(data)
        files[name].chmod(0o600)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(_name("delivery-test-ca"), ca_key, None, ca=True)
    write("ca.crt", ca.public_bytes(serialization.Encoding.PEM))
    for role, subject, server in (
        ("serving", _name("kube-apiserver"), True),
        # system:masters: every permission, as an LKE kubeconfig's user has (its RBAC is not
        # what these tests are about).
        ("admin", _name("delivery-admin", "system:masters"), False),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(subject, key, (ca.subject, ca_key), server=server)
        write(f"{role}.key", _pem_key(key))
        write(f"{role}.crt", cert.public_bytes(serialization.Encoding.PEM))
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write("sa.key", _pem_key(sa_key))
    write(
        "sa.pub",
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    return files


# A list as PartialObjectMetadataList: each item's metadata alone.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(f"{status}: {body.get('message', body)}")
        self.status = status
        self.body = body


@dataclass
class LocalCluster:
    directory: Path
    url: str
    kubeconfig: Path
    files: dict[str, Path]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    ssl_context: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        # One context for every request (the stand-ins list the whole API every few seconds).
        if self.ssl_context is None:
            context = ssl.create_default_context(cafile=str(self.files["ca.crt"]))
            context.load_cert_chain(str(self.files["admin.crt"]), str(self.files["admin.key"]))
            self.ssl_context = context
        return self.ssl_context

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        timeout: float = 60,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> tuple[dict[str, Any], list[str]]:
        """The decoded answer and the API server's warnings; ApiError on a non-2xx status."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", accept)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._context(), timeout=timeout) as answer:
                warnings = answer.headers.get_all("Warning") or []
                raw = answer.read()
                if answer.headers.get_content_type() != "application/json":
                    return {"text": raw.decode(errors="replace")}, warnings
                return json.loads(raw or b"{}"), warnings
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                decoded = json.loads(raw)
            except ValueError:
                decoded = {"message": raw.decode(errors="replace")}
            raise ApiError(error.code, decoded) from None

    def get(self, path: str) -> dict[str, Any]:
        return self.request("GET", path)[0]

    def metadata(self, path: str) -> list[dict[str, Any]]:
        """The items of a list, metadata only (no Secret data, no specs), as client-go's metadata
        client asks for them (https://github.com/kubernetes/client-go/blob/master/metadata/metadata.go);
        a server that does not offer it answers with whole objects, whose metadata is the same."""
        # An empty PartialObjectMetadataList has `"items": null`.
        return list(self.request("GET", path, accept=METADATA_LIST)[0].get("items") or [])

    def create(
        self, path: str, body: dict[str, Any], *, dry_run: bool = False
    ) -> tuple[dict[str, Any], list[str]]:
        return self.request("POST", path + ("?dryRun=All" if dry_run else ""), body)

    def patch_status(self, path: str, status: dict[str, Any]) -> None:
        self.request(
            "PATCH", f"{path}/status", {"status": status}, content_type="application/merge-patch+json"
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()


def _bounded(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """`command` ended by coreutils `timeout` after LIFETIME_SECONDS whatever happens to us."""
    with log.open("wb") as out:
        return subprocess.Popen(
            ["timeout", "--kill-after=10", str(LIFETIME_SECONDS), *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else "(no log)"


def start(directory: Path) -> LocalCluster:
    """etcd and kube-apiserver on free 127.0.0.1 ports, ready to serve; skips when absent."""
    etcd, apiserver = binaries()
    files = write_certificates(directory / "pki")
    client_port, peer_port, secure_port = _free_port(), _free_port(), _free_port()
    etcd_url = f"http://127.0.0.1:{client_port}"
    peer_url = f"http://127.0.0.1:{peer_port}"
    cluster = LocalCluster(
        directory=directory,
        url=f"https://127.0.0.1:{secure_port}",
        kubeconfig=directory / "kubeconfig",
        files=files,
    )
    etcd_log, apiserver_log = directory / "etcd.log", directory / "kube-apiserver.log"
    # etcd on loopback only, without TLS: nothing but this API server can reach it.
    cluster.processes.append(
        _bounded(
            [
                str(etcd),
                "--name=local",
                f"--data-dir={directory / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=local={peer_url}",
                "--log-level=warn",
                # Fewer fsyncs matter on a shared CI disk; the data lives for one test run.
                "--unsafe-no-fsync",
            ],
            etcd_log,
        )
    )
    cluster.processes.append(
        _bounded(
            [
                str(apiserver),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={secure_port}",
                f"--cert-dir={directory / 'pki'}",
                f"--tls-cert-file={files['serving.crt']}",
                f"--tls-private-key-file={files['serving.key']}",
                f"--client-ca-file={files['ca.crt']}",
                f"--service-account-key-file={files['sa.pub']}",
                f"--service-account-signing-key-file={files['sa.key']}",
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--authorization-mode=RBAC",
                "--anonymous-auth=false",
                # No Pod runs, so no admission webhook can answer: the API server calls none
                # (docs/local-cluster.md, "Admission webhooks"). Admission policies still apply.
                "--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
                # Nothing here proxies to kubelets or aggregated API servers.
                "--enable-aggregator-routing=false",
                "--profiling=false",
                "--v=1",
            ],
            apiserver_log,
        )
    )
    _write_kubeconfig(cluster)
    deadline = time.monotonic() + READY_SECONDS
    while True:
        for process, log in zip(cluster.processes, (etcd_log, apiserver_log), strict=True):
            if process.poll() is not None:
                cluster.stop()
                raise RuntimeError(f"{log.stem} exited with {process.returncode}:\n{_tail(log)}")
        try:
            if cluster.request("GET", "/readyz", timeout=10)[0].get("text") == "ok":
                break
        except (ApiError, OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            cluster.stop()
            raise RuntimeError(f"kube-apiserver not ready after {READY_SECONDS}s:\n{_tail(apiserver_log)}")
        time.sleep(1)
    return cluster


def _write_kubeconfig(cluster: LocalCluster) -> None:
    files = cluster.files
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {"server": cluster.url, "certificate-authority": str(files["ca.crt"])},
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate": str(files["admin.crt"]),
                    "client-key": str(files["admin.key"]),
                },
            }
        ],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
        "current-context": "local",
    }
    cluster.kubeconfig.write_text(yaml.safe_dump(config))


def inline_kubeconfig(cluster: LocalCluster) -> str:
    """The kubeconfig with the certificates embedded: what a stack's config secret holds."""
    files = cluster.files
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    [entry] = config["clusters"]
    entry["cluster"] = {
        "server": cluster.url,
        "certificate-authority-data": base64.b64encode(files["ca.crt"].read_bytes()).decode(),
    }
    [user] = config["users"]
    user["user"] = {
        "client-certificate-data": base64.b64encode(files["admin.crt"].read_bytes()).decode(),
        "client-key-data": base64.b64encode(files["admin.key"].read_bytes()).decode(),
    }
    return str(yaml.safe_dump(config))


# Argo CD's resources finalizer on an Application, and the application controller that clears it:
# the argo-cd chart's StatefulSet (or Deployment, with controller.dynamicClusterDistribution), pod
# label app.kubernetes.io/name as components/gitops/argocd_values.py's COMPONENT_PODS names it.
# https://argo-cd.readthedocs.io/en/stable/user-guide/app_deletion/#about-the-deletion-finalizer
ARGOCD_FINALIZER = "resources-finalizer.argocd.argoproj.io"
ARGOCD_CONTROLLER_LABEL = "app.kubernetes.io/name%3Dargocd-application-controller"
APPLICATIONS = "/apis/argoproj.io/v1alpha1/applications"


def kinds(cluster: LocalCluster, *, namespaced: bool) -> list[str]:
    """`<group version path>/<plural>` of every (namespaced, or cluster-scoped) kind the API server
    serves that can be listed and deleted, each group at its preferred version."""
    versions = ["/api/v1"] + [
        f"/apis/{group['preferredVersion']['groupVersion']}" for group in cluster.get("/apis")["groups"]
    ]
    found = []
    for base in versions:
        try:
            listing = cluster.get(base)["resources"]
        except ApiError as error:
            if error.status == 404:  # a group whose last CRD went meanwhile
                continue
            raise
        for resource in listing:
            verbs = set(resource.get("verbs") or [])
            if (
                resource["namespaced"] == namespaced
                and "/" not in resource["name"]
                and {"list", "delete"} <= verbs
            ):
                found.append(f"{base}/{resource['name']}")
    return found


def namespaced_kinds(cluster: LocalCluster) -> list[str]:
    return kinds(cluster, namespaced=True)


def _retryable(error: Exception) -> bool:
    """429 "storage is (re)initializing": a new CRD's storage not ready yet; a controller retries."""
    return isinstance(error, ApiError) and error.status == 429


class StandIns:
    """What a real cluster's controllers would do, for `pulumi up` and `pulumi destroy` without them.

    - Helm hook Jobs (argo-cd's redis-secret-init, kube-prometheus-stack's admission-webhook
      certificate Jobs) are marked succeeded: Helm waits for them whatever skipAwait says, and
      no node runs them. What they would do (a Redis password Secret, the webhook's CA bundle)
      is therefore NOT done or checked here.
    - `kubernetes.io/service-account-token` Secrets get a token, as the token controller of
      kube-controller-manager fills them (here from the TokenRequest API, bound to the Secret).
    - Objects deleted with foreground or orphan propagation (Pulumi deletes in the foreground by
      default: https://www.pulumi.com/registry/packages/kubernetes/installation-configuration/,
      `pulumi.com/deletionPropagationPolicy`) lose their `foregroundDeletion` finalizer once no
      object names them as owner, dependents deleted first, and their `orphan` finalizer once
      their dependents no longer name them, as kube-controller-manager's garbage collector does
      (https://kubernetes.io/docs/concepts/architecture/garbage-collection/#foreground-deletion).
    - Namespaces being deleted are emptied and finalized, as kube-controller-manager's namespace
      controller does: every object of every namespaced kind the API server serves is deleted,
      and only once none is left (objects with finalizers stay until those are cleared) is the
      `kubernetes` finalizer removed through the namespace's `finalize` subresource
      (https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/namespace-v1/#replace-finalize-of-the-specified-namespace).
    - An Application being deleted loses Argo CD's resources finalizer ONLY while Argo CD's
      application controller (the argo-cd release's StatefulSet or Deployment) still exists in
      the Application's namespace, as only that controller clears it. Without it the finalizer
      stays, the Application is never deleted, and the Application is listed in `refused`:
      a destroy that removed Argo CD before its Applications hangs here as it would on a real
      cluster. The controller's cascade (deleting what the Application deployed) has nothing
      to do here: no Application ever synced, since no Argo CD pod runs.
    """

    def __init__(self, cluster: LocalCluster, *, collect_garbage: bool = True):
        self.cluster = cluster
        # The garbage collector's pass lists every object of every kind, every other second: the
        # costliest stand-in by far. `collect_garbage=False` leaves it off until
        # `start_collecting()` (before a destroy): nothing an `up` or a preview does deletes in
        # the foreground or orphans (Helm deletes its hook Jobs in the background), and were
        # that wrong, the step would hang on the finalizer and fail the test.
        self.collecting = threading.Event()
        self._kinds: tuple[set[str], list[str]] | None = None
        if collect_garbage:
            self.collecting.set()
        self.completed: list[str] = []
        self.tokens: list[str] = []
        # Namespaces finalized, in order; the objects the namespace stand-in deleted in them.
        self.finalized: list[str] = []
        self.emptied: list[str] = []
        # Applications whose finalizer was cleared, and those refused (no controller left).
        self.cleared: list[str] = []
        self.refused: list[str] = []
        # Objects whose foregroundDeletion or orphan finalizer the garbage collector's stand-in removed.
        self.collected: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> StandIns:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        passes = 0
        while not self._stop.wait(1):
            passes += 1
            # Every other second: it lists every object of the API server.
            if passes % 2 == 0 and self.collecting.is_set():
                try:
                    self._collect_garbage()
                except (ApiError, OSError) as error:
                    if not _retryable(error):
                        self.errors.append(f"_collect_garbage: {error}")
            for step in (
                self._complete_jobs,
                self._fill_tokens,
                self._clear_app_finalizers,
                self._clear_project_finalizers,
                self._finalize_namespaces,
            ):
                try:
                    step()
                except (ApiError, OSError) as error:
                    if not _retryable(error):
                        self.errors.append(f"{step.__name__}: {error}")

    def start_collecting(self) -> None:
        """The garbage collector's stand-in from now on (see `collect_garbage`)."""
        self.collecting.set()

    def _complete_jobs(self) -> None:
        for job in self.cluster.get("/apis/batch/v1/jobs")["items"]:
            meta = job["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            if any(c["type"] == "Complete" for c in job.get("status", {}).get("conditions") or []):
                continue
            now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            done = {"type": "Complete", "status": "True", "lastTransitionTime": now, "lastProbeTime": now}
            criteria = {**done, "type": "SuccessCriteriaMet"}
            self.cluster.patch_status(
                f"/apis/batch/v1/namespaces/{meta['namespace']}/jobs/{meta['name']}",
                {
                    "startTime": now,
                    "completionTime": now,
                    "succeeded": job["spec"].get("completions") or 1,
                    "conditions": [criteria, done],
                },
            )
            self.completed.append(f"{meta['namespace']}/{meta['name']}")

    def _fill_tokens(self) -> None:
        secrets = self.cluster.get(
            "/api/v1/secrets?fieldSelector=type%3Dkubernetes.io%2Fservice-account-token"
        )
        for secret in secrets["items"]:
            meta = secret["metadata"]
            if (secret.get("data") or {}).get("token"):
                continue
            account = meta["annotations"]["kubernetes.io/service-account.name"]
            ns = meta["namespace"]
            request = {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {
                    "audiences": [],
                    "boundObjectRef": {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "name": meta["name"],
                        "uid": meta["uid"],
                    },
                },
            }
            answer, _ = self.cluster.create(
                f"/api/v1/namespaces/{ns}/serviceaccounts/{account}/token", request
            )
            data = {
                "token": base64.b64encode(answer["status"]["token"].encode()).decode(),
                "ca.crt": base64.b64encode(self.cluster.files["ca.crt"].read_bytes()).decode(),
                "namespace": base64.b64encode(ns.encode()).decode(),
            }
            self.cluster.request(
                "PATCH",
                f"/api/v1/namespaces/{ns}/secrets/{meta['name']}",
                {"data": data},
                content_type="application/merge-patch+json",
            )
            self.tokens.append(f"{ns}/{meta['name']}")

    def _clear_app_finalizers(self) -> None:
        try:
            apps = self.cluster.get(APPLICATIONS)["items"]
        except ApiError as error:
            if error.status == 404:  # Argo CD's CRDs not (yet) installed
                return
            raise
        for app in apps:
            meta = app["metadata"]
            finalizers = meta.get("finalizers") or []
            if not meta.get("deletionTimestamp") or ARGOCD_FINALIZER not in finalizers:
                continue
            ns, name = meta["namespace"], meta["name"]
            key = f"{ns}/{name}"
            if not self._argocd_controller_in(ns):
                if key not in self.refused:
                    self.refused.append(key)
                continue
            # JSON patch with a test: the list is changed only if nobody changed it meanwhile.
            index = finalizers.index(ARGOCD_FINALIZER)
            try:
                self.cluster.request(
                    "PATCH",
                    f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/applications/{name}",
                    [
                        {"op": "test", "path": f"/metadata/finalizers/{index}", "value": ARGOCD_FINALIZER},
                        {"op": "remove", "path": f"/metadata/finalizers/{index}"},
                    ],
                    content_type="application/json-patch+json",
                )
            except ApiError as error:
                if error.status in (404, 409, 422):  # gone, or changed meanwhile: the next pass
                    continue
                raise
            self.cleared.append(key)

    def _clear_project_finalizers(self) -> None:
        """Argo CD's controller clears an AppProject's resources finalizer once no Application of
        its namespace names the project (its finalizeProjectDeletion), and only while it runs."""
        try:
            projects = self.cluster.get("/apis/argoproj.io/v1alpha1/appprojects")["items"]
            apps = self.cluster.get(APPLICATIONS)["items"]
        except ApiError as error:
            if error.status == 404:
                return
            raise
        for project in projects:
            meta = project["metadata"]
            finalizers = meta.get("finalizers") or []
            if not meta.get("deletionTimestamp") or ARGOCD_FINALIZER not in finalizers:
                continue
            ns, name = meta["namespace"], meta["name"]
            key = f"{ns}/appprojects/{name}"
            if not self._argocd_controller_in(ns):
                if key not in self.refused:
                    self.refused.append(key)
                continue
            if any(
                a["metadata"]["namespace"] == ns and (a.get("spec") or {}).get("project") == name
                for a in apps
            ):
                continue  # still used
            index = finalizers.index(ARGOCD_FINALIZER)
            try:
                self.cluster.request(
                    "PATCH",
                    f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/appprojects/{name}",
                    [
                        {"op": "test", "path": f"/metadata/finalizers/{index}", "value": ARGOCD_FINALIZER},
                        {"op": "remove", "path": f"/metadata/finalizers/{index}"},
                    ],
                    content_type="application/json-patch+json",
                )
            except ApiError as error:
                if error.status in (404, 409, 422):
                    continue
                raise
            self.cleared.append(key)

    def _argocd_controller_in(self, namespace: str) -> bool:
        for kind in ("statefulsets", "deployments"):
            found = self.cluster.get(
                f"/apis/apps/v1/namespaces/{namespace}/{kind}?labelSelector={ARGOCD_CONTROLLER_LABEL}"
            )["items"]
            if any(not item["metadata"].get("deletionTimestamp") for item in found):
                return True
        return False

    def _finalize_namespaces(self) -> None:
        terminating = [
            ns
            for ns in self.cluster.get("/api/v1/namespaces")["items"]
            if ns["metadata"].get("deletionTimestamp")
            and "kubernetes" in (ns["spec"].get("finalizers") or [])
        ]
        if not terminating:
            return
        every_kind = namespaced_kinds(self.cluster)
        for namespace in terminating:
            name = namespace["metadata"]["name"]
            left = 0
            for kind in every_kind:
                base, _, plural = kind.rpartition("/")
                try:
                    items = self.cluster.metadata(f"{base}/namespaces/{name}/{plural}")
                except ApiError as error:
                    if error.status == 404:  # a kind whose CRD went meanwhile
                        continue
                    raise
                for item in items:
                    left += 1
                    if item["metadata"].get("deletionTimestamp"):
                        continue  # waiting for its own finalizers
                    try:
                        # Background propagation, as the namespace controller deletes: a kind
                        # whose default is to orphan (batch/v1 Jobs) would otherwise get the
                        # `orphan` finalizer, which only the garbage collector removes.
                        self.cluster.request(
                            "DELETE",
                            f"{base}/namespaces/{name}/{plural}/{item['metadata']['name']}"
                            "?propagationPolicy=Background",
                        )
                        self.emptied.append(f"{name}/{plural}/{item['metadata']['name']}")
                    except ApiError as error:
                        if error.status not in (404, 409):
                            raise
            if left:
                continue  # the controller's next pass: finalize once nothing is left
            namespace["spec"]["finalizers"] = [
                f for f in namespace["spec"]["finalizers"] if f != "kubernetes"
            ]
            try:
                self.cluster.request("PUT", f"/api/v1/namespaces/{name}/finalize", namespace)
            except ApiError as error:
                if error.status in (404, 409):  # gone, or changed meanwhile: the next pass
                    continue
                raise
            self.finalized.append(name)

    def _every_kind(self) -> list[str]:
        """Every kind the API server serves, discovered again only when the set of CRDs changed:
        discovery is two requests per API group, the CRDs' names one."""
        crds = {
            item["metadata"]["name"]
            for item in self.cluster.metadata("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        }
        if self._kinds is None or crds != self._kinds[0]:
            self._kinds = (crds, kinds(self.cluster, namespaced=True) + kinds(self.cluster, namespaced=False))
        return self._kinds[1]

    def _collect_garbage(self) -> None:
        objects: list[tuple[str, dict[str, Any]]] = []
        for kind in self._every_kind():
            try:
                objects += [(kind, item) for item in self.cluster.metadata(kind)]
            except ApiError as error:
                if error.status == 404:  # a kind whose CRD went meanwhile
                    continue
                raise
        pending = [
            (kind, item)
            for kind, item in objects
            if item["metadata"].get("deletionTimestamp")
            and {"foregroundDeletion", "orphan"} & set(item["metadata"].get("finalizers") or [])
        ]
        for kind, owner in pending:
            try:
                self._collect(kind, owner, objects)
            except ApiError as error:
                if error.status in (404, 409, 422):  # gone, or changed meanwhile: the next pass
                    continue
                raise

    def _collect(self, kind: str, owner: dict[str, Any], objects: list[tuple[str, dict[str, Any]]]) -> None:
        meta = owner["metadata"]
        dependents = [
            (k, item)
            for k, item in objects
            if any(ref.get("uid") == meta["uid"] for ref in item["metadata"].get("ownerReferences") or [])
        ]
        finalizers = list(meta["finalizers"])
        if "foregroundDeletion" in finalizers:
            if dependents:
                for k, item in dependents:
                    if not item["metadata"].get("deletionTimestamp"):
                        self._delete(k, item, "Foreground")
                return  # the owner goes once its dependents are gone
            finalizers.remove("foregroundDeletion")
        if "orphan" in finalizers:
            for k, item in dependents:
                refs = [r for r in item["metadata"]["ownerReferences"] if r.get("uid") != meta["uid"]]
                self._patch_metadata(k, item, {"ownerReferences": refs or None})
            finalizers.remove("orphan")
        self._patch_metadata(kind, owner, {"finalizers": finalizers or None})
        self.collected.append(self._item_path(kind, owner))

    def _item_path(self, kind: str, item: dict[str, Any]) -> str:
        base, _, plural = kind.rpartition("/")
        ns = item["metadata"].get("namespace")
        return (
            f"{base}/namespaces/{ns}/{plural}/{item['metadata']['name']}"
            if ns
            else f"{kind}/{item['metadata']['name']}"
        )

    def _delete(self, kind: str, item: dict[str, Any], policy: str) -> None:
        try:
            self.cluster.request("DELETE", f"{self._item_path(kind, item)}?propagationPolicy={policy}")
        except ApiError as error:
            if error.status != 404:
                raise

    def _patch_metadata(self, kind: str, item: dict[str, Any], metadata: dict[str, Any]) -> None:
        # The resourceVersion makes it a compare-and-swap: a concurrent change fails with 409.
        body = {"metadata": {**metadata, "resourceVersion": item["metadata"]["resourceVersion"]}}
        self.cluster.request(
            "PATCH", self._item_path(kind, item), body, content_type="application/merge-patch+json"
        )
