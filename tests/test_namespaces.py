"""Namespaces: labels, Pod Security Admission, quota, container defaults, network isolation, protection."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import stack_run
from harness import ProgramRun, assert_rejected, rejected, run_program, stack_config

from components.config import PlatformConfig, parse

COMPONENT = "platform:namespaces:Namespaces"
DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
DNS = {
    "podSelector": {},
    "policyTypes": ["Egress"],
    "egress": [
        {
            "to": [
                {
                    "namespaceSelector": {
                        "matchExpressions": [
                            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["kube-system"]}
                        ]
                    },
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"protocol": "UDP", "port": 53.0}, {"protocol": "TCP", "port": 53.0}],
        }
    ],
}
SAME_NAMESPACE = {
    "podSelector": {},
    "policyTypes": ["Ingress", "Egress"],
    "ingress": [{"from": [{"podSelector": {}}]}],
    "egress": [{"to": [{"podSelector": {}}]}],
}


def named(*names: str) -> dict[str, Any]:
    """A namespaceSelector on the API server's own name label."""
    return {
        "namespaceSelector": {
            "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(names)}]
        }
    }


def ingress_from(*names: str, ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"from": [named(*names)]}
    if ports is not None:
        rule["ports"] = ports
    return {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [rule]}


def platform_config(stack: str, config: dict[str, Any] | None = None) -> PlatformConfig:
    values = stack_config(stack) if config is None else config
    raw = {key.split(":", 1)[1]: value for key, value in values.items() if key.startswith("platform:")}
    return parse(stack, raw, values.get("gcp:project"))


# Every namespace's egress to the OpenTelemetry Collector (tests/test_observability.py checks it in full).
TELEMETRY_POLICY = "allow-telemetry-export"


def policies(run: ProgramRun, namespace: str) -> dict[str, dict[str, Any]]:
    """The NetworkPolicies this component put in `namespace` for its mode, by name -> spec; the
    telemetry egress every namespace gets when tracing is on is checked to reach only the collector's
    OTLP ports, and left out."""
    component = run.one(COMPONENT).urn
    found = {
        r.manifest["metadata"]["name"]: r.manifest["spec"]
        for r in run.k8s("NetworkPolicy", namespace=namespace)
        if r.parent == component
    }
    telemetry = found.pop(TELEMETRY_POLICY, None)
    if telemetry is not None:
        [rule] = telemetry["egress"]
        assert [p["port"] for p in rule["ports"]] == [4317, 4318]
        assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["to"]] == [
            "opentelemetry-collector"
        ]
    return found


# --------------------------------------------------------------------------- every stack, as shipped


def test_every_declared_namespace_is_created_with_its_labels(run: ProgramRun) -> None:
    config = platform_config(run.stack)
    assert [ns.name for ns in config.namespaces] == ["shop", "shop-workers", "shop-data"]
    for ns in config.namespaces:
        (namespace,) = run.k8s("Namespace", ns.name)
        assert namespace.manifest["metadata"]["labels"] == {
            "environment": run.stack,
            "app.kubernetes.io/part-of": "shop",
            "app.kubernetes.io/managed-by": "pulumi",
            "pod-security.kubernetes.io/enforce": ns.pod_security,
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        }


def test_pod_security_enforces_restricted_unless_relaxed_in_config(run: ProgramRun) -> None:
    enforced = {
        name: run.k8s("Namespace", name)[0].manifest["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for name in ("shop", "shop-workers", "shop-data")
    }
    assert enforced == {"shop": "restricted", "shop-workers": "restricted", "shop-data": "baseline"}


def test_each_namespace_has_the_quota_from_config(run: ProgramRun) -> None:
    for ns in platform_config(run.stack).namespaces:
        (quota,) = run.k8s("ResourceQuota", "namespace-quota", ns.name)
        assert quota.manifest["spec"]["hard"] == {
            "requests.cpu": ns.quota.requests_cpu,
            "requests.memory": ns.quota.requests_memory,
            "limits.cpu": ns.quota.limits_cpu,
            "limits.memory": ns.quota.limits_memory,
            "requests.ephemeral-storage": ns.quota.requests_ephemeral_storage,
            "limits.ephemeral-storage": ns.quota.limits_ephemeral_storage,
            "pods": str(ns.quota.pods),
            "services.loadbalancers": "0",
        }


def test_quotas_are_sized_per_stack() -> None:
    def hard(stack: str) -> dict[str, str]:
        (quota,) = stack_run(stack).k8s("ResourceQuota", "namespace-quota", "shop")
        return dict(quota.manifest["spec"]["hard"])

    assert hard("staging") == {
        "requests.cpu": "4",
        "requests.memory": "8Gi",
        "limits.cpu": "8",
        "limits.memory": "16Gi",
        "requests.ephemeral-storage": "64Gi",
        "limits.ephemeral-storage": "64Gi",
        "pods": "50",
        "services.loadbalancers": "0",
    }
    assert hard("production") == {
        "requests.cpu": "16",
        "requests.memory": "32Gi",
        "limits.cpu": "32",
        "limits.memory": "64Gi",
        "requests.ephemeral-storage": "64Gi",
        "limits.ephemeral-storage": "64Gi",
        "pods": "200",
        "services.loadbalancers": "0",
    }


def test_each_namespace_has_default_container_requests_and_limits(run: ProgramRun) -> None:
    for name in ("shop", "shop-workers", "shop-data"):
        (limit_range,) = run.k8s("LimitRange", "container-defaults", name)
        assert limit_range.manifest["spec"] == {
            "limits": [
                {
                    "type": "Container",
                    "defaultRequest": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "320Mi"},
                    "default": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "320Mi"},
                }
            ]
        }


