"""The Gateway API routing layer: GKE's Gateway on staging and production, Envoy Gateway on dev."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import stack_run
from harness import ProgramRun, assert_rejected, rejected, run_program, stack_config

GOOGLE_FRONT_ENDS = ["35.191.0.0/16", "130.211.0.0/22"]


def _gateway(run: ProgramRun) -> dict[str, Any]:
    found = run.k8s("Gateway", "platform", namespace="gateway")
    assert len(found) == 1
    manifest: dict[str, Any] = found[0].manifest
    return manifest


def _route(run: ProgramRun, name: str, namespace: str = "shop") -> dict[str, Any]:
    found = run.k8s("HTTPRoute", name, namespace=namespace)
    assert len(found) == 1, f"expected one HTTPRoute {namespace}/{name}"
    manifest: dict[str, Any] = found[0].manifest
    return manifest


def _selector(*namespaces: str) -> dict[str, Any]:
    return {
        "from": "Selector",
        "selector": {
            "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(namespaces)}]
        },
    }


@pytest.fixture(scope="module")
def regional() -> ProgramRun:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:ingress"] = {**config["platform:ingress"], "className": "gke-l7-regional-external-managed"}
    return run_program("staging", config)


def test_the_cluster_runs_gkes_gateway_controller_on_the_standard_channel(gke_run: ProgramRun) -> None:
    cluster = gke_run.one("gcp:container/cluster:Cluster")
    assert cluster.inputs["gatewayApiConfig"] == {"channel": "CHANNEL_STANDARD"}


def test_no_stack_installs_ingress_nginx_by_default(run: ProgramRun) -> None:
    charts = {r.inputs.get("chart") for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    assert "ingress-nginx" not in charts
    assert run.k8s("Ingress") == []
    assert not any("ingress-nginx" in warning for warning in run.warnings)


def test_one_shared_gateway_with_an_https_listener_per_host_on_a_reserved_global_address(staging: ProgramRun) -> None:
    gateway = _gateway(staging)
    spec = gateway["spec"]
    assert spec["gatewayClassName"] == "gke-l7-global-external-managed"
    address = staging.one("gcp:compute/globalAddress:GlobalAddress")
    assert address.inputs["name"] == "shop-staging-gateway"
    assert spec["addresses"] == [{"type": "NamedAddress", "value": "shop-staging-gateway"}]
    assert spec["listeners"] == [
        {
            "name": f"https-{host.replace('.', '-')}",
            "hostname": host,
            "port": 443,
            "protocol": "HTTPS",
            "allowedRoutes": {
                "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                "namespaces": _selector("shop"),
            },
        }
        for host in ("www.staging.shop.example.com", "api.staging.shop.example.com")
    ] + [{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}}]


def test_production_keeps_the_gateway_address(production: ProgramRun) -> None:
    assert production.one("gcp:compute/globalAddress:GlobalAddress").protect


def test_plain_http_only_redirects_to_https_with_a_301(gke_run: ProgramRun) -> None:
    spec = _route(gke_run, "https-redirect", namespace="gateway")["spec"]
    assert spec["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "platform", "sectionName": "http"}
    ]
    assert spec["rules"] == [
        {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}
    ]


def test_google_managed_certificates_per_host_through_a_certificate_map(staging: ProgramRun) -> None:
    hosts = {"www.staging.shop.example.com", "api.staging.shop.example.com"}
    authorizations = staging.of_type("gcp:certificatemanager/dnsAuthorization:DnsAuthorization")
    assert {a.inputs["domain"] for a in authorizations} == hosts
    certificates = staging.of_type("gcp:certificatemanager/certificate:Certificate")
    assert sorted(c.inputs["managed"]["domains"][0] for c in certificates) == sorted(hosts)
    assert all(len(c.inputs["managed"]["dnsAuthorizations"]) == 1 for c in certificates)
    entries = staging.of_type("gcp:certificatemanager/certificateMapEntry:CertificateMapEntry")
    assert {e.inputs["hostname"] for e in entries} == hosts
    certificate_map = staging.one("gcp:certificatemanager/certificateMap:CertificateMap")
    assert certificate_map.inputs["name"] == "shop-staging-gateway"
    assert _gateway(staging)["metadata"]["annotations"] == {"networking.gke.io/certmap": "shop-staging-gateway"}


def test_an_httproute_per_service_and_host_with_prefix_paths_to_the_service_port(staging: ProgramRun) -> None:
    spec = _route(staging, "checkout-api-staging-shop-example-com")["spec"]
    assert spec == {
        "parentRefs": [
            {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": "platform",
                "namespace": "gateway",
                "sectionName": "https-api-staging-shop-example-com",
            }
        ],
        "hostnames": ["api.staging.shop.example.com"],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/api/checkout"}}],
                "backendRefs": [{"group": "", "kind": "Service", "name": "checkout", "port": 80}],
            }
        ],
    }
    assert staging.outputs["urls"] == ["https://api.staging.shop.example.com", "https://www.staging.shop.example.com"]


def test_a_route_and_its_policies_wait_for_their_own_services_only(staging: ProgramRun) -> None:
    """Each HTTPRoute and GKE policy depends on the Gateway and the Services it targets, not on every
    service's: with the whole catalog as dependencies, a route's registration grew with the catalog and a
    300-service preview spent most of its time resolving them."""
    by_urn = {r.urn: r for r in staging.resources}
    gateway = {r.urn for r in staging.k8s("Gateway")}
    checked = 0
    for kind in ("HTTPRoute", "GCPBackendPolicy", "HealthCheckPolicy"):
        # The services' routes and policies (the Gateway's own HTTP-to-HTTPS redirect route has no backend).
        for route in (r for r in staging.k8s(kind) if "platform:traffic:HttpRoutes" in r.parent):
            spec = route.manifest["spec"]
            targets = (
                {ref["name"] for rule in spec["rules"] for ref in rule["backendRefs"]}
                if kind == "HTTPRoute"
                else {spec["targetRef"]["name"]}
            )
            services = {
                by_urn[urn].manifest["metadata"]["name"]
                for urn in route.dependencies
                if "::kubernetes:core/v1:Service::" in urn.replace("$", "::")
            }
            assert services == targets, route.name
            assert gateway <= set(route.dependencies), route.name
            checked += 1
    assert checked >= 4


def _with_checkout_route(stack: str, **route: Any) -> ProgramRun:
    config = copy.deepcopy(stack_config(stack))
    checkout = next(s for s in config["platform:services"] if s["name"] == "checkout")
    checkout["routes"][0].update(route)
    return run_program(stack, config)


def test_route_timeouts_and_request_headers_on_envoy_gateway() -> None:
    run = _with_checkout_route("dev", timeout="1m30s", requestHeaders={"X-Platform": "shop"})
    rule = _route(run, "checkout-api-localtest-me")["spec"]["rules"][0]
    assert rule["timeouts"] == {"request": "1m30s"}
    assert rule["filters"] == [
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "X-Platform", "value": "shop"}]}}
    ]


def test_on_gke_a_route_timeout_becomes_the_backend_services_timeout() -> None:
    run = _with_checkout_route("staging", timeout="1m30s", requestHeaders={"X-Platform": "shop"})
    rule = _route(run, "checkout-api-staging-shop-example-com")["spec"]["rules"][0]
    # GKE's load balancer sets deadlines per backend service, not per route rule.
    assert "timeouts" not in rule
    assert rule["filters"][0]["requestHeaderModifier"]["set"] == [{"name": "X-Platform", "value": "shop"}]
    backend = run.k8s("GCPBackendPolicy", "checkout", namespace="shop")[0].manifest["spec"]["default"]
    assert backend["timeoutSec"] == 90


def test_cloud_armor_throttles_each_client_ip_and_answers_429(gke_run: ProgramRun) -> None:
    policy = gke_run.one("gcp:compute/securityPolicy:SecurityPolicy")
    throttle = next(rule for rule in policy.inputs["rules"] if rule["action"] == "throttle")
    assert throttle["rateLimitOptions"] == {
        "conformAction": "allow",
        "exceedAction": "deny(429)",
        "enforceOnKey": "IP",
        # 100 requests per second over Cloud Armor's 10-second window.
        "rateLimitThreshold": {"count": 1000, "intervalSec": 10},
    }
    assert throttle["match"]["config"]["srcIpRanges"] == ["*"]
    name = policy.inputs["name"]
    for service in ("storefront", "checkout"):
        backend = gke_run.k8s("GCPBackendPolicy", service, namespace="shop")[0].manifest["spec"]
        assert backend == {
            "default": {"securityPolicy": name},
            "targetRef": {"group": "", "kind": "Service", "name": service},
        }
    assert gke_run.k8s("GCPBackendPolicy", namespace="shop-workers") == []


def test_health_checks_follow_each_routed_services_readiness_probe(staging: ProgramRun) -> None:
    spec = staging.k8s("HealthCheckPolicy", "checkout", namespace="shop")[0].manifest["spec"]
    assert spec == {
        "default": {
            "checkIntervalSec": 5,
            "timeoutSec": 3,
            "healthyThreshold": 1,
            "unhealthyThreshold": 3,
            "logConfig": {"enabled": False},
            "config": {
                "type": "HTTP",
                "httpHealthCheck": {"portSpecification": "USE_FIXED_PORT", "port": 8000, "requestPath": "/ready"},
            },
        },
        "targetRef": {"group": "", "kind": "Service", "name": "checkout"},
    }


def test_routed_pods_admit_googles_front_ends_on_routed_ports_only(gke_run: ProgramRun) -> None:
    policy = gke_run.k8s("NetworkPolicy", "checkout", namespace="shop")[0].manifest["spec"]
    edge = next(rule for rule in policy["ingress"] if any("ipBlock" in peer for peer in rule["from"]))
    assert [peer["ipBlock"]["cidr"] for peer in edge["from"]] == GOOGLE_FRONT_ENDS
    assert edge["ports"] == [{"port": "http", "protocol": "TCP"}]


def test_a_regional_class_gets_a_regional_address_proxy_only_subnet_and_regional_policy(regional: ProgramRun) -> None:
    address = regional.one("gcp:compute/address:Address")
    assert (address.inputs["region"], address.inputs["addressType"]) == ("europe-west1", "EXTERNAL")
    subnet = next(
        s for s in regional.of_type("gcp:compute/subnetwork:Subnetwork") if s.name.endswith("-proxy-only-subnet")
    )
    assert (subnet.inputs["purpose"], subnet.inputs["role"]) == ("REGIONAL_MANAGED_PROXY", "ACTIVE")
    assert subnet.inputs["ipCidrRange"] == "10.24.0.0/23"
    policy = regional.one("gcp:compute/regionSecurityPolicy:RegionSecurityPolicy")
    assert policy.inputs["region"] == "europe-west1"
    assert regional.of_type("gcp:certificatemanager/certificateMap:CertificateMap") == []
    annotations = _gateway(regional)["metadata"]["annotations"]
    assert annotations["networking.gke.io/cert-manager-certs"].split(",") == [
        "shop-staging-www-staging-shop-example-com",
        "shop-staging-api-staging-shop-example-com",
    ]
    edge = regional.k8s("NetworkPolicy", "checkout", namespace="shop")[0].manifest["spec"]["ingress"][0]
    assert [peer["ipBlock"]["cidr"] for peer in edge["from"]] == [*GOOGLE_FRONT_ENDS, "10.24.0.0/23"]


def test_dev_runs_envoy_gateway_pinned_with_a_node_port_data_plane(dev: ProgramRun) -> None:
    release = next(r for r in dev.of_type("kubernetes:helm.sh/v3:Release") if "envoyproxy" in r.inputs["chart"])
    assert release.inputs["chart"] == "oci://docker.io/envoyproxy/gateway-helm"
    assert release.inputs["version"] == "v1.9.0"
    assert "repositoryOpts" not in release.inputs or not release.inputs["repositoryOpts"]
    proxy = dev.k8s("EnvoyProxy", "platform-proxy", namespace="envoy-gateway-system")[0]
    assert proxy.manifest["spec"]["provider"]["kubernetes"]["envoyService"] == {"type": "NodePort"}
    gateway_class = dev.k8s("GatewayClass", "envoy-gateway")[0]
    assert gateway_class.manifest["spec"]["controllerName"] == "gateway.envoyproxy.io/gatewayclass-controller"
    assert gateway_class.manifest["spec"]["parametersRef"]["name"] == "platform-proxy"
    assert release.urn in gateway_class.dependencies
    gateway = _gateway(dev)
    assert gateway["spec"]["gatewayClassName"] == "envoy-gateway"
    assert "addresses" not in gateway["spec"]
    assert [listener["name"] for listener in gateway["spec"]["listeners"]] == [
        "http-www-localtest-me",
        "http-api-localtest-me",
    ]
    assert gateway_class.urn in dev.k8s("Gateway", "platform")[0].dependencies


def test_dev_rate_limits_locally_with_a_backend_traffic_policy(dev: ProgramRun) -> None:
    policy = dev.k8s("BackendTrafficPolicy", "rate-limit", namespace="gateway")[0].manifest["spec"]
    assert policy == {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "platform"}],
        "rateLimit": {"type": "Local", "local": {"rules": [{"limit": {"requests": 100, "unit": "Second"}}]}},
    }


def test_dev_routed_pods_admit_only_the_gateways_proxy_pods(dev: ProgramRun) -> None:
    policy = dev.k8s("NetworkPolicy", "checkout", namespace="shop")[0].manifest["spec"]
    edge = policy["ingress"][0]
    assert edge["from"] == [
        {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["envoy-gateway-system"]}
                ]
            },
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/managed-by": "envoy-gateway",
                    "app.kubernetes.io/component": "proxy",
                    "gateway.envoyproxy.io/owning-gateway-name": "platform",
                    "gateway.envoyproxy.io/owning-gateway-namespace": "gateway",
                }
            },
        }
    ]


def test_ingress_nginx_only_when_chosen_and_then_every_run_warns() -> None:
    legacy = stack_run("legacy")
    charts = {r.inputs.get("chart") for r in legacy.of_type("kubernetes:helm.sh/v3:Release")}
    assert "ingress-nginx" in charts
    assert legacy.k8s("Gateway") == [] and legacy.k8s("HTTPRoute") == []
    assert any("ingress.controller 'ingress-nginx' is retired upstream" in w for w in legacy.warnings)


def test_a_route_host_outside_every_listener_is_rejected() -> None:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:ingress"] = {**config["platform:ingress"], "hosts": ["www.${domain}"]}
    assert_rejected(
        "staging",
        config,
        "stack 'staging': platform:services[checkout].routes[0].host: 'api.staging.shop.example.com' is outside "
        "every Gateway listener; listeners: www.staging.shop.example.com",
    )


def test_a_class_gke_cannot_serve_is_rejected() -> None:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:ingress"] = {**config["platform:ingress"], "className": "envoy-gateway"}
    assert_rejected(
        "staging",
        config,
        "stack 'staging': platform:ingress.className: 'envoy-gateway' is not a GKE Gateway class cluster.mode "
        "'gke' can serve; allowed: gke-l7-global-external-managed, gke-l7-gxlb, gke-l7-regional-external-managed, "
        "gke-l7-rilb",
    )


def test_a_gke_class_on_an_existing_cluster_is_rejected() -> None:
    config = copy.deepcopy(stack_config("dev"))
    config["platform:ingress"] = {**config["platform:ingress"], "className": "gke-l7-global-external-managed"}
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:ingress.className: 'gke-l7-global-external-managed' is not served on an existing "
        "cluster, where the platform runs Envoy Gateway; allowed: envoy-gateway",
    )


# --------------------------------------------------------------------------- canary and blue-green

CANARY_IMAGE = "europe-docker.pkg.dev/acme-shop/apps/checkout:2.0.0"


def _with_canary(stack: str, canary: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(stack_config(stack))
    next(s for s in config["platform:services"] if s["name"] == "checkout")["canary"] = canary
    return config


@pytest.fixture(scope="module")
def canary() -> ProgramRun:
    """Production with checkout's 2.0.0 taking 10 % of its route."""
    return run_program("production", _with_canary("production", {"image": CANARY_IMAGE, "weight": 10}))


