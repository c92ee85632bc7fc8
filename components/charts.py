"""Where each add-on's Helm chart comes from: its upstream repository, a mirror, an OCI registry or a local copy.

Every add-on chart is named here once (`Upstream`: the chart's name and the repository its
maintainers publish it to) and pinned in `components/versions.py`. A stack can fetch it elsewhere
through the add-on's `chartSource` alone, for a team behind a firewall or with its own mirror:

- unset: the upstream repository;
- `repository`: a Helm chart repository (an `index.yaml` over HTTPS) serving the same chart;
- `oci`: an OCI registry path; the chart is `<oci>/<chart name>`, as `helm push` stores it;
- `path`: a chart folder (with its `Chart.yaml`) or a packaged `.tgz` on the machine running Pulumi.

The version stays pinned in each case. pulumi-kubernetes' `helm.v3.Release` (`locateChart` in its
`helm_release.go`) loads a local chart only when no repository is set, and then ignores `version`,
so a local chart must be the pinned one: `check_chart_source` reads its `Chart.yaml` and refuses a
different chart or version, naming both. A relative path starts at the project directory (where
`Pulumi.yaml` is, the program's working directory) and is handed to the provider resolved.

Deliberately out of scope: repository credentials (a private mirror's username, password or CA)
and chart signature verification (`helm --verify`), which `helm.v3.Release` does not offer per chart.
"""

from __future__ import annotations

import os
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, Field, model_validator

from components.errors import Problem
from components.values import Model

# An exact chart version (SemVer 2, optional leading 'v'): never a range, which would let Helm pick a newer chart.
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
_HTTPS_URL = re.compile(r"^https://[^\s/]+(/\S*)?$")
_OCI_PATH = re.compile(r"^oci://[^\s/]+(/[^\s/]+)*$")
# A packaged chart, as `helm package` and `helm pull` write it.
_PACKAGE_SUFFIXES = (".tgz",)


@dataclass(frozen=True)
class Upstream:
    """A chart as its maintainers publish it."""

    name: str
    # A Helm chart repository (https://) or the OCI registry path the chart sits under (oci://).
    repository: str


ENVOY_GATEWAY = Upstream("gateway-helm", "oci://docker.io/envoyproxy")
INGRESS_NGINX = Upstream("ingress-nginx", "https://kubernetes.github.io/ingress-nginx")
CERT_MANAGER = Upstream("cert-manager", "https://charts.jetstack.io")
_PROMETHEUS_COMMUNITY = "https://prometheus-community.github.io/helm-charts"
KUBE_PROMETHEUS_STACK = Upstream("kube-prometheus-stack", _PROMETHEUS_COMMUNITY)
PROMETHEUS_OPERATOR_CRDS = Upstream("prometheus-operator-crds", _PROMETHEUS_COMMUNITY)
PROMETHEUS_ADAPTER = Upstream("prometheus-adapter", _PROMETHEUS_COMMUNITY)
OPENTELEMETRY_COLLECTOR = Upstream(
    "opentelemetry-collector", "https://open-telemetry.github.io/opentelemetry-helm-charts"
)


def _exact_version(value: str) -> str:
    if not _EXACT_VERSION.match(value):
        raise ValueError(
            f"'{value}' is not an exact chart version like 1.2.3 or v1.2.3; a range or tag would let Helm "
            "install a chart nobody reviewed"
        )
    return value


def _https_url(value: str) -> str:
    if not _HTTPS_URL.match(value):
        raise ValueError(
            f"'{value}' is not an https:// chart repository URL (plain http lets anyone on the path swap the chart)"
        )
    return value.rstrip("/")


def _oci_path(value: str) -> str:
    if not _OCI_PATH.match(value):
        raise ValueError(
            f"'{value}' is not an OCI registry path like oci://europe-docker.pkg.dev/my-project/charts "
            "(no trailing '/'; the chart name is appended)"
        )
    return value


ChartVersion = Annotated[str, AfterValidator(_exact_version)]
ChartRepositoryUrl = Annotated[str, AfterValidator(_https_url)]
OciPath = Annotated[str, AfterValidator(_oci_path)]


