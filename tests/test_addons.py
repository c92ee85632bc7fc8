"""The cluster add-ons: cert-manager and its issuers, monitoring, and the legacy ingress-nginx on a reserved IP.

Values are read from the registered Helm releases and objects; custom configs run the whole
program only where a stack file cannot show the behaviour.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from harness import (
    ProgramRun,
    Registration,
    assert_rejected,
    is_secret_value,
    plain_strings,
    run_program,
    stack_config,
)

RELEASE = "kubernetes:helm.sh/v3:Release"
ADDRESS = "gcp:compute/address:Address"
NODE_POOL = "gcp:container/nodePool:NodePool"
CLUSTER_ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"

PINNED = {
    "ingress-nginx": ("https://kubernetes.github.io/ingress-nginx", "4.15.1", "ingress-nginx"),
    "cert-manager": ("https://charts.jetstack.io", "v1.21.2", "cert-manager"),
    "kube-prometheus-stack": ("https://prometheus-community.github.io/helm-charts", "92.3.0", "monitoring"),
    "prometheus-adapter": ("https://prometheus-community.github.io/helm-charts", "5.3.0", "monitoring"),
    "prometheus-operator-crds": ("https://prometheus-community.github.io/helm-charts", "32.0.0", "monitoring"),
    "opentelemetry-collector": ("https://open-telemetry.github.io/opentelemetry-helm-charts", "0.170.0", "tracing"),
}
ACME = {
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "letsencrypt-production": "https://acme-v02.api.letsencrypt.org/directory",
}
# Per stack file: ingress-nginx replicas, Prometheus retention and volume size.
STACK_SETTINGS = {"staging": (2, "7d", "20Gi"), "production": (3, "30d", "100Gi")}
_NGINX_RUNS: dict[str, ProgramRun] = {}


def _nginx_config(stack: str) -> dict[str, Any]:
    """The stack as a team still migrating runs it: `ingress.controller: ingress-nginx`."""
    config = copy.deepcopy(stack_config(stack))
    config["platform:ingress"] = {**config["platform:ingress"], "controller": "ingress-nginx"}
    return config


def _nginx_run(stack: str) -> ProgramRun:
    if stack not in _NGINX_RUNS:
        _NGINX_RUNS[stack] = run_program(stack, _nginx_config(stack))
    return _NGINX_RUNS[stack]


@pytest.fixture(params=("staging", "production"))
def nginx_run(request: pytest.FixtureRequest) -> ProgramRun:
    """The GKE stacks on the legacy ingress-nginx."""
    return _nginx_run(request.param)


def _release(run: ProgramRun, chart: str) -> Registration:
    found = [r for r in run.of_type(RELEASE) if r.inputs["chart"] == chart]
    assert len(found) == 1, f"expected one {chart} release, found {len(found)}"
    return found[0]


def _values(run: ProgramRun, chart: str) -> dict[str, Any]:
    values: dict[str, Any] = _release(run, chart).manifest["values"]
    return values


def _node_pool_urns(run: ProgramRun) -> set[str]:
    urns = {r.urn for r in run.of_type(NODE_POOL)}
    assert urns, "a gke stack registers node pools"
    return urns


# --------------------------------------------------------------------------- the releases


@pytest.mark.parametrize("legacy", [False, True], ids=["gateway", "ingress-nginx"])
def test_gke_stacks_release_their_charts_pinned(gke_run: ProgramRun, legacy: bool) -> None:
    run = _nginx_run(gke_run.stack) if legacy else gke_run
    releases = {r.inputs["chart"]: r.inputs for r in run.of_type(RELEASE)}
    # GKE runs its own Gateway controller, with Certificate Manager's certificates: no in-cluster
    # controller and no cert-manager unless ingress-nginx is chosen.
    expected = PINNED if legacy else {k: v for k, v in PINNED.items() if k not in ("ingress-nginx", "cert-manager")}
    assert set(releases) == set(expected)
    for chart, (repo, version, namespace) in expected.items():
        inputs = releases[chart]
        assert (inputs["repositoryOpts"]["repo"], inputs["version"], inputs["namespace"]) == (repo, version, namespace)
        # A fixed release name keeps the chart's object names stable; Helm must not create namespaces.
        assert inputs["name"] == chart
        assert (inputs["atomic"], inputs["cleanupOnFail"], inputs["createNamespace"]) == (True, True, False)
        assert inputs["timeout"] == 600


def test_releases_use_the_platform_provider_and_wait_for_the_node_pools(gke_run: ProgramRun) -> None:
    provider = gke_run.one("pulumi:providers:kubernetes")
    pools = _node_pool_urns(gke_run)
    for release in gke_run.of_type(RELEASE):
        assert release.provider.startswith(f"{provider.urn}::")
        assert pools <= set(release.dependencies)


def test_charts_with_service_monitors_wait_for_the_crd_release_not_the_monitoring_stack(nginx_run: ProgramRun) -> None:
    # Their ServiceMonitors need only the prometheus-operator CRDs: the stack's ~4 minutes stay off their path.
    crds = _release(nginx_run, "prometheus-operator-crds").urn
    monitoring = _release(nginx_run, "kube-prometheus-stack").urn
    for chart in ("ingress-nginx", "cert-manager", "kube-prometheus-stack"):
        assert crds in _release(nginx_run, chart).dependencies, chart
    for chart in ("ingress-nginx", "cert-manager"):
        assert monitoring not in _release(nginx_run, chart).dependencies, chart
    # The stack does not install a second copy of the CRDs; the CRD chart runs with its defaults.
    assert _values(nginx_run, "kube-prometheus-stack")["crds"] == {"enabled": False}
    assert _values(nginx_run, "prometheus-operator-crds") == {}
    assert _values(nginx_run, "ingress-nginx")["controller"]["metrics"] == {
        "enabled": True,
        "serviceMonitor": {"enabled": True},
    }
    assert _values(nginx_run, "cert-manager")["prometheus"] == {"enabled": True, "servicemonitor": {"enabled": True}}


def test_addon_namespaces_carry_platform_labels_and_pod_security(gke_run: ProgramRun) -> None:
    pools = _node_pool_urns(gke_run)
    expected = {"gateway": "restricted", "tracing": "restricted", "monitoring": "privileged"}
    for namespace, level in expected.items():
        [registration] = gke_run.k8s("Namespace", name=namespace)
        assert registration.manifest["metadata"]["labels"] == {
            "environment": gke_run.stack,
            "app.kubernetes.io/part-of": "shop",
            "app.kubernetes.io/managed-by": "pulumi",
            "pod-security.kubernetes.io/enforce": level,
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        }
        assert pools <= set(registration.dependencies)


# --------------------------------------------------------------------------- ingress-nginx


def test_ingress_controller_values(nginx_run: ProgramRun) -> None:
    replicas = STACK_SETTINGS[nginx_run.stack][0]
    controller = _values(nginx_run, "ingress-nginx")["controller"]
    assert controller["replicaCount"] == replicas
    # The chart's PodDisruptionBudget lets one replica go at a time.
    assert controller["maxUnavailable"] == 1
    assert controller["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    assert controller["ingressClassResource"] == {"name": "nginx", "enabled": True, "default": False}
    assert controller["admissionWebhooks"] == {"port": 10250}
    # A LoadBalancer publishes its address itself.
    assert "publishService" not in controller and "extraArgs" not in controller
    assert [(c["topologyKey"], c["maxSkew"]) for c in controller["topologySpreadConstraints"]] == [
        ("topology.kubernetes.io/zone", 1),
        ("kubernetes.io/hostname", 1),
    ]
    assert all(
        c["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "controller"
        for c in controller["topologySpreadConstraints"]
    )


def test_controller_service_takes_the_reserved_address(nginx_run: ProgramRun) -> None:
    address_name = f"shop-{nginx_run.stack}-ingress"
    service = _values(nginx_run, "ingress-nginx")["controller"]["service"]
    assert service["type"] == "LoadBalancer"
    assert service["externalTrafficPolicy"] == "Local"
    assert service["annotations"] == {
        "networking.gke.io/load-balancer-ip-addresses": address_name,
        "cloud.google.com/l4-rbs": "enabled",
    }
    assert "loadBalancerIP" not in service
    assert _release(nginx_run, "ingress-nginx").dependencies.count(nginx_run.one(ADDRESS).urn) == 1


def test_static_ip_is_regional_external_and_named(nginx_run: ProgramRun) -> None:
    address = nginx_run.one(ADDRESS)
    assert address.inputs["name"] == f"shop-{nginx_run.stack}-ingress"
    assert address.inputs["region"] == "europe-west1"
    assert address.inputs["addressType"] == "EXTERNAL"
    assert address.inputs["project"] == f"acme-shop-{'prod' if nginx_run.stack == 'production' else 'staging'}"
    assert nginx_run.outputs["ingressIp"] == "203.0.113.20"


def test_static_ip_is_protected_in_production_only() -> None:
    assert _nginx_run("production").one(ADDRESS).protect is True
    assert _nginx_run("staging").one(ADDRESS).protect is False


def test_controller_annotations_resources_and_replicas_come_from_config() -> None:
    config = _nginx_config("staging")
    nginx = config["platform:addons"]["ingressNginx"]
    nginx.update(
        replicas=4,
        annotations={"example.com/owner": "platform"},
        resources={"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
    )
    controller = _values(run_program("staging", config), "ingress-nginx")["controller"]
    assert controller["replicaCount"] == 4
    assert controller["resources"] == {
        "requests": {"cpu": "200m", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }
    assert controller["service"]["annotations"] == {
        "example.com/owner": "platform",
        "networking.gke.io/load-balancer-ip-addresses": "shop-staging-ingress",
        "cloud.google.com/l4-rbs": "enabled",
    }


# --------------------------------------------------------------------------- cert-manager


def test_cert_manager_installs_its_crds(nginx_run: ProgramRun) -> None:
    values = _values(nginx_run, "cert-manager")
    assert values["crds"] == {"enabled": True, "keep": True}
    assert "installCRDs" not in values


def test_cert_manager_is_highly_available_in_production_only() -> None:
    for run, replicas, budget in ((_nginx_run("staging"), 1, False), (_nginx_run("production"), 2, True)):
        values = _values(run, "cert-manager")
        for component in (values, values["webhook"], values["cainjector"]):
            assert component["replicaCount"] == replicas
            assert component["podDisruptionBudget"] == {"enabled": budget, "maxUnavailable": 1}


def test_both_cluster_issuers_solve_http01_through_nginx(nginx_run: ProgramRun) -> None:
    release = _release(nginx_run, "cert-manager").urn
    provider = nginx_run.one("pulumi:providers:kubernetes")
    for name, server in ACME.items():
        [issuer] = nginx_run.k8s("ClusterIssuer", name=name)
        assert issuer.type == CLUSTER_ISSUER
        assert issuer.manifest["apiVersion"] == "cert-manager.io/v1"
        assert issuer.manifest["spec"] == {
            "acme": {
                "server": server,
                "email": "platform-team@example.com",
                "privateKeySecretRef": {"name": f"{name}-account-key"},
                "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
            }
        }
        # Created only once the release has installed the CRD and its webhook is up.
        assert release in issuer.dependencies
        assert issuer.provider.startswith(f"{provider.urn}::")


def test_on_the_gateway_issuers_solve_http01_through_its_plain_http_listener() -> None:
    # Off GKE the shared Gateway (Envoy Gateway) takes its certificates from cert-manager.
    run = _envoy_tls_run()
    for name in ACME:
        [issuer] = run.k8s("ClusterIssuer", name=name)
        assert issuer.manifest["spec"]["acme"]["solvers"] == [
            {
                "http01": {
                    "gatewayHTTPRoute": {
                        "parentRefs": [
                            {
                                "group": "gateway.networking.k8s.io",
                                "kind": "Gateway",
                                "name": "platform",
                                "namespace": "gateway",
                                "sectionName": "http",
                            }
                        ]
                    }
                }
            }
        ]
    assert _values(run, "cert-manager")["config"] == {
        "apiVersion": "controller.config.cert-manager.io/v1alpha1",
        "kind": "ControllerConfiguration",
        "enableGatewayAPI": True,
    }


def _envoy_tls_run() -> ProgramRun:
    """Dev with TLS on: Envoy Gateway's listeners take their certificates from cert-manager."""
    if "dev-tls" not in _NGINX_RUNS:
        config = copy.deepcopy(stack_config("dev"))
        config["platform:ingress"] = {**config["platform:ingress"], "tls": True}
        config["platform:addons"] = {**config["platform:addons"], "certManager": {"email": "platform-team@example.com"}}
        _NGINX_RUNS["dev-tls"] = run_program("dev", config)
    return _NGINX_RUNS["dev-tls"]


