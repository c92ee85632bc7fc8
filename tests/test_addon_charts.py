"""`tools.plan --out` and the add-on charts: which chart each release renders from, what helm is given, what is
reported when a release cannot be rendered, and that no Secret value is written, the program's or a chart's.

Most tests run a stand-in helm (a script that records its arguments and prints a chart's output), so they
need no helm binary. The last ones run the real helm on the vendored charts (`../shared/e2e-vendor/charts`)
where both are on the machine (`e2e/build` builds helm) and are skipped otherwise, saying which is missing.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_values import VENDORED
from gates import integral_floats_to_ints
from harness import FIXTURE_DIR, ProgramRun, shared_run, stack_config, unwrap

from components.versions import ENVOY_GATEWAY_CHART, OPENTELEMETRY_COLLECTOR_CHART
from tools import addon_charts, manifests, plan
from tools.addon_charts import AddonRelease, NotRendered, find_chart, find_helm, write_addon_charts
from tools.manifests import REDACTED

RELEASE = "kubernetes:helm.sh/v3:Release"

# prometheus-adapter 5.3.0's templates/secret.yaml as `helm template` renders it with `tls.enable: true`, and a
# ConfigMap beside it; the key and certificate are the base64 of PEM blocks, as a chart's generated ones are.
CHART_OUTPUT = """\
---
# Source: prometheus-adapter/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  labels:
    helm.sh/chart: prometheus-adapter-5.3.0
    app.kubernetes.io/name: prometheus-adapter
  name: prometheus-adapter
  namespace: monitoring
type: kubernetes.io/tls
data:
  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENCKzZnQXdJQkFnSUJBVEFOQmdrcWhraUc5dzBCQVFzRkFEQVQKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Foa2lHOXcwQkFRRUZBQVNDQktjd2dnU2pBZ0VBQW9JQkFRQzcKLS0tLS1FTkQgUFJJVkFURSBLRVktLS0tLQo=
---
# Source: prometheus-adapter/templates/alertmanager-secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: alertmanager-config
  namespace: monitoring
stringData:
  alertmanager.yaml: |
    global:
      slack_api_url: https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX
---
# Source: prometheus-adapter/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: prometheus-adapter
  namespace: monitoring
data:
  config.yaml: |
    rules: []
---
# Source: prometheus-adapter/templates/cluster-role.yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: prometheus-adapter-resource-reader
rules: []
---
# Source: prometheus-adapter/templates/role-binding.yaml (a chart that leaves the namespace out)
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: prometheus-adapter-reader
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: []
"""
# What helm 3 prints for a chart whose Chart.yaml declares subcharts its charts/ folder lacks (the vendored
# kube-prometheus-stack 88.5.3).
MISSING_SUBCHARTS = (
    "Error: An error occurred while checking for chart dependencies. You may need to run `helm dependency build` "
    "to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: kube-state-metrics, "
    "prometheus-node-exporter, grafana, prometheus-windows-exporter\n"
)


def _stand_in_helm(folder: Path, stdout: str = "", stderr: str = "", exit_code: int = 0) -> Path:
    """A helm that records each call (its arguments and the values file it was given) in `calls.jsonl`,
    answers `env` and `version`, and prints `stdout` for `template`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stdout").write_text(stdout)
    (folder / "stderr").write_text(stderr)
    script = folder / "helm"
    script.write_text(
        f"""#!{sys.executable}
import json, sys
from pathlib import Path
here = Path({str(folder)!r})
args = sys.argv[1:]
values = Path(args[args.index("--values") + 1]).read_text() if "--values" in args else None
with open(here / "calls.jsonl", "a") as log:
    log.write(json.dumps({{"args": args, "values": values}}) + "\\n")
if args[0] == "env":
    print(here / "repository-cache")
elif args[0] == "version":
    print("v3.0.0-stand-in")
else:
    sys.stdout.write((here / "stdout").read_text())
    sys.stderr.write((here / "stderr").read_text())
    sys.exit({exit_code})
"""
    )
    script.chmod(0o755)
    return script


def _calls(helm: Path) -> list[dict[str, Any]]:
    log = helm.parent / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _vendored(root: Path, *charts: tuple[str, str]) -> Path:
    """A vendored-charts folder holding `<name>-<version>/Chart.yaml` for each (name, version)."""
    for name, version in charts:
        folder = root / f"{name}-{version}"
        folder.mkdir(parents=True)
        (folder / "Chart.yaml").write_text(yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}))
    return root


def _release(chart: str, version: str, release: str = "rel", namespace: str = "ns") -> AddonRelease:
    return AddonRelease(release=release, chart=chart, version=version, namespace=namespace, values={})