def test_a_canary_splits_the_route_90_10_between_two_services(canary: ProgramRun) -> None:
    rule = _route(canary, "checkout-api-shop-example-com")["spec"]["rules"][0]
    assert rule["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "checkout", "port": 80, "weight": 90},
        {"group": "", "kind": "Service", "name": "checkout-canary", "port": 80, "weight": 10},
    ]
    stable = canary.k8s("Service", "checkout", namespace="shop")[0].manifest["spec"]
    second = canary.k8s("Service", "checkout-canary", namespace="shop")[0].manifest["spec"]
    assert stable["selector"]["app.kubernetes.io/instance"] == "checkout"
    assert second["selector"]["app.kubernetes.io/instance"] == "checkout-canary"
    assert second["ports"] == stable["ports"]


def test_each_track_runs_its_own_deployment_with_its_own_labels(canary: ProgramRun) -> None:
    stable = canary.k8s("Deployment", "checkout", namespace="shop")[0].manifest["spec"]
    second = canary.k8s("Deployment", "checkout-canary", namespace="shop")[0].manifest["spec"]
    assert stable["template"]["spec"]["containers"][0]["image"].endswith("checkout:1.9.0")
    assert second["template"]["spec"]["containers"][0]["image"] == CANARY_IMAGE
    assert second["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "checkout",
        "app.kubernetes.io/instance": "checkout-canary",
    }
    labels = second["template"]["metadata"]["labels"]
    assert (labels["track"], labels["app.kubernetes.io/version"]) == ("canary", "2.0.0")
    assert "track" not in stable["template"]["metadata"]["labels"]


