"""Quality gates over the Kubernetes objects a program run registered, reusable by any test.

Each gate returns human-readable problems, one line each, empty when clean:
- ``schema_failures(run)``: every manifest against the strict Kubernetes JSON schemas of 1.31, 1.33
  and 1.35 (kubernetes-validate, ``strict=True``); ``unvalidated_kinds(run)`` lists what had no
  built-in schema, and only known CRD kinds may be there;
- ``api_version_failures(run)``: every kind at its current apiVersion, nothing deprecated or removed;
- ``checkov_failures(run, config)``: Checkov's Kubernetes framework reports no failed check, except
  CKV_K8S_43, CKV_K8S_35 and CKV_K8S_15 where the owning service's config chooses a tag, secret env vars
  or (on dev) a pull policy other than Always;
- ``custom_resources(run)``: the objects with no built-in schema, for crd_schemas.crd_failures, which
  checks each against its CRD's OpenAPI schema (tests/crd, pinned @kubernetes-models packages).

Manifests are rebuilt from the recorded mock inputs (camelCase, with apiVersion and kind); the
engine sends integral numbers as floats, so those become ints again first.

Deliberately out of scope: objects rendered from Helm charts (the mocks never render a chart).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import kubernetes_validate
import kubernetes_validate.utils
import yaml
from harness import FIXTURE_DIR, ROOT_DIR, ProgramRun, Registration, stack_config

from components.config import NAMESPACE, PlatformConfig, parse

KUBERNETES_VERSIONS = ("1.31", "1.33", "1.35")

# kubernetes-validate re-reads its 1.5 MB definitions file on every call; the bundled files never change.
kubernetes_validate.utils.schema_contents = functools.cache(kubernetes_validate.utils.schema_contents)
kubernetes_validate.utils.all_versions = functools.cache(kubernetes_validate.utils.all_versions)

# The custom resources the platform may create, at their current apiVersion.
CRD_KINDS: dict[str, str] = {
    "ClusterIssuer": "cert-manager.io/v1",
    "Issuer": "cert-manager.io/v1",
    "Certificate": "cert-manager.io/v1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PodMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
    "AlertmanagerConfig": "monitoring.coreos.com/v1alpha1",
    "Gateway": "gateway.networking.k8s.io/v1",
    "GatewayClass": "gateway.networking.k8s.io/v1",
    "HTTPRoute": "gateway.networking.k8s.io/v1",
    "GCPBackendPolicy": "networking.gke.io/v1",
    "HealthCheckPolicy": "networking.gke.io/v1",
    "EnvoyProxy": "gateway.envoyproxy.io/v1alpha1",
    "BackendTrafficPolicy": "gateway.envoyproxy.io/v1alpha1",
    "ComputeClass": "cloud.google.com/v1",
}

# Each kind the platform may register, at the apiVersion current in Kubernetes 1.31 to 1.35.
CURRENT_API_VERSIONS: dict[str, str] = {
    **dict.fromkeys(
        (
            "Namespace",
            "ServiceAccount",
            "ConfigMap",
            "Secret",
            "Service",
            "ResourceQuota",
            "LimitRange",
            "PersistentVolumeClaim",
        ),
        "v1",
    ),
    **dict.fromkeys(("Deployment", "StatefulSet", "DaemonSet"), "apps/v1"),
    **dict.fromkeys(("Job", "CronJob"), "batch/v1"),
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
    **dict.fromkeys(("Ingress", "IngressClass", "NetworkPolicy"), "networking.k8s.io/v1"),
    **dict.fromkeys(("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"), "rbac.authorization.k8s.io/v1"),
    "PriorityClass": "scheduling.k8s.io/v1",
    "StorageClass": "storage.k8s.io/v1",
    **CRD_KINDS,
}

# API versions that are deprecated or no longer served by Kubernetes 1.31+ (or by current CRDs).
DEPRECATED_API_VERSIONS = frozenset(
    {
        "extensions/v1beta1",
        "apps/v1beta1",
        "apps/v1beta2",
        "autoscaling/v2beta1",
        "autoscaling/v2beta2",
        "policy/v1beta1",
        "networking.k8s.io/v1beta1",
        "batch/v1beta1",
        "rbac.authorization.k8s.io/v1beta1",
        "scheduling.k8s.io/v1beta1",
        "storage.k8s.io/v1beta1",
        "cert-manager.io/v1alpha2",
        "cert-manager.io/v1alpha3",
        "cert-manager.io/v1beta1",
    }
)

CHECKOV_VENV = ROOT_DIR / ".venv-checkov"
CHECKOV_REQUIREMENTS = ROOT_DIR / "requirements-checkov.txt"
IMAGE_DIGEST = "CKV_K8S_43"
STORE_ROLES_TYPE = "platform:data:StoreRoles"
PULL_ALWAYS = "CKV_K8S_15"
SECRETS_AS_ENV = "CKV_K8S_35"
LIVENESS_PROBE, READINESS_PROBE = "CKV_K8S_8", "CKV_K8S_9"
# CKV_K8S_21 (namespace) covers every one of these kinds, so each must show up in Checkov's results.
CHECKOV_SCANNED_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "DaemonSet",
        "StatefulSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
        "Service",
        "Secret",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Ingress",
    }
)
MICROSERVICE_TYPE = "platform:workloads:Microservice"


# --------------------------------------------------------------------------- manifests


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object as the engine would send it, with who registered it."""

    body: dict[str, Any]
    # The Pulumi resource name, which the engine turns into metadata.name when that is unset.
    resource_name: str
    # The service (Microservice component) that owns the object, if any.
    service: str | None = None

    @property
    def kind(self) -> str:
        return str(self.body.get("kind"))

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion"))

    @property
    def label(self) -> str:
        meta = self.body.get("metadata") or {}
        name = meta.get("name") or f"<{self.resource_name}-autonamed>"
        where = f"{meta['namespace']}/{name}" if meta.get("namespace") else name
        return f"{self.kind} {where} (resource '{self.resource_name}')"


