"""Chart sources: each add-on's chart from its repository, a mirror, an OCI registry or a local chart, always pinned.

Read from the registered `helm.v3.Release` inputs (chart, repositoryOpts, version). Local charts are
built in a temporary folder here (a Chart.yaml is all the program reads), never the vendored ones.
"""

from __future__ import annotations

import copy
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import FIXTURE_DIR, ProgramRun, Registration, assert_rejected, run_program, stack_config

RELEASE = "kubernetes:helm.sh/v3:Release"
MIRROR = "https://charts.mirror.example.com/jetstack"
REGISTRY = "oci://europe-docker.pkg.dev/acme-shop/charts"


def _release(run: ProgramRun, name: str) -> Registration:
    [release] = [r for r in run.of_type(RELEASE) if r.inputs["name"] == name]
    return release


def _with_addons(stack: str, **addons: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(stack_config(stack))
    merged = copy.deepcopy(config.get("platform:addons") or {})
    for addon, keys in addons.items():
        merged[addon] = {**merged.get(addon, {}), **keys}
    config["platform:addons"] = merged
    return config


def _chart_folder(root: Path, name: str, version: str) -> Path:
    folder = root / f"{name}-{version}"
    folder.mkdir(parents=True)
    (folder / "Chart.yaml").write_text(yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}))
    return folder


def _chart_package(root: Path, name: str, version: str) -> Path:
    package = root / f"{name}-{version}.tgz"
    chart_yaml = yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}).encode()
    with tarfile.open(package, "w:gz") as archive:
        # Helm packages a chart as <name>/...; a subchart's Chart.yaml sits deeper and is not the chart's own.
        for member, body in ((f"{name}/Chart.yaml", chart_yaml), (f"{name}/charts/sub/Chart.yaml", b"name: sub\n")):
            info = tarfile.TarInfo(member)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return package


def _inputs(release: Registration) -> tuple[str, str | None, str]:
    repo = (release.inputs.get("repositoryOpts") or {}).get("repo")
    return release.inputs["chart"], repo, release.inputs["version"]


@pytest.fixture(scope="module")
def sourced(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProgramRun, Path]:
    """Staging with one add-on per source: a mirror, an OCI registry, a local folder and a local package."""
    charts = tmp_path_factory.mktemp("charts")
    crds = _chart_folder(charts, "prometheus-operator-crds", "31.0.1")
    stack = _chart_package(charts, "kube-prometheus-stack", "88.5.3")
    config = _with_addons(
        "staging",
        certManager={"enabled": True, "chartSource": {"repository": MIRROR + "/"}},
        tracing={"chartSource": {"oci": REGISTRY}},
        monitoring={
            "crdsChartVersion": "31.0.1",
            "crdsChartSource": {"path": str(crds)},
            "chartVersion": "88.5.3",
            "chartSource": {"path": str(stack)},
        },
    )
    return run_program("staging", config), charts


def test_upstream_is_the_default_source(staging: ProgramRun, dev: ProgramRun) -> None:
    assert _inputs(_release(staging, "kube-prometheus-stack")) == (
        "kube-prometheus-stack",
        "https://prometheus-community.github.io/helm-charts",
        "92.3.0",
    )
    assert _inputs(_release(staging, "opentelemetry-collector")) == (
        "opentelemetry-collector",
        "https://open-telemetry.github.io/opentelemetry-helm-charts",
        "0.170.0",
    )
    # Envoy Gateway publishes its chart to an OCI registry only: no repository.
    assert _inputs(_release(dev, "envoy-gateway")) == ("oci://docker.io/envoyproxy/gateway-helm", None, "v1.9.0")


def test_a_mirror_repository_serves_the_upstream_chart_at_the_pin(sourced: tuple[ProgramRun, Path]) -> None:
    run, _ = sourced
    assert _inputs(_release(run, "cert-manager")) == ("cert-manager", MIRROR, "v1.21.2")


def test_an_oci_registry_holds_the_chart_under_its_name(sourced: tuple[ProgramRun, Path]) -> None:
    run, _ = sourced
    assert _inputs(_release(run, "opentelemetry-collector")) == (
        f"{REGISTRY}/opentelemetry-collector",
        None,
        "0.170.0",
    )


def test_a_local_chart_is_loaded_without_a_repository(sourced: tuple[ProgramRun, Path]) -> None:
    run, charts = sourced
    # The provider loads a local chart only when no repository is set, and then ignores the version:
    # the version passed is the chart's own, checked before anything is registered.
    assert _inputs(_release(run, "prometheus-operator-crds")) == (
        str(charts / "prometheus-operator-crds-31.0.1"),
        None,
        "31.0.1",
    )
    assert _inputs(_release(run, "kube-prometheus-stack")) == (
        str(charts / "kube-prometheus-stack-88.5.3.tgz"),
        None,
        "88.5.3",
    )
    # The adapter, left alone, still comes from upstream.
    assert _inputs(_release(run, "prometheus-adapter")) == (
        "prometheus-adapter",
        "https://prometheus-community.github.io/helm-charts",
        "5.3.0",
    )