def test_each_track_has_its_own_hpa_and_pdb(canary: ProgramRun) -> None:
    for name in ("checkout", "checkout-canary"):
        hpa = canary.k8s("HorizontalPodAutoscaler", name, namespace="shop")[0].manifest["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
        pdb = canary.k8s("PodDisruptionBudget", name, namespace="shop")[0].manifest["spec"]
        assert pdb["selector"]["matchLabels"]["app.kubernetes.io/instance"] == name


def test_network_policy_and_gke_policies_cover_both_tracks(canary: ProgramRun) -> None:
    policies = canary.k8s("NetworkPolicy", namespace="shop")
    checkout = [p.manifest["spec"] for p in policies if p.manifest["metadata"]["name"] == "checkout"]
    assert checkout[0]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "checkout"}}
    for kind in ("GCPBackendPolicy", "HealthCheckPolicy"):
        targets = {r.manifest["spec"]["targetRef"]["name"] for r in canary.k8s(kind, namespace="shop")}
        assert {"checkout", "checkout-canary"} <= targets


def test_blue_green_at_weight_100_sends_everything_to_the_new_track() -> None:
    run = run_program("staging", _with_canary("staging", {"image": CANARY_IMAGE, "weight": 100}))
    refs = _route(run, "checkout-api-staging-shop-example-com")["spec"]["rules"][0]["backendRefs"]
    assert [(ref["name"], ref["weight"]) for ref in refs] == [("checkout", 0), ("checkout-canary", 100)]