def integral_floats_to_ints(value: Any) -> Any:
    """3.0 -> 3, recursively: the engine sends every number as a float."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: integral_floats_to_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral_floats_to_ints(item) for item in value]
    return value


def is_kubernetes_object(resource: Registration) -> bool:
    # Helm releases are objects of the provider, not of the API server; the provider itself is "pulumi:".
    return (
        resource.custom and resource.type.startswith("kubernetes:") and not resource.type.startswith("kubernetes:helm")
    )


def _owning_service(resource: Registration, by_urn: dict[str, Registration]) -> str | None:
    parent = by_urn.get(resource.parent)
    while parent is not None:
        if parent.type == MICROSERVICE_TYPE:
            return parent.name
        if parent.type == STORE_ROLES_TYPE:
            # A store's role Job runs the store's own image, chosen by the store's config.
            return parent.name.removesuffix("-roles")
        parent = by_urn.get(parent.parent)
    return None


def manifests(run: ProgramRun) -> list[Manifest]:
    """Every Kubernetes object the run registered, in registration order."""

    def build() -> list[Manifest]:
        by_urn = {r.urn: r for r in run.resources}
        return [
            Manifest(integral_floats_to_ints(r.manifest), r.name, _owning_service(r, by_urn))
            for r in run.resources
            if is_kubernetes_object(r)
        ]

    return _once("manifests", run, build)


def custom_resources(run: ProgramRun) -> list[dict[str, Any]]:
    """The objects kubernetes-validate has no built-in schema for: the CRD gate must cover every one."""
    without_schema = set(unvalidated_kinds(run))
    return [item.body for item in manifests(run) if f"{item.api_version} {item.kind}" in without_schema]


def platform_config(
    stack: str, values: Mapping[str, Any] | None = None, config_dir: Path = FIXTURE_DIR
) -> PlatformConfig:
    """The validated config the program reads from `values` (default: the stack's files), to judge
    Checkov's exceptions against; pass the same values you gave run_program."""
    values = stack_config(stack, config_dir) if values is None else values
    prefix = NAMESPACE + ":"
    raw = {key[len(prefix) :]: value for key, value in values.items() if key.startswith(prefix)}
    return parse(stack, raw, values.get("gcp:project"))


# --------------------------------------------------------------------------- per-run cache

_T = TypeVar("_T")
# Keyed by the run's identity; the run is kept alongside so its id is never reused.
_CACHE: dict[tuple[str, int], tuple[ProgramRun, Any]] = {}


def _once(gate: str, run: ProgramRun, compute: Callable[[], _T]) -> _T:
    key = (gate, id(run))
    if key not in _CACHE:
        _CACHE[key] = (run, compute())
    result: _T = _CACHE[key][1]
    return result


# --------------------------------------------------------------------------- strict schemas


@dataclass(frozen=True)
class SchemaReport:
    problems: list[str]
    # "apiVersion Kind" of every object kubernetes-validate has no schema for.
    unvalidated: list[str]


def check_schemas(items: Sequence[Manifest], versions: Sequence[str] = KUBERNETES_VERSIONS) -> SchemaReport:
    problems: list[str] = []
    unvalidated: set[str] = set()
    for item in items:
        missing = []
        for version in versions:
            try:
                kubernetes_validate.validate(item.body, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(part) for part in error.path) or "(top level)"
                problems.append(f"{item.label}: Kubernetes {version}: {path}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError:
                missing.append(version)
        if missing:
            unvalidated.add(f"{item.api_version} {item.kind}")
            if CRD_KINDS.get(item.kind) != item.api_version:
                problems.append(
                    f"{item.label}: no schema for {item.api_version} {item.kind} in Kubernetes "
                    f"{', '.join(missing)}, and it is not a known custom resource"
                )
    return SchemaReport(problems, sorted(unvalidated))


def schema_failures(run: ProgramRun) -> list[str]:
    return _once("schemas", run, lambda: check_schemas(manifests(run))).problems


def unvalidated_kinds(run: ProgramRun) -> list[str]:
    return _once("schemas", run, lambda: check_schemas(manifests(run))).unvalidated


# --------------------------------------------------------------------------- API versions


def check_api_versions(items: Iterable[Manifest]) -> list[str]:
    problems = []
    for item in items:
        current = CURRENT_API_VERSIONS.get(item.kind)
        if current is None:
            problems.append(f"{item.label}: {item.kind} is not a kind this platform knows the current apiVersion of")
        elif item.api_version != current:
            stale = "deprecated or removed" if item.api_version in DEPRECATED_API_VERSIONS else "not current"
            problems.append(f"{item.label}: {item.api_version} is {stale}; use {current}")
    return problems


def api_version_failures(run: ProgramRun) -> list[str]:
    return check_api_versions(manifests(run))


# --------------------------------------------------------------------------- Checkov


def checkov_executable(venv: Path = CHECKOV_VENV) -> Path:
    """Checkov from its own virtualenv (its pinned `packaging` clashes with pulumi's), built if missing."""
    executable = venv / "bin" / "checkov"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", "-r", str(CHECKOV_REQUIREMENTS)],
            check=True,
            timeout=1800,
        )
    return executable


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    manifest: Manifest
    # Checkov's resource id, e.g. "Deployment.shop.storefront" or "Pod.shop.storefront.app-..." for a template.
    resource: str
    evaluated_keys: tuple[str, ...]

    def describe(self) -> str:
        where = f" at {', '.join(self.evaluated_keys)}" if self.evaluated_keys else ""
        return f"{self.check_id} ({self.check_name}) fails on {self.manifest.label}{where}"


@dataclass(frozen=True)
class CheckovReport:
    failed: list[Finding]
    skipped: list[Finding]
    parsing_errors: list[Manifest]
    # Objects Checkov should have reported on (CHECKOV_SCANNED_KINDS) but did not mention.
    unscanned: list[Manifest]


def _for_checkov(item: Manifest) -> dict[str, Any]:
    """Checkov silently drops nameless objects, so give them the name prefix the engine would."""
    metadata = item.body.get("metadata") or {}
    if metadata.get("name"):
        return item.body
    return {**item.body, "metadata": {**metadata, "name": item.resource_name}}


def run_checkov(items: Sequence[Manifest]) -> CheckovReport:
    """One Checkov run over `items`, one file each, isolated from any .checkov.yaml or environment."""
    with tempfile.TemporaryDirectory(prefix="checkov-") as workdir:
        scan_dir = Path(workdir) / "manifests"
        scan_dir.mkdir()
        for index, item in enumerate(items):
            (scan_dir / f"{index:04d}.yaml").write_text(yaml.safe_dump(_for_checkov(item), sort_keys=False))
        command = [
            str(checkov_executable()),
            "--skip-download",
            "--framework",
            "kubernetes",
            "-d",
            str(scan_dir),
            "-o",
            "json",
        ]
        # cwd and HOME in the scratch dir: no config file or HELM_NAMESPACE can weaken the checks.
        environment = {"PATH": os.environ.get("PATH", ""), "HOME": workdir, "LANG": "C.UTF-8"}
        completed = subprocess.run(
            command, cwd=workdir, env=environment, capture_output=True, text=True, timeout=600, check=False
        )
    # Checkov exits 1 when a check failed and 0 when none did; anything else is a crash.
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"checkov exited {completed.returncode}: {completed.stderr.strip()[-2000:]}")
    try:
        document = json.loads(completed.stdout)
    except json.JSONDecodeError as error:
        raise RuntimeError(f"checkov printed no JSON ({error}): {completed.stdout[:500]!r}") from error
    return parse_checkov(document, items)