def test_a_relative_chart_path_starts_at_the_project_directory(tmp_path: Path) -> None:
    folder = _chart_folder(tmp_path / "vendor", "gateway-helm", "v1.9.0")
    # The program runs in the project directory (the harness, like the engine, changes into it).
    relative = os.path.relpath(folder, FIXTURE_DIR)
    run = run_program("dev", _with_addons("dev", envoyGateway={"chartSource": {"path": relative}}))
    chart, repo, version = _inputs(_release(run, "envoy-gateway"))
    assert (Path(chart).resolve(), repo, version) == (folder.resolve(), None, "v1.9.0")


def test_a_local_chart_of_another_version_is_refused(tmp_path: Path) -> None:
    folder = _chart_folder(tmp_path, "opentelemetry-collector", "0.158.0")
    assert_rejected(
        "dev",
        _with_addons("dev", tracing={"chartSource": {"path": str(folder)}}),
        f"stack 'dev': platform:addons.tracing.chartSource.path: '{folder}' holds opentelemetry-collector 0.158.0, "
        "but addons.tracing.chartVersion pins 0.170.0; a local chart is installed as it is (Helm ignores the "
        "version), so set addons.tracing.chartVersion to 0.158.0 or use the 0.170.0 chart",
    )


def test_a_packaged_chart_of_another_chart_is_refused(tmp_path: Path) -> None:
    package = _chart_package(tmp_path, "opentelemetry-operator", "0.170.0")
    assert_rejected(
        "dev",
        _with_addons("dev", tracing={"chartSource": {"path": str(package)}}),
        f"stack 'dev': platform:addons.tracing.chartSource.path: '{package}' holds the chart "
        "'opentelemetry-operator', not 'opentelemetry-collector'",
    )


def test_a_missing_local_chart_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert_rejected(
        "dev",
        _with_addons("dev", tracing={"chartSource": {"path": str(missing)}}),
        f"stack 'dev': platform:addons.tracing.chartSource.path: '{missing}' does not exist (resolved to "
        f"{missing}; a relative path starts at the project directory)",
    )


def test_a_folder_without_chart_yaml_is_refused(tmp_path: Path) -> None:
    assert_rejected(
        "dev",
        _with_addons("dev", tracing={"chartSource": {"path": str(tmp_path)}}),
        f"stack 'dev': platform:addons.tracing.chartSource.path: '{tmp_path}' has no Chart.yaml (resolved to "
        f"{tmp_path}); point at the chart's own folder",
    )


def test_a_disabled_addon_s_local_chart_is_not_read(tmp_path: Path) -> None:
    # Monitoring is off in the fixture's dev stack: its chart source is never fetched, so never checked.
    config = _with_addons("dev", monitoring={"chartSource": {"path": str(tmp_path / "nowhere")}})
    run = run_program("dev", config)
    assert not [r for r in run.of_type(RELEASE) if r.inputs["name"] == "kube-prometheus-stack"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            {"repository": "https://charts.example.com", "oci": "oci://example.com/charts"},
            "platform:addons.tracing.chartSource: sets repository and oci; a chart comes from one source: "
            "set only one of them",
        ),
        (
            {"repository": "http://charts.example.com"},
            "platform:addons.tracing.chartSource.repository: 'http://charts.example.com' is not an https:// chart "
            "repository URL (plain http lets anyone on the path swap the chart)",
        ),
        (
            {"oci": "oci://europe-docker.pkg.dev/acme/charts/"},
            "platform:addons.tracing.chartSource.oci: 'oci://europe-docker.pkg.dev/acme/charts/' is not an OCI "
            "registry path like oci://europe-docker.pkg.dev/my-project/charts (no trailing '/'; the chart name is "
            "appended)",
        ),
        (
            {"url": "https://charts.example.com"},
            "platform:addons.tracing.chartSource.url: unknown key; allowed: oci, path, repository",
        ),
    ],
)
def test_a_chart_source_is_one_valid_location(source: dict[str, Any], expected: str) -> None:
    assert_rejected("dev", _with_addons("dev", tracing={"chartSource": source}), f"stack 'dev': {expected}")


@pytest.mark.parametrize("version", ["^0.170.0", "0.170", "latest", ""])
def test_a_chart_version_is_exact(version: str) -> None:
    assert_rejected(
        "dev",
        _with_addons("dev", tracing={"chartVersion": version}),
        f"stack 'dev': platform:addons.tracing.chartVersion: '{version}' is not an exact chart version like 1.2.3 "
        "or v1.2.3; a range or tag would let Helm install a chart nobody reviewed",
    )