def _no_helm(tmp_path: Path) -> dict[str, str]:
    return {"PATH": str(tmp_path / "empty-path"), "PLATFORM_E2E_CACHE": str(tmp_path / "no-cache")}


def _with_helm(helm: Path) -> dict[str, str]:
    return {"PLATFORM_HELM": str(helm), "PATH": os.environ.get("PATH", "")}


# --------------------------------------------------------------------------- which chart a release renders from


def test_an_add_on_renders_from_the_vendored_folder_of_its_chart_at_the_pinned_version(tmp_path: Path) -> None:
    vendored = _vendored(
        tmp_path,
        ("gateway-helm", "v1.9.0"),
        ("opentelemetry-collector", "0.170.0"),
        ("prometheus-operator-crds", "31.0.1"),
        ("kube-prometheus-stack", "88.5.3"),
    )
    # An OCI reference and a repository chart name both map to `<chart>-<version>`.
    assert find_chart(_release("oci://docker.io/envoyproxy/gateway-helm", "v1.9.0"), vendored) == (
        vendored / "gateway-helm-v1.9.0"
    )
    assert find_chart(_release("opentelemetry-collector", "0.170.0"), vendored) == (
        vendored / "opentelemetry-collector-0.170.0"
    )
    # Another version of the chart is never taken in its place: the objects would not be the pinned chart's.
    with pytest.raises(NotRendered) as missing:
        find_chart(_release("prometheus-operator-crds", "32.0.0"), vendored)
    assert str(missing.value) == (
        f"chart prometheus-operator-crds 32.0.0 is neither in {vendored} (which holds 31.0.1 only); pulumi up fetches it"
    )
    # prometheus-operator-crds' folder name starts like no other chart's; kube-prometheus-stack's is not its.
    with pytest.raises(NotRendered, match=r"\(which has no prometheus-adapter\)"):
        find_chart(_release("prometheus-adapter", "5.3.0"), vendored)


def test_a_folder_whose_chart_yaml_names_another_version_is_not_taken(tmp_path: Path) -> None:
    vendored = _vendored(tmp_path, ("cert-manager", "v1.21.1"))
    (vendored / "cert-manager-v1.21.1").rename(vendored / "cert-manager-v1.21.2")
    with pytest.raises(NotRendered, match=r"cert-manager v1.21.2 is neither in .* \(which holds v1.21.1 only\)"):
        find_chart(_release("cert-manager", "v1.21.2"), vendored)


def test_a_chart_source_path_and_a_chart_helm_already_pulled_are_used(tmp_path: Path) -> None:
    vendored = _vendored(tmp_path / "vendored")
    local = _vendored(tmp_path / "local", ("opentelemetry-collector", "0.170.0")) / "opentelemetry-collector-0.170.0"
    assert find_chart(_release(str(local), "0.170.0"), vendored) == local
    with pytest.raises(NotRendered, match=f"its chartSource path {tmp_path / 'gone'} does not exist"):
        find_chart(_release(str(tmp_path / "gone"), "0.170.0"), vendored)
    cache = tmp_path / "repository-cache"
    cache.mkdir()
    (cache / "kube-prometheus-stack-92.3.0.tgz").write_bytes(b"")
    assert find_chart(_release("kube-prometheus-stack", "92.3.0"), vendored, cache) == (
        cache / "kube-prometheus-stack-92.3.0.tgz"
    )
    with pytest.raises(NotRendered, match=f"nor in Helm's cache {cache}; pulumi up fetches it"):
        find_chart(_release("kube-prometheus-stack", "92.4.0"), vendored, cache)


@pytest.mark.skipif(not VENDORED.is_dir(), reason=f"no vendored charts at {VENDORED}")
def test_the_dev_stack_s_add_ons_map_to_their_vendored_folders(dev: ProgramRun) -> None:
    found = {release.release: find_chart(release) for release in addon_charts.addon_releases(dev)}
    assert found == {
        "envoy-gateway": VENDORED / f"gateway-helm-{ENVOY_GATEWAY_CHART}",
        "opentelemetry-collector": VENDORED / f"opentelemetry-collector-{OPENTELEMETRY_COLLECTOR_CHART}",
    }


# --------------------------------------------------------------------------- what helm is given