def parse_checkov(document: Any, items: Sequence[Manifest]) -> CheckovReport:
    """Checkov's JSON: one report (a dict), a list of them (several frameworks), or a bare summary
    when nothing was scanned."""
    reports = document if isinstance(document, list) else [document]
    results: dict[str, list[dict[str, Any]]] = {"passed_checks": [], "failed_checks": [], "skipped_checks": []}
    parsing_errors: list[str] = []
    for report in reports:
        if not isinstance(report, dict) or report.get("check_type", "kubernetes") != "kubernetes":
            continue
        found = report.get("results") or {}
        for key, collected in results.items():
            collected.extend(found.get(key) or [])
        parsing_errors.extend(found.get("parsing_errors") or [])

    def manifest_of(file_path: str) -> Manifest:
        return items[int(Path(file_path).stem)]

    def findings(key: str) -> list[Finding]:
        return [
            Finding(
                check_id=result["check_id"],
                check_name=result.get("check_name", ""),
                manifest=manifest_of(result["file_path"]),
                resource=result.get("resource", ""),
                evaluated_keys=tuple((result.get("check_result") or {}).get("evaluated_keys") or ()),
            )
            for result in results[key]
        ]

    mentioned = {int(Path(result["file_path"]).stem) for collected in results.values() for result in collected}
    unscanned = [
        item for index, item in enumerate(items) if item.kind in CHECKOV_SCANNED_KINDS and index not in mentioned
    ]
    return CheckovReport(
        failed=findings("failed_checks"),
        skipped=findings("skipped_checks"),
        parsing_errors=[manifest_of(path) for path in parsing_errors],
        unscanned=unscanned,
    )


