"""The add-on charts' objects for `tools.plan --out`: `helm template` of each Helm release the stack registers.

Each `helm.v3.Release` is rendered as Helm would install it (its release name, namespace, the values the
program passes, the chart's CRDs, its hooks; not its tests, which `pulumi up` never runs) when two things
are on this machine:

- a helm binary: `$PLATFORM_HELM`, else `helm` on PATH, else the one `e2e/build` puts in
  `~/.cache/platform-e2e/bin` (`$PLATFORM_E2E_CACHE/bin`);
- the chart at the pinned version: the add-on's `chartSource.path`, else `../shared/e2e-vendor/charts/
  <chart>-<version>/`, else a `<chart>-<version>.tgz` that Helm (or the kubernetes provider) already
  pulled into Helm's repository cache.

The objects are written beside the program's, named the same way (tools/manifests.py), with every Secret
value scrubbed: a chart's generated certificate or password is no more written than the program's. A
release that cannot be rendered is named with the reason, in one line, and the others go on.

Deliberately out of scope: fetching a chart (nothing is downloaded: `pulumi up` fetches what is missing) and
a cluster's capabilities (`helm template` assumes its built-in Kubernetes version and API groups).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from chart_values import VENDORED, chart_name
from gates import integral_floats_to_ints
from harness import ProgramRun

from tools.manifests import ManifestLoader, redact, write_object

HELM_ENV = "PLATFORM_HELM"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
HELM_TIMEOUT_SECONDS = 120
# APIs every supported cluster serves that `helm template`'s built-in list lacks (it knows client-go's groups;
# the aggregator's is not one): prometheus-adapter's templates test for it and would otherwise render their
# APIServices at apiregistration.k8s.io/v1beta1, removed in Kubernetes 1.22, which the e2e dry run refused.
# `pulumi up` installs against the cluster, whose discovery lists it.
CLUSTER_API_VERSIONS = ("apiregistration.k8s.io/v1",)
# The API server's cluster-scoped kinds; a chart's CRDs add their own. Any other object without a namespace
# goes into its release's, as `helm install` puts it.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IngressClass",
        "IPAddress",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)


class NotRendered(Exception):
    """Why one release's objects are not written, as the end of a sentence naming the release."""


@dataclass(frozen=True)
class AddonRelease:
    """One `helm.v3.Release` as the program registers it."""

    release: str
    # The Release's `chart` input: an upstream name, an oci:// reference or a local chart's absolute path.
    chart: str
    version: str
    namespace: str
    # The program's values, secrets redacted: what `helm template` is given.
    values: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{chart_name(self.chart)} {self.version} (release {self.release} in {self.namespace})"


@dataclass(frozen=True)
class Rendering:
    """One release's objects, or why there are none."""

    release: AddonRelease
    objects: list[dict[str, Any]]
    not_rendered: str | None = None


def addon_releases(run: ProgramRun) -> list[AddonRelease]:
    """Every Helm release of the run, by release name (the program registers them concurrently)."""
    releases = [
        AddonRelease(
            release=str(inputs["name"]),
            chart=str(inputs["chart"]),
            version=str(inputs["version"]),
            namespace=str(inputs["namespace"]),
            values=integral_floats_to_ints(redact(inputs.get("values") or {})),
        )
        for inputs in (registration.inputs for registration in run.of_type(RELEASE_TYPE))
    ]
    return sorted(releases, key=lambda release: release.release)


def helm_cache_binary(environ: Mapping[str, str] = os.environ) -> Path:
    """Where e2e/build puts helm (e2e/lib.sh's cache)."""
    cache = environ.get("PLATFORM_E2E_CACHE") or Path.home() / ".cache" / "platform-e2e"
    return Path(cache) / "bin" / "helm"


def find_helm(environ: Mapping[str, str] = os.environ) -> str:
    """The helm binary to run: `$PLATFORM_HELM`, `helm` on PATH, or e2e/build's; NotRendered when none is."""
    if environ.get(HELM_ENV):
        given = environ[HELM_ENV]
        if shutil.which(given) is None:
            raise NotRendered(f"{HELM_ENV}={given} is not an executable helm")
        return given
    on_path = shutil.which("helm", path=environ.get("PATH"))
    if on_path is not None:
        return on_path
    built = helm_cache_binary(environ)
    if os.access(built, os.X_OK):
        return str(built)
    raise NotRendered(f"no helm binary: none on PATH, no ${HELM_ENV}, none at {built} (e2e/build builds it)")


def helm_repository_cache(helm: str) -> Path | None:
    """Helm's repository cache (`helm env HELM_REPOSITORY_CACHE`), where pulled charts stay as `.tgz`."""
    done = subprocess.run(
        [helm, "env", "HELM_REPOSITORY_CACHE"], capture_output=True, text=True, check=False, timeout=30
    )
    path = done.stdout.strip()
    return Path(path) if done.returncode == 0 and path else None


def _chart_identity(folder: Path) -> tuple[str, str]:
    metadata = yaml.safe_load((folder / "Chart.yaml").read_text()) or {}
    return str(metadata.get("name", "")), str(metadata.get("version", ""))