def test_cert_manager_runs_by_default_exactly_where_certificates_come_from_it(gke_run: ProgramRun) -> None:
    # GKE's Gateway takes its certificates from Certificate Manager: nothing would use cert-manager.
    assert [r for r in gke_run.of_type(RELEASE) if r.inputs["chart"] == "cert-manager"] == []
    assert gke_run.k8s("ClusterIssuer") == []
    assert gke_run.k8s("Namespace", name="cert-manager") == []
    # The legacy Ingresses and, off GKE, Envoy Gateway's listeners do take theirs from it.
    for run in (_nginx_run(gke_run.stack), _envoy_tls_run()):
        assert _release(run, "cert-manager").inputs["namespace"] == "cert-manager"
        assert {i.manifest["metadata"]["name"] for i in run.k8s("ClusterIssuer")} == set(ACME)


def test_cert_manager_can_still_be_switched_on_or_off_explicitly(gke_run: ProgramRun) -> None:
    config = copy.deepcopy(stack_config(gke_run.stack))
    config["platform:addons"]["certManager"] = {**config["platform:addons"]["certManager"], "enabled": True}
    assert _release(run_program(gke_run.stack, config), "cert-manager").inputs["version"] == "v1.21.2"
    config = _nginx_config(gke_run.stack)
    config["platform:addons"]["certManager"] = {**config["platform:addons"]["certManager"], "enabled": False}
    assert_rejected(
        gke_run.stack,
        config,
        f"stack '{gke_run.stack}': platform:addons.certManager.enabled: ingress.tls needs cert-manager; "
        "enable it or set ingress.tls to false",
    )