class ChartSource(Model):
    """Where one chart is fetched from; at most one of the three, none meaning the chart's upstream repository."""

    repository: ChartRepositoryUrl | None = Field(
        None, description="An https:// Helm chart repository (a mirror) serving the chart under its upstream name."
    )
    oci: OciPath | None = Field(
        None, description="An oci:// registry path holding the chart, e.g. an Artifact Registry repository."
    )
    path: str | None = Field(
        None,
        description="A chart folder or .tgz on the machine running Pulumi (relative to the project directory); "
        "it must be the pinned chart version.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ChartSource:
        chosen = [key for key in ("repository", "oci", "path") if getattr(self, key) is not None]
        if len(chosen) > 1:
            raise ValueError(f"sets {' and '.join(chosen)}; a chart comes from one source: set only one of them")
        if self.path is not None and not self.path.strip():
            raise ValueError("path is empty; name a chart folder or .tgz, or leave path out")
        return self


@dataclass(frozen=True)
class ChartLocation:
    """What `helm.v3.Release` is given: `chart` and, for a chart repository, `repository`."""

    chart: str
    repository: str | None


def local_chart_path(path: str) -> Path:
    """A configured chart path as the provider receives it: absolute, a relative one from the project directory."""
    given = Path(path).expanduser()
    return given if given.is_absolute() else Path(os.path.normpath(Path.cwd() / given))


def locate(upstream: Upstream, source: ChartSource) -> ChartLocation:
    """Where the release fetches `upstream`'s chart from, following `source`."""
    if source.path is not None:
        # No repository: the provider's rule for loading a local chart.
        return ChartLocation(str(local_chart_path(source.path)), None)
    if source.oci is not None:
        return ChartLocation(f"{source.oci}/{upstream.name}", None)
    if source.repository is not None:
        return ChartLocation(upstream.name, source.repository)
    if upstream.repository.startswith("oci://"):
        return ChartLocation(f"{upstream.repository}/{upstream.name}", None)
    return ChartLocation(upstream.name, upstream.repository)


def check_chart_source(
    source: ChartSource, path: str, upstream: Upstream, version: str, version_key: str
) -> Iterator[Problem]:
    """A local chart must exist and be `upstream`'s chart at the pinned `version` (the provider ignores the pin)."""
    if source.path is None:
        return
    where = f"{path}.path"
    chart_path = local_chart_path(source.path)
    try:
        metadata = _chart_metadata(chart_path)
    except _UnreadableChart as problem:
        yield where, f"'{source.path}' {problem}"
        return
    name, found = str(metadata.get("name", "")), str(metadata.get("version", ""))
    if name != upstream.name:
        yield where, f"'{source.path}' holds the chart '{name}', not '{upstream.name}'"
    elif found != version:
        yield (
            where,
            f"'{source.path}' holds {name} {found}, but {version_key} pins {version}; a local chart is installed "
            f"as it is (Helm ignores the version), so set {version_key} to {found} or use the {version} chart",
        )


class _UnreadableChart(Exception):
    """Why a configured local chart cannot be read, as the end of a sentence starting with its path."""


def _chart_metadata(chart_path: Path) -> dict[str, Any]:
    """The `Chart.yaml` of a chart folder or of a packaged chart (`<name>/Chart.yaml` inside the archive)."""
    if chart_path.is_dir():
        chart_file = chart_path / "Chart.yaml"
        if not chart_file.is_file():
            raise _UnreadableChart(f"has no Chart.yaml (resolved to {chart_path}); point at the chart's own folder")
        return _parse_chart_yaml(chart_file.read_text())
    if not chart_path.exists():
        raise _UnreadableChart(
            f"does not exist (resolved to {chart_path}; a relative path starts at the project directory)"
        )
    if not chart_path.name.endswith(_PACKAGE_SUFFIXES):
        raise _UnreadableChart("is neither a chart folder nor a packaged chart (.tgz)")
    try:
        with tarfile.open(chart_path, "r:gz") as archive:
            members = [m for m in archive.getmembers() if m.isfile() and re.fullmatch(r"[^/]+/Chart\.yaml", m.name)]
            if len(members) != 1:
                raise _UnreadableChart("is not a packaged chart: it holds no <chart>/Chart.yaml at its top")
            extracted = archive.extractfile(members[0])
            assert extracted is not None  # a regular file
            return _parse_chart_yaml(extracted.read().decode())
    except (tarfile.TarError, OSError, UnicodeDecodeError) as exc:
        raise _UnreadableChart(f"cannot be read as a packaged chart ({exc})") from None


def _parse_chart_yaml(text: str) -> dict[str, Any]:
    try:
        metadata = yaml.safe_load(text)
    except yaml.YAMLError:
        raise _UnreadableChart("has a Chart.yaml that is not valid YAML") from None
    if not isinstance(metadata, dict):
        raise _UnreadableChart("has a Chart.yaml without name and version")
    return metadata