def test_each_namespace_denies_all_traffic_by_default_and_opens_nothing_namespace_wide_but_dns(
    run: ProgramRun,
) -> None:
    """The edge, callers and monitoring are admitted per service (microservice.py), never to a whole namespace."""
    for name in ("shop", "shop-workers", "shop-data"):
        found = policies(run, name)
        assert found["default-deny-all"] == DENY_ALL
        assert found["allow-dns"] == DNS
        for hole in ("allow-from-ingress-controller", "allow-metrics-scraping", "allow-same-namespace"):
            assert hole not in found, (name, hole)


def test_shipped_namespaces_get_the_policies_of_their_mode(run: ProgramRun) -> None:
    shop, workers, data = (policies(run, name) for name in ("shop", "shop-workers", "shop-data"))
    # strict: egress to the declared data namespace (no catalog service there: all its pods), nothing within.
    to_data = {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{**named("shop-data"), "podSelector": {}}]}],
    }
    # No ACME solver opening: GKE's Gateway takes Certificate Manager's certificates (see the ACME test below).
    assert sorted(shop) == ["allow-declared-egress", "allow-dns", "default-deny-all"]
    assert shop["allow-declared-egress"] == to_data
    assert sorted(workers) == ["allow-declared-egress", "allow-dns", "default-deny-all"]
    assert workers["allow-declared-egress"] == to_data
    # The data namespace admits exactly the namespaces that declare it, itself included (its replicas),
    # and reaches nothing but DNS and itself.
    assert sorted(data) == ["allow-declared-egress", "allow-dns", "allow-from-declared-clients", "default-deny-all"]
    assert data["allow-declared-egress"] == to_data
    assert data["allow-from-declared-clients"] == ingress_from("shop", "shop-data", "shop-workers")


def test_routed_namespaces_admit_the_controller_to_acme_solver_pods_on_ingress_nginx() -> None:
    """cert-manager solves HTTP-01 beside each Ingress only on the legacy controller; on the Gateway the
    solver runs in the Gateway's namespace (off GKE) or not at all (GKE: Certificate Manager)."""
    for stack in ("dev", "staging", "production"):
        assert "allow-acme-http01-solver" not in policies(stack_run(stack), "shop"), stack
    run = stack_run("legacy")
    found = policies(run, "shop")
    assert found["allow-acme-http01-solver"] == {
        "podSelector": {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        **named("ingress-nginx"),
                        "podSelector": {
                            "matchLabels": {
                                "app.kubernetes.io/name": "ingress-nginx",
                                "app.kubernetes.io/instance": "ingress-nginx",
                                "app.kubernetes.io/component": "controller",
                            }
                        },
                    }
                ],
                "ports": [{"protocol": "TCP", "port": 8089.0}],
            }
        ],
    }
    # order-worker has no route: its namespace holds no Ingress and needs no solver.
    assert "allow-acme-http01-solver" not in policies(run, "shop-workers")


def test_namespaces_wait_for_the_node_pools(gke_run: ProgramRun) -> None:
    # Pulumi does not pass a component's depends_on to its children: the Namespaces carry it.
    pools = {r.urn for r in gke_run.of_type("gcp:container/nodePool:NodePool")}
    assert len(pools) == 2
    for name in ("shop", "shop-workers", "shop-data"):
        (namespace,) = gke_run.k8s("Namespace", name)
        assert pools <= set(namespace.dependencies)