def _pod_spec(body: dict[str, Any]) -> dict[str, Any]:
    spec = body.get("spec") or {}
    if body.get("kind") == "Pod":
        return dict(spec)
    if body.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return dict((spec.get("template") or {}).get("spec") or {})


def _containers(body: dict[str, Any]) -> list[dict[str, Any]]:
    pod = _pod_spec(body)
    return [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]


def _exception_justified(finding: Finding, config: PlatformConfig) -> bool:
    """CKV_K8S_43, CKV_K8S_35 and CKV_K8S_15 are accepted only as far as the owning service's config chose them."""
    service = config.service(finding.manifest.service) if finding.manifest.service else None
    if service is None:
        return False
    containers = _containers(finding.manifest.body)
    if finding.check_id == IMAGE_DIGEST:
        # The service's own image, pinned by a tag in its config; any other undigested image is not excused.
        undigested = {c.get("image") for c in containers if "@" not in str(c.get("image"))}
        return "@" not in service.image and undigested == {service.image}
    if finding.check_id == PULL_ALWAYS:
        # Only the pull policy the service gets in this environment (IfNotPresent on dev, or its own choice).
        return {c.get("imagePullPolicy") for c in containers} == {service.pull_policy(config.environment)}
    if finding.check_id == SECRETS_AS_ENV:
        declared_env = {
            (name, value.secret_key_ref.name, value.secret_key_ref.key)
            for name, value in service.env.items()
            if not isinstance(value, str) and value.secret_key_ref is not None
        }
        declared_from = {source.secret for source in service.env_from if source.secret is not None}
        used_env = {
            (var["name"], var["valueFrom"]["secretKeyRef"]["name"], var["valueFrom"]["secretKeyRef"]["key"])
            for c in containers
            for var in c.get("env") or []
            if "secretKeyRef" in (var.get("valueFrom") or {})
        }
        used_from = {
            source["secretRef"]["name"]
            for c in containers
            for source in c.get("envFrom") or []
            if "secretRef" in source
        }
        return bool(used_env or used_from) and used_env <= declared_env and used_from <= declared_from
    return False