def test_each_stack_exports_its_issuer(run: ProgramRun) -> None:
    expected = "letsencrypt-production" if run.stack == "production" else "letsencrypt-staging"
    assert run.outputs["issuer"] == expected


# --------------------------------------------------------------------------- monitoring


def test_prometheus_retention_storage_and_selection(gke_run: ProgramRun) -> None:
    _, retention, storage = STACK_SETTINGS[gke_run.stack]
    values = _values(gke_run, "kube-prometheus-stack")
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == retention
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"] == {"requests": {"storage": storage}}
    for selector in ("serviceMonitor", "podMonitor", "probe", "rule"):
        assert spec[f"{selector}SelectorNilUsesHelmValues"] is False
    # GKE's managed control plane and Dataplane V2 expose nothing for these scrapes.
    for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
        assert values[component] == {"enabled": False}


def test_grafana_admin_password_is_generated_and_only_ever_secret(gke_run: ProgramRun) -> None:
    password = gke_run.one("random:index/randomPassword:RandomPassword", "shop-addons-monitoring-grafana-password")
    assert (password.inputs["length"], password.inputs["special"]) == (32, False)
    assert "result" in password.additional_secret_outputs

    [secret] = gke_run.k8s("Secret", name="grafana-admin", namespace="monitoring")
    assert is_secret_value(secret.inputs["stringData"])
    data = secret.manifest["stringData"]
    assert data["admin-user"] == "admin"
    assert len(data["admin-password"]) == 32
    assert all(data["admin-password"] not in plain_strings(r.inputs) for r in gke_run.resources)

    release = _release(gke_run, "kube-prometheus-stack")
    grafana = release.manifest["values"]["grafana"]
    assert grafana["admin"] == {
        "existingSecret": "grafana-admin",
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    assert "adminPassword" not in grafana
    assert secret.urn in release.dependencies


def test_gke_log_bucket_keeps_logs_thirty_days(gke_run: ProgramRun) -> None:
    bucket = gke_run.one("gcp:logging/projectBucketConfig:ProjectBucketConfig")
    assert bucket.inputs["bucketId"] == "_Default"
    assert bucket.inputs["location"] == "global"
    assert bucket.inputs["retentionDays"] == 30
    assert bucket.inputs["project"] == gke_run.one("gcp:container/cluster:Cluster").inputs["project"]


def test_monitoring_off_removes_the_stack_and_the_charts_service_monitors() -> None:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:addons"]["monitoring"] = {"enabled": False}
    run = run_program("staging", config)
    assert {r.inputs["chart"] for r in run.of_type(RELEASE)} == {"opentelemetry-collector"}
    assert run.k8s("Namespace", name="monitoring") == []
    assert run.of_type("gcp:logging/projectBucketConfig:ProjectBucketConfig") == []
    nginx = _nginx_config("staging")
    nginx["platform:addons"]["monitoring"] = {"enabled": False}
    assert _values(run_program("staging", nginx), "cert-manager")["prometheus"]["servicemonitor"] == {"enabled": False}


def test_a_namespace_declared_in_the_catalog_is_used_rather_than_created() -> None:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:namespaces"].append(
        {"name": "monitoring", "environment": "shared", "podSecurity": "privileged", "policy": "relaxed"}
    )
    run = run_program("staging", config)
    [namespace] = run.k8s("Namespace", name="monitoring")
    assert namespace.type == "kubernetes:core/v1:Namespace"
    assert "platform:namespaces:Namespaces" in namespace.parent
    release = _release(run, "kube-prometheus-stack")
    assert release.inputs["namespace"] == "monitoring"
    assert namespace.urn in release.dependencies