def test_objects_in_a_namespace_are_ordered_after_it_and_use_the_cluster_provider(run: ProgramRun) -> None:
    component = run.one(COMPONENT).urn
    namespaces = {r.manifest["metadata"]["name"]: r.urn for r in run.of_type("kubernetes:core/v1:Namespace")}
    providers = {r.urn for r in run.of_type("pulumi:providers:kubernetes")}
    children = [r for r in run.resources if r.parent == component]
    # Per namespace: itself, its quota, its limit range, its mode's policies and the telemetry egress.
    assert len(children) == 3 * 4 + sum(len(policies(run, name)) for name in ("shop", "shop-workers", "shop-data"))
    for child in children:
        assert child.provider.rsplit("::", 1)[0] in providers
        if child.manifest["kind"] != "Namespace":
            assert namespaces[child.manifest["metadata"]["namespace"]] in child.dependencies


def test_only_production_data_namespace_is_protected_and_retained(run: ProgramRun) -> None:
    flags = {
        r.manifest["metadata"]["name"]: (r.protect, r.retain_on_delete)
        for r in run.of_type("kubernetes:core/v1:Namespace")
        if r.parent == run.one(COMPONENT).urn
    }
    protected = run.stack == "production"
    assert flags == {"shop": (False, False), "shop-workers": (False, False), "shop-data": (protected, protected)}


# --------------------------------------------------------------------------- policy modes (seed 004)


@pytest.fixture(scope="module")
def tracks() -> ProgramRun:
    """Staging plus seed 004's tracks: stable (strict), experimental (relaxed), quarantine (read-only)."""
    config = copy.deepcopy(stack_config("staging"))
    config["platform:namespaces"] += [
        {
            "name": "coderev-stable",
            "policy": "strict",
            # A managed data namespace, a managed app namespace and one the platform does not manage.
            "egress": {
                "namespaces": ["shop-data", "shop", "default"],
                "cidrs": ["10.50.0.0/16", "203.0.113.0/24"],
            },
        },
        {"name": "coderev-exp", "environment": "experimental", "policy": "relaxed"},
        {"name": "coderev-quarantine", "policy": "read-only", "egress": {"namespaces": ["shop-data"]}},
    ]
    config["platform:overrides"]["services"]["checkout"]["serviceAccount"] = {
        "workloadIdentity": {"roles": ["roles/cloudsql.client"]}
    }
    config["platform:overrides"]["services"]["storefront"]["metrics"] = {"port": "http"}
    return run_program("staging", config)


NOT_SHOP_SERVICES = {
    "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["checkout", "storefront"]}]
}


def test_strict_egress_goes_only_to_declared_namespaces_and_cidrs(tracks: ProgramRun) -> None:
    stable = policies(tracks, "coderev-stable")
    assert stable["allow-declared-egress"] == {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    # Unmanaged: the whole namespace. Managed: only what the catalog does not run there.
                    {**named("default"), "podSelector": {}},
                    {**named("shop"), "podSelector": NOT_SHOP_SERVICES},
                    {**named("shop-data"), "podSelector": {}},
                    {"ipBlock": {"cidr": "10.50.0.0/16"}},
                    {"ipBlock": {"cidr": "203.0.113.0/24"}},
                ]
            }
        ],
    }
    # strict: nothing within the namespace.
    assert sorted(stable) == ["allow-declared-egress", "allow-dns", "default-deny-all"]
    assert stable["default-deny-all"] == DENY_ALL


def test_a_managed_namespace_named_as_egress_admits_the_declarer_only_outside_its_catalog(tracks: ProgramRun) -> None:
    assert policies(tracks, "shop")["allow-from-declared-clients"] == {
        **ingress_from("coderev-stable"),
        "podSelector": NOT_SHOP_SERVICES,
    }


def test_relaxed_egress_goes_anywhere(tracks: ProgramRun) -> None:
    experimental = policies(tracks, "coderev-exp")
    # An empty rule matches every destination, pods included (ipBlock 0.0.0.0/0 would not under Cilium).
    assert experimental["allow-declared-egress"] == {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}
    # relaxed: free traffic among its own pods; the edge is still admitted per service only.
    assert experimental["allow-same-namespace"] == SAME_NAMESPACE
    assert sorted(experimental) == ["allow-declared-egress", "allow-dns", "allow-same-namespace", "default-deny-all"]
    (namespace,) = tracks.k8s("Namespace", "coderev-exp")
    assert namespace.manifest["metadata"]["labels"]["environment"] == "experimental"


def test_read_only_reaches_only_its_data_namespaces_and_admits_nothing_namespace_wide(tracks: ProgramRun) -> None:
    quarantine = policies(tracks, "coderev-quarantine")
    assert quarantine == {
        "default-deny-all": DENY_ALL,
        "allow-dns": DNS,
        "allow-declared-egress": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{**named("shop-data"), "podSelector": {}}]}],
        },
    }