def _is_headroom_placeholder(manifest: Manifest) -> bool:
    """The headroom placeholders run only pause, which serves nothing a probe could check (cluster/headroom.py)."""
    body = manifest.body
    containers = (body.get("spec", {}).get("template", {}).get("spec", {}) or {}).get("containers", [])
    return (
        body.get("kind") == "Deployment"
        and (body.get("metadata") or {}).get("namespace") == "platform-headroom"
        and [c.get("name") for c in containers] == ["pause"]
        and all(str(c.get("image", "")).startswith("registry.k8s.io/pause:") for c in containers)
    )


def judge_checkov(report: CheckovReport, config: PlatformConfig) -> list[str]:
    """Every failed, skipped, unparsed or unscanned object, bar the exceptions the config justifies."""
    problems = [f"Checkov could not parse {item.label}" for item in report.parsing_errors]
    problems += [
        f"{finding.check_id} skipped on {finding.manifest.label} by an annotation; exceptions are judged by this gate, never skipped"
        for finding in report.skipped
    ]
    for finding in report.failed:
        if finding.check_id in (IMAGE_DIGEST, SECRETS_AS_ENV, PULL_ALWAYS) and _exception_justified(finding, config):
            continue
        if finding.check_id in (LIVENESS_PROBE, READINESS_PROBE) and _is_headroom_placeholder(finding.manifest):
            continue
        problems.append(finding.describe())
    problems += [f"Checkov reported nothing on {item.label}; it was not scanned" for item in report.unscanned]
    return problems


def checkov_report(run: ProgramRun) -> CheckovReport:
    """Checkov's findings on the run's manifests: one Checkov run per ProgramRun per session."""
    return _once("checkov", run, lambda: run_checkov(manifests(run)))


def checkov_failures(run: ProgramRun, config: PlatformConfig) -> list[str]:
    """Checkov's failures on the run's objects that `config` (the run's own config) does not justify."""
    return judge_checkov(checkov_report(run), config)