def test_a_canary_weight_outside_0_to_100_is_rejected() -> None:
    assert_rejected(
        "staging",
        _with_canary("staging", {"image": CANARY_IMAGE, "weight": 101}),
        "stack 'staging': platform:services[checkout].canary.weight: input should be less than or equal to 100 (got 101)",
    )


def test_a_canary_without_an_image_is_rejected() -> None:
    assert_rejected(
        "staging",
        _with_canary("staging", {"weight": 10}),
        "stack 'staging': platform:services[checkout].canary.image: is required",
    )


def test_a_canary_needs_the_gateway_to_split_by_weight() -> None:
    assert_rejected(
        "legacy",
        _with_canary("legacy", {"image": CANARY_IMAGE, "weight": 10}),
        "stack 'legacy': platform:services[checkout].canary: splitting routes by weight needs ingress.controller 'gateway'",
    )


def test_a_readiness_probe_on_an_unrouted_port_is_rejected_on_gke() -> None:
    config = copy.deepcopy(stack_config("staging"))
    checkout = next(s for s in config["platform:services"] if s["name"] == "checkout")
    checkout["probes"]["readiness"] = {"httpGet": {"path": "/ready", "port": "metrics"}}
    assert_rejected(
        "staging",
        config,
        "stack 'staging': platform:services[checkout].probes.readiness: port 'metrics' is not routed: the load "
        "balancer's health check follows the readiness probe and reaches pods only on routed ports; probe one of: http",
    )