# --------------------------------------------------------------------------- dev


def test_dev_runs_envoy_gateway_and_the_collector_but_no_monitoring(dev: ProgramRun) -> None:
    # The OpenTelemetry Collector runs on dev too, with its debug exporter (test_observability.py).
    assert sorted(r.inputs["chart"] for r in dev.of_type(RELEASE)) == [
        "oci://docker.io/envoyproxy/gateway-helm",
        "opentelemetry-collector",
    ]
    assert dev.k8s("ClusterIssuer") == []
    assert "ingressIp" not in dev.outputs and "gatewayIp" not in dev.outputs


def test_dev_on_ingress_nginx_runs_it_on_a_node_port() -> None:
    dev = run_program("dev", _nginx_config("dev"))
    assert sorted(r.inputs["chart"] for r in dev.of_type(RELEASE)) == ["ingress-nginx", "opentelemetry-collector"]
    controller = _values(dev, "ingress-nginx")["controller"]
    assert controller["replicaCount"] == 1
    assert controller["service"] == {"type": "NodePort", "externalTrafficPolicy": "Local", "annotations": {}}
    assert controller["metrics"]["serviceMonitor"] == {"enabled": False}
    # No load balancer publishes an address: the Ingress status carries the nodes' internal IPs, so
    # Pulumi's Ingress await completes on kind.
    assert controller["publishService"] == {"enabled": False}
    assert controller["extraArgs"] == {"report-node-internal-ip-address": "true"}
    assert dev.k8s("ClusterIssuer") == []
    assert "ingressIp" not in dev.outputs