def test_helm_gets_the_values_the_program_registers_for_each_release(tmp_path: Path, dev: ProgramRun) -> None:
    releases = {r.inputs["name"]: r.inputs for r in dev.of_type(RELEASE)}
    vendored = _vendored(tmp_path / "charts", *((chart, inputs["version"]) for chart, inputs in _charts(releases)))
    helm = _stand_in_helm(tmp_path / "helm")
    write_addon_charts(dev, tmp_path / "out", _with_helm(helm), vendored)
    templates = [call for call in _calls(helm) if call["args"][0] == "template"]
    assert {call["args"][1] for call in templates} == set(releases) == {"envoy-gateway", "opentelemetry-collector"}
    for call in templates:
        inputs = releases[call["args"][1]]
        assert yaml.safe_load(call["values"]) == integral_floats_to_ints(unwrap(inputs["values"]))
        assert call["args"][2:] == [
            str(vendored / f"{_chart_of(inputs)}-{inputs['version']}"),
            "--namespace",
            inputs["namespace"],
            "--version",
            inputs["version"],
            "--values",
            call["args"][8],
            "--include-crds",
            "--skip-tests",
            # helm template's own list lacks it; every cluster serves it (prometheus-adapter tests for it).
            "--api-versions",
            "apiregistration.k8s.io/v1",
        ]


def _chart_of(inputs: Mapping[str, Any]) -> str:
    return str(inputs["chart"]).rsplit("/", 1)[-1]


def _charts(releases: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(_chart_of(inputs), inputs) for inputs in releases.values()]


# --------------------------------------------------------------------------- what is reported


def test_without_helm_each_add_on_is_named_as_not_rendered(tmp_path: Path, dev: ProgramRun) -> None:
    lines = write_addon_charts(dev, tmp_path / "out", _no_helm(tmp_path))
    reason = (
        "no helm binary: none on PATH, no $PLATFORM_HELM, none at "
        f"{tmp_path / 'no-cache' / 'bin' / 'helm'} (e2e/build builds it)"
    )
    assert lines == [
        f"add-on chart gateway-helm {ENVOY_GATEWAY_CHART} (release envoy-gateway in envoy-gateway-system): "
        f"not rendered: {reason}",
        f"add-on chart opentelemetry-collector {OPENTELEMETRY_COLLECTOR_CHART} (release opentelemetry-collector in "
        f"tracing): not rendered: {reason}",
    ]
    assert not (tmp_path / "out").exists()


def test_a_chart_helm_refuses_is_named_with_helm_s_reason(tmp_path: Path, dev: ProgramRun) -> None:
    vendored = _vendored(tmp_path / "charts", ("opentelemetry-collector", OPENTELEMETRY_COLLECTOR_CHART))
    helm = _stand_in_helm(tmp_path / "helm", stderr=MISSING_SUBCHARTS, exit_code=1)
    lines = write_addon_charts(dev, tmp_path / "out", _with_helm(helm), vendored)
    assert lines == [
        f"add-on charts rendered with {helm} (v3.0.0-stand-in)",
        f"add-on chart gateway-helm {ENVOY_GATEWAY_CHART} (release envoy-gateway in envoy-gateway-system): "
        f"not rendered: chart gateway-helm {ENVOY_GATEWAY_CHART} is neither in {vendored} (which has no "
        f"gateway-helm) nor in Helm's cache {helm.parent / 'repository-cache'}; pulumi up fetches it",
        f"add-on chart opentelemetry-collector {OPENTELEMETRY_COLLECTOR_CHART} (release opentelemetry-collector in "
        "tracing): not rendered: helm template refused it: An error occurred while checking for chart dependencies. "
        "You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing "
        "in charts/ directory: kube-state-metrics, prometheus-node-exporter, grafana, prometheus-windows-exporter",
    ]


def test_output_helm_printed_that_is_not_yaml_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    chart = _vendored(tmp_path / "charts", ("opentelemetry-collector", "0.170.0")) / "opentelemetry-collector-0.170.0"
    helm = _stand_in_helm(tmp_path / "helm", stdout="kind: Secret\nmetadata: {name: [unclosed\n")
    with pytest.raises(NotRendered, match=r"^helm template printed YAML that does not parse: while parsing a flow"):
        addon_charts.render(str(helm), _release(str(chart), "0.170.0"), chart, tmp_path)


def test_plan_out_names_what_it_did_not_render_and_still_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(plan, "run_program", shared_run)
    monkeypatch.setenv("PLATFORM_HELM", str(tmp_path / "no-such-helm"))
    assert (
        plan.main(["--stack", "dev", "--skip-checkov", "--out", str(tmp_path / "out"), "--dir", str(FIXTURE_DIR)]) == 0
    )
    printed = capsys.readouterr().out.split("\nwrote ", 1)[1].splitlines()
    assert printed[1:] == [
        f"  add-on chart {label}: not rendered: PLATFORM_HELM={tmp_path / 'no-such-helm'} is not an executable helm"
        for label in (
            f"gateway-helm {ENVOY_GATEWAY_CHART} (release envoy-gateway in envoy-gateway-system)",
            f"opentelemetry-collector {OPENTELEMETRY_COLLECTOR_CHART} (release opentelemetry-collector in tracing)",
        )
    ]