def test_every_custom_resource_of_the_variants_passes_its_crd_schema(regional: ProgramRun, canary: ProgramRun) -> None:
    from crd_schemas import crd_failures

    kinds = (
        "Gateway",
        "GatewayClass",
        "HTTPRoute",
        "GCPBackendPolicy",
        "HealthCheckPolicy",
        "EnvoyProxy",
        "BackendTrafficPolicy",
        "ClusterIssuer",
    )
    for run in (regional, canary, stack_run("legacy")):
        manifests = [r.manifest for kind in kinds for r in run.k8s(kind)]
        assert manifests
        assert crd_failures(manifests) == []


def test_listed_hosts_get_listeners_and_one_nothing_routes_to_admits_no_other_namespace() -> None:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:ingress"] = {
        **config["platform:ingress"],
        "hosts": ["www.${domain}", "api.${domain}", "status.${domain}"],
    }
    listeners = {
        listener["name"]: listener for listener in _gateway(run_program("staging", config))["spec"]["listeners"]
    }
    assert listeners["https-status-staging-shop-example-com"]["allowedRoutes"]["namespaces"] == {"from": "Same"}
    assert listeners["https-api-staging-shop-example-com"]["allowedRoutes"]["namespaces"] == _selector("shop")


def test_two_envoy_proxies_keep_a_disruption_budget() -> None:
    config = copy.deepcopy(stack_config("dev"))
    config["platform:addons"] = {**config["platform:addons"], "envoyGateway": {"proxyReplicas": 2}}
    run = run_program("dev", config)
    (proxy,) = run.k8s("EnvoyProxy", "platform-proxy")
    kubernetes = proxy.manifest["spec"]["provider"]["kubernetes"]
    assert kubernetes["envoyDeployment"] == {"replicas": 2}
    assert kubernetes["envoyPDB"] == {"minAvailable": 1}
    from crd_schemas import crd_failures

    assert crd_failures([proxy.manifest]) == []
    assert "envoyPDB" not in stack_run("dev").k8s("EnvoyProxy")[0].manifest["spec"]["provider"]["kubernetes"]