def find_chart(release: AddonRelease, vendored: Path = VENDORED, repository_cache: Path | None = None) -> Path:
    """The release's chart on this machine at its pinned version; NotRendered saying where it looked."""
    given = Path(release.chart)
    if given.is_absolute():
        # The add-on's chartSource.path, resolved by the program and checked against the pin on load.
        if given.exists():
            return given
        raise NotRendered(f"its chartSource path {given} does not exist")
    name, version = chart_name(release.chart), release.version
    folder = vendored / f"{name}-{version}"
    if (folder / "Chart.yaml").is_file() and _chart_identity(folder) == (name, version):
        return folder
    pulled = repository_cache / f"{name}-{version}.tgz" if repository_cache is not None else None
    if pulled is not None and pulled.is_file():
        return pulled
    held = sorted(
        identity[1]
        for candidate in (vendored.glob(f"{name}-*") if vendored.is_dir() else [])
        if (candidate / "Chart.yaml").is_file() and (identity := _chart_identity(candidate))[0] == name
    )
    there = f"which holds {', '.join(held)} only" if held else f"which has no {name}"
    cache = f" nor in Helm's cache {repository_cache}" if repository_cache is not None else ""
    raise NotRendered(f"chart {name} {version} is neither in {vendored} ({there}){cache}; pulumi up fetches it")


def _helm_error(stderr: str) -> str:
    """Helm's own one-line reason: its `Error:` line, else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error:")]
    return (errors or lines or ["no message"])[0]


def render(helm: str, release: AddonRelease, chart: Path, workdir: Path) -> list[dict[str, Any]]:
    """`helm template` of the release with the program's values: its objects, CRDs and hooks included."""
    values_file = workdir / f"{release.release}-values.yaml"
    values_file.write_text(yaml.safe_dump(dict(release.values), sort_keys=False))
    command = [
        helm,
        "template",
        release.release,
        str(chart),
        "--namespace",
        release.namespace,
        # Helm loads a local chart as it is; find_chart checked its version already.
        "--version",
        release.version,
        "--values",
        str(values_file),
        "--include-crds",
        "--skip-tests",
        *(flag for version in CLUSTER_API_VERSIONS for flag in ("--api-versions", version)),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=HELM_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise NotRendered(f"helm template took longer than {HELM_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        raise NotRendered(f"helm template refused it: {_helm_error(done.stderr)}")
    try:
        documents = list(yaml.load_all(done.stdout, Loader=ManifestLoader))
    except yaml.YAMLError as error:
        raise NotRendered(f"helm template printed YAML that does not parse: {' '.join(str(error).split())}") from None
    return [doc for doc in documents if isinstance(doc, dict) and doc.get("kind")]


def cluster_scoped_kinds(objects: Iterable[dict[str, Any]]) -> frozenset[str]:
    """The built-in cluster-scoped kinds plus those of every cluster-scoped CRD among `objects`."""
    from_crds = {
        str(obj["spec"]["names"]["kind"])
        for obj in objects
        if obj.get("kind") == "CustomResourceDefinition" and (obj.get("spec") or {}).get("scope") == "Cluster"
    }
    return CLUSTER_SCOPED_KINDS | from_crds


def placed(obj: dict[str, Any], namespace: str, cluster_scoped: frozenset[str]) -> dict[str, Any]:
    """`obj` with the release's namespace where the chart leaves a namespaced object's out, as Helm installs it."""
    meta = obj.get("metadata") or {}
    if meta.get("namespace") or obj.get("kind") in cluster_scoped:
        return obj
    return obj | {"metadata": meta | {"namespace": namespace}}


def helm_version(helm: str) -> str:
    done = subprocess.run([helm, "version", "--short"], capture_output=True, text=True, check=False, timeout=30)
    return done.stdout.strip() or "version unknown"


def render_all(
    run: ProgramRun, environ: Mapping[str, str] = os.environ, vendored: Path = VENDORED
) -> tuple[str | None, list[Rendering]]:
    """The helm binary used (None: none found) and each release's rendering."""
    releases = addon_releases(run)
    try:
        helm = find_helm(environ)
    except NotRendered as missing:
        return None, [Rendering(release, [], str(missing)) for release in releases]
    repository_cache = helm_repository_cache(helm)
    results = []
    with tempfile.TemporaryDirectory(prefix="plan-helm-") as workdir:
        for release in releases:
            try:
                chart = find_chart(release, vendored, repository_cache)
                results.append(Rendering(release, render(helm, release, chart, Path(workdir))))
            except NotRendered as why:
                results.append(Rendering(release, [], str(why)))
    return helm, results


def write_addon_charts(
    run: ProgramRun, out: Path, environ: Mapping[str, str] = os.environ, vendored: Path = VENDORED
) -> list[str]:
    """Every renderable release's objects under `out`; one line per release: how many, or why none."""
    helm, results = render_all(run, environ, vendored)
    cluster_scoped = cluster_scoped_kinds(obj for result in results for obj in result.objects)
    lines = [f"add-on charts rendered with {helm} ({helm_version(helm)})"] if helm is not None and results else []
    for result in results:
        release = result.release
        if result.not_rendered is not None:
            lines.append(f"add-on chart {release.label}: not rendered: {result.not_rendered}")
            continue
        for obj in result.objects:
            write_object(out, placed(obj, release.namespace, cluster_scoped), release.release)
        lines.append(f"add-on chart {release.label}: {len(result.objects)} objects")
    return lines