def test_helm_is_taken_from_platform_helm_then_path_then_e2e_build_s_cache(tmp_path: Path) -> None:
    own = _stand_in_helm(tmp_path / "own")
    on_path = _stand_in_helm(tmp_path / "path")
    built = _stand_in_helm(tmp_path / "cache" / "bin")
    cache = {"PLATFORM_E2E_CACHE": str(tmp_path / "cache")}
    assert find_helm({"PLATFORM_HELM": str(own), "PATH": str(on_path.parent), **cache}) == str(own)
    assert find_helm({"PATH": str(on_path.parent), **cache}) == str(on_path)
    assert find_helm({"PATH": str(tmp_path / "empty"), **cache}) == str(built)


# --------------------------------------------------------------------------- no Secret value is written


def test_a_chart_s_secrets_are_written_as_placeholders_and_its_other_objects_as_rendered(
    tmp_path: Path, dev: ProgramRun
) -> None:
    # Only the collector's chart is there, so only its release prints the chart output.
    vendored = _vendored(tmp_path / "charts", ("opentelemetry-collector", OPENTELEMETRY_COLLECTOR_CHART))
    helm = _stand_in_helm(tmp_path / "helm", stdout=CHART_OUTPUT)
    out = tmp_path / "out"
    write_addon_charts(dev, out, _with_helm(helm), vendored)
    tls = yaml.safe_load((out / "monitoring" / "secret-prometheus-adapter.yaml").read_text())
    assert tls["data"] == {"tls.crt": REDACTED, "tls.key": REDACTED}
    assert tls["type"] == "kubernetes.io/tls" and tls["metadata"]["labels"]["app.kubernetes.io/name"]
    config = yaml.safe_load((out / "monitoring" / "secret-alertmanager-config.yaml").read_text())
    assert config["stringData"] == {"alertmanager.yaml": REDACTED}
    written = "".join(path.read_text() for path in out.rglob("*.yaml"))
    assert "LS0tLS1CRUdJTi" not in written and "hooks.slack.com" not in written
    # Anything but a Secret is written as the chart rendered it; a namespaced object without a namespace
    # goes into its release's, a cluster-scoped one under _cluster.
    assert yaml.safe_load((out / "monitoring" / "configmap-prometheus-adapter.yaml").read_text())["data"] == {
        "config.yaml": "rules: []\n"
    }
    assert (out / "_cluster" / "clusterrole-prometheus-adapter-resource-reader.yaml").is_file()
    binding = yaml.safe_load((out / "tracing" / "rolebinding-prometheus-adapter-reader.yaml").read_text())
    assert binding["metadata"]["namespace"] == "tracing"


def test_a_secret_of_the_program_is_scrubbed_even_where_its_values_are_not_marked_secret(tmp_path: Path) -> None:
    plain = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "legacy", "namespace": "shop"},
        "data": {"token": "c3RhbmQtaW4tZm9yLWFwaS10b2tlbg=="},
        "stringData": {"url": "postgresql://app:stand-in-for-password@db:5432/app"},
    }
    path = manifests.write_object(tmp_path, plain, "fallback")
    assert path == tmp_path / "shop" / "secret-legacy.yaml"
    assert yaml.safe_load(path.read_text()) == {
        **plain,
        "data": {"token": REDACTED},
        "stringData": {"url": REDACTED},
    }
    # A ConfigMap's data is no secret, and a custom kind named Secret is not the API server's.
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}
    assert manifests.scrub_secret(config_map) == config_map


def test_no_secret_value_of_the_program_is_written_for_any_stack(tmp_path: Path) -> None:
    for stack in ("dev", "production"):
        out = tmp_path / stack
        manifests.write_manifests(shared_run(stack), out)
        secrets = list(out.rglob("secret-*.yaml"))
        assert secrets, stack
        for path in secrets:
            body = yaml.safe_load(path.read_text())
            values = [*(body.get("data") or {}).values(), *(body.get("stringData") or {}).values()]
            assert values and set(values) == {REDACTED}, path


# --------------------------------------------------------------------------- the real helm on the vendored charts


def _real_helm() -> str | None:
    try:
        return find_helm()
    except NotRendered:
        return None


REAL_HELM = _real_helm()
needs_real_helm = pytest.mark.skipif(
    REAL_HELM is None or not VENDORED.is_dir(),
    reason=(
        "the real helm is not run: "
        + ("no helm binary ($PLATFORM_HELM, PATH or e2e/build's)" if REAL_HELM is None else f"no charts at {VENDORED}")
    ),
)