def test_production_on_an_existing_cluster_runs_two_envoy_proxies() -> None:
    config = copy.deepcopy(stack_config("dev"))
    config["platform:environment"] = "production"
    message, registered = rejected("dev", config)
    assert "stack 'dev': platform:addons.envoyGateway.proxyReplicas: production runs at least 2 Envoy proxies" in (
        message.splitlines()
    )
    assert registered == 0


def test_httproutes_wait_for_their_services_and_the_gateway_not_the_rollouts(staging: ProgramRun) -> None:
    (route,) = staging.k8s("HTTPRoute", "checkout-api-staging-shop-example-com")
    service = staging.k8s("Service", "checkout", namespace="shop")[0].urn
    deployment = staging.k8s("Deployment", "checkout", namespace="shop")[0].urn
    gateway = staging.k8s("Gateway", "platform")[0].urn
    assert {service, gateway} <= set(route.dependencies)
    assert deployment not in route.dependencies


def test_on_dev_the_gateway_waits_for_envoy_gateways_release(dev: ProgramRun) -> None:
    release = next(r for r in dev.of_type("kubernetes:helm.sh/v3:Release") if "envoyproxy" in r.inputs["chart"])
    (gateway,) = dev.k8s("Gateway", "platform")
    assert release.urn in gateway.dependencies


def test_envoy_gateways_certgen_hook_rbac_is_deleted_once_the_hooks_succeed(dev: ProgramRun) -> None:
    # Hook resources are no part of a Helm release: without the policy an uninstall leaves the certgen
    # ClusterRole and ClusterRoleBinding behind (e2e/run's destroy check found them).
    release = next(r for r in dev.of_type("kubernetes:helm.sh/v3:Release") if "envoyproxy" in r.inputs["chart"])
    annotations = release.inputs["values"]["certgen"]["rbac"]["annotations"]
    assert annotations == {"helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}