def test_a_data_namespace_admits_every_namespace_that_declares_egress_to_it(tracks: ProgramRun) -> None:
    assert policies(tracks, "shop-data")["allow-from-declared-clients"] == ingress_from(
        "coderev-quarantine", "coderev-stable", "shop", "shop-data", "shop-workers"
    )
    assert "allow-from-declared-clients" not in policies(tracks, "coderev-exp")


def test_a_namespace_running_workload_identity_may_reach_the_gke_metadata_server(tracks: ProgramRun) -> None:
    assert policies(tracks, "shop")["allow-gke-metadata-server"] == {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}],
                "ports": [{"protocol": "TCP", "port": 80.0}, {"protocol": "TCP", "port": 8080.0}],
            },
            {
                "to": [{"ipBlock": {"cidr": "169.254.169.252/32"}}],
                "ports": [{"protocol": "TCP", "port": 987.0}, {"protocol": "TCP", "port": 988.0}],
            },
        ],
    }
    assert "allow-gke-metadata-server" not in policies(tracks, "shop-workers")


def test_monitoring_scrapes_a_metrics_port_a_service_names_differently_through_its_own_policy(
    tracks: ProgramRun,
) -> None:
    (storefront,) = tracks.k8s("NetworkPolicy", name="storefront", namespace="shop")
    assert storefront.manifest["spec"]["ingress"][-1] == {
        "from": [named("monitoring")],
        "ports": [{"port": "http", "protocol": "TCP"}],
    }
    assert "allow-metrics-scraping" not in policies(tracks, "shop")


# --------------------------------------------------------------------------- rejected config


def test_an_unknown_policy_mode_is_rejected() -> None:
    config = stack_config("staging")
    config["platform:namespaces"][0]["policy"] = "open"
    assert_rejected(
        "staging",
        config,
        (
            "stack 'staging': platform:namespaces[shop].policy: input should be 'strict', 'relaxed' or 'read-only' (got \"open\")"
        ),
    )


def test_an_environment_label_that_is_not_a_label_value_is_rejected() -> None:
    config = stack_config("staging")
    config["platform:namespaces"][0]["environment"] = "shared env"
    assert_rejected(
        "staging",
        config,
        (
            "stack 'staging': platform:namespaces[shop].environment: "
            "'shared env' is not a valid label value: at most 63 characters of [A-Za-z0-9-_.]"
        ),
    )


# --------------------------------------------------------------------------- add-on namespaces in the catalog


def _with_addon_namespaces(policy: str) -> dict[str, Any]:
    """The legacy stack (ingress-nginx) with the controller's and monitoring's namespaces in the catalog."""
    config = copy.deepcopy(stack_config("legacy"))
    config["platform:namespaces"] = [
        *config["platform:namespaces"],
        {"name": "ingress-nginx", "podSecurity": "baseline", "policy": policy},
        {"name": "monitoring", "podSecurity": "privileged", "policy": policy},
    ]
    return config


@pytest.fixture(scope="module")
def addon_namespaces() -> ProgramRun:
    return run_program("legacy", _with_addon_namespaces("relaxed"))


def test_an_addon_namespace_in_the_catalog_must_be_relaxed() -> None:
    message, registered = rejected("legacy", _with_addon_namespaces("strict"))
    assert message.splitlines()[0] == (
        "stack 'legacy': platform:namespaces[ingress-nginx].policy: 'ingress-nginx' hosts the ingress controller, whose charts "
        "need the API server, node kubelets and the internet; use policy 'relaxed'"
    )
    assert registered == 0


def test_addon_namespaces_admit_admission_webhook_calls_from_the_control_plane(addon_namespaces: ProgramRun) -> None:
    for name in ("ingress-nginx", "monitoring"):
        assert policies(addon_namespaces, name)["allow-from-control-plane"] == {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "172.16.0.16/28"}}]}],
        }
    assert "allow-from-control-plane" not in policies(addon_namespaces, "shop")


def test_the_ingress_controller_namespace_admits_public_traffic_on_http_and_https(
    addon_namespaces: ProgramRun,
) -> None:
    assert policies(addon_namespaces, "ingress-nginx")["allow-public-ingress"] == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"protocol": "TCP", "port": "http"}, {"protocol": "TCP", "port": "https"}]}],
    }
    assert "allow-public-ingress" not in policies(addon_namespaces, "monitoring")


def test_addon_namespaces_admit_scraping_of_their_charts_metrics_ports(addon_namespaces: ProgramRun) -> None:
    """The charts' own metrics (the controller's, cert-manager's) are the only namespace-wide scrape allow."""
    for name in ("ingress-nginx", "monitoring"):
        assert policies(addon_namespaces, name)["allow-metrics-scraping"] == ingress_from(
            "monitoring", ports=[{"protocol": "TCP", "port": "metrics"}]
        )
    assert "allow-metrics-scraping" not in policies(addon_namespaces, "shop")