def test_dev_creates_nothing_in_gcp(dev: ProgramRun) -> None:
    assert [r.type for r in dev.resources if r.type.startswith("gcp:")] == []


# --------------------------------------------------------------------------- rejected add-on config


def test_missing_acme_email_with_tls_is_rejected() -> None:
    # With ingress-nginx, cert-manager issues every certificate (GKE's Gateway takes Google's).
    config = _nginx_config("staging")
    del config["platform:addons"]["certManager"]["email"]
    assert_rejected(
        "staging",
        config,
        "stack 'staging': platform:addons.certManager.email: Let's Encrypt needs an ACME account email "
        "when ingress.tls is on",
    )


def test_unknown_addon_is_rejected_with_the_known_ones() -> None:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:addons"]["traefik"] = {"enabled": True}
    assert_rejected(
        "staging",
        config,
        "stack 'staging': platform:addons.traefik: unknown key; allowed: certManager, envoyGateway, ingressNginx, monitoring, tracing",
    )


def test_single_ingress_replica_in_production_is_rejected() -> None:
    config = _nginx_config("production")
    config["platform:addons"]["ingressNginx"]["replicas"] = 1
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:addons.ingressNginx.replicas: production runs at least 2 ingress "
        "controller replicas",
    )


def test_static_ip_on_an_existing_cluster_is_rejected() -> None:
    config = copy.deepcopy(stack_config("dev"))
    config["platform:addons"]["ingressNginx"].update(serviceType="LoadBalancer", staticIp=True)
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:addons.ingressNginx.staticIp: a reserved static IP needs cluster.mode 'gke'; "
        "leave it unset on an existing cluster",
    )