@needs_real_helm
def test_plan_out_writes_the_vendored_charts_objects_beside_the_program_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(plan, "run_program", shared_run)
    out = tmp_path / "out"
    assert plan.main(["--stack", "dev", "--dir", str(FIXTURE_DIR), "--skip-checkov", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split("\nwrote ", 1)[1].splitlines()
    program = int(printed[0].split()[0])
    counts = [int(line.rsplit(": ", 1)[1].removesuffix(" objects")) for line in printed[2:]]
    assert printed[2].startswith(f"  add-on chart gateway-helm {ENVOY_GATEWAY_CHART} (release envoy-gateway")
    assert len(list(out.rglob("*.yaml"))) == program + sum(counts), "no chart object overwrote another"
    controller = yaml.safe_load((out / "envoy-gateway-system" / "deployment-envoy-gateway.yaml").read_text())
    assert controller["metadata"]["labels"]["app.kubernetes.io/instance"] == "envoy-gateway"
    gateway_class_crd = out / "_cluster" / "customresourcedefinition-gatewayclasses.gateway.networking.k8s.io.yaml"
    assert gateway_class_crd.is_file(), "the chart's CRDs are written, as Helm installs them"


@needs_real_helm
def test_the_vendored_kube_prometheus_stack_without_its_subcharts_is_reported_not_rendered(tmp_path: Path) -> None:
    config = stack_config("staging")
    config["platform:addons"] = {
        **config["platform:addons"],
        "monitoring": {
            "enabled": True,
            "chartVersion": "88.5.3",
            "chartSource": {"path": str(VENDORED / "kube-prometheus-stack-88.5.3")},
            "crdsChartVersion": "31.0.1",
            "crdsChartSource": {"path": str(VENDORED / "prometheus-operator-crds-31.0.1")},
        },
    }
    lines = write_addon_charts(shared_run("staging", config), tmp_path)
    by_chart = {line.split(" (release ")[0].removeprefix("add-on chart "): line for line in lines[1:]}
    assert by_chart["kube-prometheus-stack 88.5.3"].endswith(
        "not rendered: helm template refused it: An error occurred while checking for chart dependencies. You may "
        "need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in "
        "charts/ directory: kube-state-metrics, prometheus-node-exporter, grafana, prometheus-windows-exporter"
    )
    # The CRD chart beside it renders: every prometheus-operator CRD, none of them cut short by the `=` enum.
    crds = int(by_chart["prometheus-operator-crds 31.0.1"].rsplit(": ", 1)[1].removesuffix(" objects"))
    assert crds == len(list((tmp_path / "_cluster").glob("customresourcedefinition-*.monitoring.coreos.com.yaml")))
    assert crds >= 10


@needs_real_helm
def test_prometheus_adapter_s_apiservices_render_at_the_version_clusters_serve(tmp_path: Path) -> None:
    # Without --api-versions, helm template's built-in list lacks apiregistration.k8s.io/v1 and the chart falls
    # back to v1beta1, which the API server has refused since 1.22 (the e2e dry run caught it).
    write_addon_charts(shared_run("staging"), tmp_path)
    services = sorted((tmp_path / "_cluster").glob("apiservice-*.yaml"))
    assert [path.name for path in services] == ["apiservice-v1beta1.custom.metrics.k8s.io.yaml"]
    assert yaml.safe_load(services[0].read_text())["apiVersion"] == "apiregistration.k8s.io/v1"


@needs_real_helm
def test_a_real_chart_s_generated_secret_is_written_as_a_placeholder(tmp_path: Path) -> None:
    key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"
    release = AddonRelease(
        release="prometheus-adapter",
        chart=str(VENDORED / "prometheus-adapter-5.3.0"),
        version="5.3.0",
        namespace="monitoring",
        values={"tls": {"enable": True, "key": key, "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n"}},
    )
    assert REAL_HELM is not None
    objects = addon_charts.render(REAL_HELM, release, Path(release.chart), tmp_path)
    [secret] = [obj for obj in objects if obj["kind"] == "Secret"]
    assert set(secret["data"]) == {"tls.crt", "tls.key"} and secret["data"]["tls.key"] != REDACTED
    path = manifests.write_object(tmp_path / "out", secret, release.release)
    assert yaml.safe_load(path.read_text())["data"] == {"tls.crt": REDACTED, "tls.key": REDACTED}
    assert "MIIEvQ" not in path.read_text() and "LS0tLS1CRUdJTi" not in path.read_text()