@pytest.mark.parametrize("retention", ["12h", "0d", "11y"])
def test_log_retention_that_is_not_whole_days_in_range_is_rejected(retention: str) -> None:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:addons"]["monitoring"]["logRetention"] = retention
    assert_rejected(
        "staging",
        config,
        f"stack 'staging': platform:addons.monitoring.logRetention: '{retention}' must be whole days (d, w or y) "
        "from 1 to 3650; Cloud Logging keeps logs per day",
    )


def test_a_catalog_monitoring_namespace_below_privileged_is_rejected() -> None:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:namespaces"].append({"name": "monitoring", "policy": "relaxed"})
    assert_rejected(
        "staging",
        config,
        "stack 'staging': platform:namespaces[monitoring].podSecurity: 'restricted' would block the monitoring add-on "
        "in 'monitoring': node-exporter needs hostNetwork, hostPID and hostPath; set privileged",
    )


# --------------------------------------------------------------------------- custom metrics


def test_prometheus_adapter_serves_custom_metrics_from_the_stacks_prometheus(gke_run: ProgramRun) -> None:
    adapter = _release(gke_run, "prometheus-adapter")
    assert _release(gke_run, "kube-prometheus-stack").urn in adapter.dependencies
    values = _values(gke_run, "prometheus-adapter")
    assert values["prometheus"] == {"url": "http://kube-prometheus-stack-prometheus.monitoring.svc", "port": 9090}
    assert values["rules"] == {"default": True}
    # The private control plane calls the aggregated API; only 443 and 10250 reach the nodes.
    assert values["listenPort"] == 10250


def test_prometheus_adapter_is_highly_available_in_production_only(staging: ProgramRun, production: ProgramRun) -> None:
    assert _values(staging, "prometheus-adapter")["replicas"] == 1
    assert _values(production, "prometheus-adapter")["replicas"] == 2
    assert _values(production, "prometheus-adapter")["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}


def test_pods_metrics_without_monitoring_are_warned_about(dev: ProgramRun, staging: ProgramRun) -> None:
    # dev runs without monitoring, yet checkout's HPA scales on http_requests_per_second.
    assert not [r for r in dev.of_type(RELEASE) if r.inputs["chart"] == "prometheus-adapter"]
    assert any(
        "checkout: the HPA's Pods metrics (http_requests_per_second) need the monitoring add-on's prometheus-adapter"
        in warning
        for warning in dev.warnings
    )
    assert not [w for w in staging.warnings if "prometheus-adapter" in w]
