"""Network isolation as behaviour: what every stack's NetworkPolicies allow, evaluated as Kubernetes does.

For every stack that exists (the root's dev, staging and production, every example's, found as
tests/test_stacks.py finds them) and the tests' own fixture catalog, the registered manifests go through the
reachability evaluator (components/planning/reachability.py) with the pods the platform does not
template itself: the edge (the platform's own `ingress_edge`: Envoy Gateway's proxies on dev, Google's
front-end ranges on GKE, the controller's pods on the legacy ingress-nginx), Prometheus's, and one pod outside the catalog (a database
a data team runs) in every managed namespace. The computed (source -> destination, port) matrix must
equal the one derived from the parsed config, in both directions:
- the edge reaches each routed service on its routed ports;
- an `allowFrom` caller reaches its callee on the callee's ports, except a dedicated metrics port;
- monitoring reaches each service's metrics port;
- the pods of a `relaxed` namespace reach one another on every port;
- a namespace reaches the pods outside the catalog of each namespace its `egress.namespaces` names.
Nothing else. Expectations come from the config, so they hold for any catalog; pointed checks on the
fixture catalog (the sample shop: storefront, checkout, order-worker) follow.
"""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path
from typing import Any

import pytest
from gates import platform_config
from harness import FIXTURE_DIR, ROOT_DIR, ProgramRun, assert_rejected, run_program, stack_config
from test_stacks import STACKS, stack_run, values_of

from components.config import PlatformConfig
from components.kube import SERVICE_NAME_LABEL, Edge, PodPeer
from components.planning.reachability import (
    Endpoint,
    Evaluator,
    PortSpec,
    edge_endpoints,
    reachability_table,
)
from components.platform import edge_home, ingress_edge
from components.traffic.ingress_controller import CONTROLLER_LABELS
from components.workloads.config import ServiceConfig

FIXTURE_STACKS = [(FIXTURE_DIR, stack) for stack in ("dev", "staging", "production")]
ALL_STACKS = [*STACKS, *FIXTURE_STACKS]
IDS = [f"{'root' if d == ROOT_DIR else 'fixture' if d == FIXTURE_DIR else d.name}-{s}" for d, s in ALL_STACKS]
# A pod the platform does not run, e.g. a PostgreSQL the data team deploys into a managed namespace.
OUTSIDE_LABELS = {SERVICE_NAME_LABEL: "outside-catalog-database"}
OUTSIDE_PORT = 5432
PROMETHEUS_LABELS = {SERVICE_NAME_LABEL: "prometheus", "prometheus": "kube-prometheus-stack-prometheus"}
INTERNET = Endpoint("internet", ip="203.0.113.10", ports=(PortSpec(443),))
KUBE_DNS = Endpoint(
    "kube-system/kube-dns",
    "kube-system",
    {"k8s-app": "kube-dns"},
    ports=(PortSpec(53, "UDP", "dns"), PortSpec(53, "TCP", "dns-tcp")),
)


def _registered(run: ProgramRun) -> list[dict[str, Any]]:
    """Every plain Kubernetes object the run registered (Helm releases' contents are not known here)."""
    return [
        r.manifest
        for r in run.resources
        if r.type.startswith("kubernetes:")
        and not r.type.startswith("kubernetes:helm")
        and r.type != "pulumi:providers:kubernetes"
    ]


def edge_names(config: PlatformConfig) -> list[str]:
    """The edge's source endpoints: its pods, or one address per front-end range."""
    return [endpoint.name for endpoint in edge_endpoints(ingress_edge(config))]


def prometheus_name(config: PlatformConfig) -> str:
    return f"{config.addons.monitoring.namespace}/prometheus"


def outside_name(namespace: str) -> str:
    return f"{namespace}/outside-catalog"


def extra_endpoints(config: PlatformConfig) -> list[Endpoint]:
    """The edge, Prometheus, a database outside the catalog in every managed namespace, the internet,
    kube-dns, and one address in every declared CIDR."""
    scrape_ns = config.addons.monitoring.namespace
    cidrs = sorted({cidr for ns in config.namespaces if ns.enabled for cidr in ns.egress.cidrs})
    return [
        *edge_endpoints(ingress_edge(config)),
        Endpoint(prometheus_name(config), scrape_ns, PROMETHEUS_LABELS),
        *(
            Endpoint(outside_name(ns.name), ns.name, OUTSIDE_LABELS, ports=(PortSpec(OUTSIDE_PORT),))
            for ns in config.namespaces
            if ns.enabled
        ),
        INTERNET,
        KUBE_DNS,
        *(Endpoint(f"in-{cidr}", ip=str(ipaddress.ip_network(cidr)[1]), ports=(PortSpec(443),)) for cidr in cidrs),
    ]


def manifests(directory: Path, stack: str) -> list[dict[str, Any]]:
    return _registered(stack_run(directory, stack))


@functools.cache
def subject(directory: Path, stack: str) -> tuple[PlatformConfig, Evaluator]:
    config = platform_config(stack, values_of(directory, stack), directory)
    return config, Evaluator(manifests(directory, stack), extra_endpoints(config))


@pytest.fixture(params=ALL_STACKS, ids=IDS)
def stack_key(request: pytest.FixtureRequest) -> tuple[Path, str]:
    directory, stack = request.param
    return directory, stack


@pytest.fixture
def stack(stack_key: tuple[Path, str]) -> tuple[PlatformConfig, Evaluator]:
    return subject(*stack_key)


# --------------------------------------------------------------------------- the declared matrix


def _ports(service: ServiceConfig, names: list[str]) -> set[int]:
    return {p.container_port for p in service.ports if p.name in names}


def _caller_ports(service: ServiceConfig) -> set[int]:
    """All ports but a dedicated metrics port and a stateful service's peer ports; a service whose only
    callable port serves /metrics keeps it."""
    metrics = service.metrics.port if service.metrics is not None else None
    peers = set(service.stateful.peer_ports) if service.stateful is not None else set()
    callable_ports = {p.container_port for p in service.ports if p.name not in peers}
    return {p.container_port for p in service.ports if p.name != metrics and p.name not in peers} or callable_ports


def declared_matrix(config: PlatformConfig, evaluator: Evaluator) -> set[tuple[str, str, int]]:
    # Data services run as catalog services too (clients are their allowFrom).
    services = {(s.namespace, s.name): s for s in config.workloads if s.enabled}
    namespaces = {ns.name: ns for ns in config.namespaces if ns.enabled}
    pods = [e for e in evaluator.endpoints.values() if not e.is_external and e.name != KUBE_DNS.name]

    def service_of(endpoint: Endpoint) -> ServiceConfig | None:
        return services.get((endpoint.namespace or "", endpoint.labels.get(SERVICE_NAME_LABEL, "")))

    expected: set[tuple[str, str, int]] = set()
    for src in pods:
        caller = service_of(src)
        src_ns = namespaces.get(src.namespace or "")
        for dst in pods:
            dst_ns = namespaces.get(dst.namespace or "")
            all_ports = {p.port for p in dst.ports}
            ports: set[int] = set()
            if dst_ns is not None and dst_ns.policy == "relaxed" and src.namespace == dst.namespace:
                ports |= all_ports
            callee = service_of(dst)
            if callee is not None:
                if src.name in edge_names(config):
                    ports |= _ports(callee, [route.port for route in callee.routes])
                # The monitoring namespace is admitted as a whole (Prometheus and its scrapers live there).
                if src.namespace == config.addons.monitoring.namespace and callee.metrics is not None:
                    ports |= _ports(callee, [callee.metrics.port])
                if caller is not None and caller.name in callee.allow_from:
                    ports |= _caller_ports(callee)
                # A store's role Job (docs/data-access.md) reaches that store on its client port alone.
                store = config.data_services_by_name.get(callee.name)
                role_job = src.labels.get(SERVICE_NAME_LABEL) == f"{callee.name}-roles"
                if store is not None and store.makes_roles and role_job and src.namespace == dst.namespace:
                    ports |= {store.engine.port}
                # A quorum's members (a stateful service with peer ports) reach each other on every port.
                if caller is callee and callee.stateful is not None and callee.stateful.peer_ports:
                    ports |= all_ports
            elif src_ns is not None and dst.namespace in src_ns.egress.namespaces:
                # A pod outside the catalog in a namespace the source's namespace declares.
                ports |= all_ports
            # A migration Job is its service's pod without a listening port.
            expected |= {(src.name, dst.name, port) for port in ports & all_ports}
    return expected


def test_reachability_matrix_equals_the_declared_one(stack: tuple[PlatformConfig, Evaluator]) -> None:
    config, evaluator = stack
    pods = [name for name, e in evaluator.endpoints.items() if not e.is_external and name != KUBE_DNS.name]
    computed = evaluator.matrix(sources=pods, destinations=pods)
    expected = declared_matrix(config, evaluator)
    assert sorted(computed - expected) == [], "reachable but not declared"
    assert sorted(expected - computed) == [], "declared but not reachable"


def test_the_plan_table_is_the_evaluators_matrix_in_order(stack_key: tuple[Path, str]) -> None:
    config, evaluator = subject(*stack_key)
    table = reachability_table(manifests(*stack_key), extra_endpoints(config))
    assert table == sorted(evaluator.matrix())
    assert len(table) == len(set(table)) > 0


def test_the_declared_matrix_is_not_empty_where_the_config_declares_traffic(
    stack: tuple[PlatformConfig, Evaluator],
) -> None:
    """Guards the equality above against an evaluator that sees no workloads at all."""
    config, evaluator = stack
    catalog = {s.name for s in config.services if s.enabled}
    workloads = {e.labels.get(SERVICE_NAME_LABEL) for e in evaluator.endpoints.values() if not e.is_external}
    assert catalog <= workloads
    if config.addons.monitoring.enabled and any(s.metrics for s in config.services):
        assert any(src == prometheus_name(config) for src, _, _ in declared_matrix(config, evaluator))


# --------------------------------------------------------------------------- the edge


def test_the_edge_reaches_only_routed_ports(stack: tuple[PlatformConfig, Evaluator]) -> None:
    config, evaluator = stack
    # A canary track's pods take a share of the same routes, on the same ports.
    routed = {
        (f"{s.namespace}/{track}", p.container_port)
        for s in config.services
        if s.enabled
        for track in ([s.name, f"{s.name}-canary"] if s.canary is not None else [s.name])
        for p in s.ports
        if p.name in {route.port for route in s.routes}
    }
    pods = [name for name, e in evaluator.endpoints.items() if not e.is_external and name != KUBE_DNS.name]
    for edge in edge_names(config):
        reached = {(dst, port) for _, dst, port in evaluator.matrix(sources=[edge], destinations=pods)}
        assert reached == routed, edge


def test_the_edge_reaches_no_data_namespace(stack: tuple[PlatformConfig, Evaluator]) -> None:
    """Nothing outside the catalog in a managed namespace (a database) is reachable from the edge, least of
    all in a data namespace: one that another namespace reaches for data, or that is protected."""
    config, evaluator = stack
    edge = edge_home(config)
    data = {t for ns in config.namespaces if ns.enabled for t in ns.egress.namespaces} | {
        ns.name for ns in config.namespaces if ns.enabled and ns.protect
    }
    managed = {ns.name for ns in config.namespaces if ns.enabled and ns.name != edge}
    outside = [outside_name(name) for name in sorted(managed)]
    assert outside
    assert evaluator.matrix(sources=edge_names(config), destinations=outside) == set()
    in_data = [name for name, e in evaluator.endpoints.items() if e.namespace in data & managed]
    assert evaluator.matrix(sources=edge_names(config), destinations=in_data) == set()


def test_the_platforms_edge_is_the_gateways_data_plane(stack: tuple[PlatformConfig, Evaluator]) -> None:
    """GKE: Google's front ends and health checkers (and a regional class's proxy-only subnet), which reach
    pods by IP; an existing cluster: the shared Gateway's Envoy proxies, by namespace and labels."""
    config, _ = stack
    edge = ingress_edge(config)
    if config.creates_cluster:
        assert (list(edge.pods), list(edge.cidrs)) == ([], ["35.191.0.0/16", "130.211.0.0/22"])
    else:
        (proxies,) = edge.pods
        assert proxies.namespace == "envoy-gateway-system"
        assert proxies.labels["gateway.envoyproxy.io/owning-gateway-name"] == config.ingress.gateway.name
        assert list(edge.cidrs) == []


def test_the_legacy_edge_is_the_controller_pods() -> None:
    config = platform_config("legacy", values_of(FIXTURE_DIR, "legacy"), FIXTURE_DIR)
    (controller,) = edge_endpoints(ingress_edge(config))
    assert (controller.namespace, dict(controller.labels)) == (config.addons.ingress_nginx.namespace, CONTROLLER_LABELS)
    evaluator = Evaluator(manifests(FIXTURE_DIR, "legacy"), extra_endpoints(config))
    assert evaluator.allowed(controller.name, "shop/checkout", 8000)
    assert not evaluator.allowed(controller.name, "shop/checkout", 9090)


def test_a_gateway_edge_plugs_in_as_proxies_and_google_front_end_ranges() -> None:
    proxies = PodPeer("gateway", {"gateway.networking.k8s.io/gateway-name": "public"})
    edge = Edge(pods=[proxies], cidrs=["35.191.0.0/16", "130.211.0.0/22"])
    pods, *ranges = edge.peers()
    assert pods.namespace_selector.match_expressions[0].values == ["gateway"]
    assert pods.pod_selector.match_labels == {"gateway.networking.k8s.io/gateway-name": "public"}
    assert [peer.ip_block.cidr for peer in ranges] == ["35.191.0.0/16", "130.211.0.0/22"]
    assert [(e.name, e.ip) for e in edge_endpoints(edge)] == [
        ("gateway/edge", None),
        ("edge-35.191.0.0/16", "35.191.0.1"),
        ("edge-130.211.0.0/22", "130.211.0.1"),
    ]
    assert Edge().peers() == []


# --------------------------------------------------------------------------- egress


def test_every_managed_pod_resolves_names(stack: tuple[PlatformConfig, Evaluator]) -> None:
    config, evaluator = stack
    for name, endpoint in evaluator.endpoints.items():
        if endpoint.namespace in {ns.name for ns in config.namespaces if ns.enabled}:
            assert evaluator.allowed(name, KUBE_DNS.name, 53, "UDP"), name
            assert evaluator.allowed(name, KUBE_DNS.name, 53, "TCP"), name


def test_only_relaxed_namespaces_reach_undeclared_addresses(stack: tuple[PlatformConfig, Evaluator]) -> None:
    config, evaluator = stack
    checked = 0
    for ns in config.namespaces:
        if not ns.enabled:
            continue
        for name, endpoint in evaluator.endpoints.items():
            if endpoint.namespace != ns.name:
                continue
            assert evaluator.allowed(name, INTERNET.name, 443) is (ns.policy == "relaxed"), name
            for cidr in ns.egress.cidrs:
                assert evaluator.allowed(name, f"in-{cidr}", 443), f"{name} -> {cidr}"
            checked += 1
    assert checked


# --------------------------------------------------------------------------- the fixture catalog (the sample shop)


def shop(stack: str) -> Evaluator:
    return subject(FIXTURE_DIR, stack)[1]


@pytest.mark.parametrize("stack_name", ["dev", "staging", "production"])
def test_order_worker_reaches_no_storefront_or_checkout_port(stack_name: str) -> None:
    evaluator = shop(stack_name)
    for port in (8000, 9090):
        assert not evaluator.allowed("shop-workers/order-worker", "shop/checkout", port)
    for port in (8080, 9090):
        assert not evaluator.allowed("shop-workers/order-worker", "shop/storefront", port)
    assert evaluator.allowed("shop-workers/order-worker", outside_name("shop-data"), OUTSIDE_PORT)


@pytest.mark.parametrize("stack_name", ["dev", "staging", "production"])
def test_the_edge_reaches_storefront_and_checkout_http_only(stack_name: str) -> None:
    evaluator = shop(stack_name)
    # dev: Envoy Gateway's proxies; GKE: one of Google's front-end ranges (the other behaves alike).
    edge = {"dev": "envoy-gateway-system/edge"}.get(stack_name, "edge-35.191.0.0/16")
    assert evaluator.allowed(edge, "shop/storefront", 8080)
    assert evaluator.allowed(edge, "shop/checkout", 8000)
    assert not evaluator.allowed(edge, "shop/storefront", 9090)
    assert not evaluator.allowed(edge, "shop/checkout", 9090)
    # order-worker has no route: neither its metrics nor its health port.
    assert not evaluator.allowed(edge, "shop-workers/order-worker", 9090)
    assert not evaluator.allowed(edge, "shop-workers/order-worker", 8080)
    assert not evaluator.allowed(edge, outside_name("shop-data"), OUTSIDE_PORT)


@pytest.mark.parametrize("stack_name", ["dev", "staging", "production"])
def test_storefront_and_checkout_call_each_other_on_http_only(stack_name: str) -> None:
    evaluator = shop(stack_name)
    assert evaluator.allowed("shop/storefront", "shop/checkout", 8000)
    assert evaluator.allowed("shop/checkout", "shop/storefront", 8080)
    assert not evaluator.allowed("shop/storefront", "shop/checkout", 9090)
    # shop is strict: sharing a namespace is no licence, a pod does not even reach its own replicas.
    assert not evaluator.allowed("shop/checkout", "shop/checkout", 8000)
    assert not evaluator.allowed("shop/storefront", "shop-workers/order-worker", 8080)
    # checkout's migration Job is checkout: it reaches what checkout reaches.
    (job,) = [name for name in evaluator.endpoints if name.startswith("shop/checkout-migrate-")]
    assert evaluator.allowed(job, "shop/storefront", 8080)
    assert evaluator.allowed(job, outside_name("shop-data"), OUTSIDE_PORT)


@pytest.mark.parametrize("stack_name", ["staging", "production"])
def test_monitoring_reaches_metrics_ports_only(stack_name: str) -> None:
    evaluator = shop(stack_name)
    prometheus = "monitoring/prometheus"
    assert evaluator.allowed(prometheus, "shop-workers/order-worker", 9090)
    assert not evaluator.allowed(prometheus, "shop-workers/order-worker", 8080)
    assert evaluator.allowed(prometheus, "shop/checkout", 9090)
    assert not evaluator.allowed(prometheus, "shop/checkout", 8000)
    assert not evaluator.allowed(prometheus, outside_name("shop-data"), OUTSIDE_PORT)


@pytest.mark.parametrize("stack_name", ["dev", "staging", "production", "legacy"])
def test_only_the_edge_reaches_acme_solver_pods_and_only_where_certificates_are_issued(stack_name: str) -> None:
    """On ingress-nginx cert-manager answers HTTP-01 challenges from solver pods in the Ingress's namespace:
    the controller reaches them on 8089 (nothing else does). GKE's Gateway takes Certificate Manager's
    certificates and dev has no TLS: no such opening in a service namespace."""
    config = platform_config(stack_name, values_of(FIXTURE_DIR, stack_name), FIXTURE_DIR)
    solver = Endpoint(
        "shop/cm-acme-http-solver", "shop", {"acme.cert-manager.io/http01-solver": "true"}, ports=(PortSpec(8089),)
    )
    evaluator = Evaluator(manifests(FIXTURE_DIR, stack_name), [*extra_endpoints(config), solver])
    issued = config.ingress.controller == "ingress-nginx" and config.ingress.tls
    assert issued is (stack_name == "legacy")
    assert evaluator.matrix(destinations=[solver.name]) == (
        {(edge_names(config)[0], solver.name, 8089)} if issued else set()
    )


# --------------------------------------------------------------------------- egress to places outside the catalog


def _with_namespaces(**egress: dict[str, list[str]]) -> dict[str, Any]:
    config = stack_config("dev")
    for ns in config["platform:namespaces"]:
        if ns["name"] in egress:
            ns["egress"] = egress[ns["name"]]
    return config


def test_a_namespace_the_platform_does_not_manage_can_be_named_and_is_reached_whole() -> None:
    config = _with_namespaces(shop={"namespaces": ["shop-data", "default"]})
    run = run_program("dev", config)
    database = Endpoint("default/postgres", "default", {"app": "postgres"}, ports=(PortSpec(5432),))
    evaluator = Evaluator(_registered(run), [database])
    assert evaluator.allowed("shop/storefront", "default/postgres", 5432)
    assert evaluator.allowed("shop/checkout", "default/postgres", 5432)
    assert not evaluator.allowed("shop-workers/order-worker", "default/postgres", 5432)


def test_naming_a_managed_namespace_opens_none_of_its_catalog_services() -> None:
    """shop-workers declaring `shop` reaches a non-catalog pod there, never storefront or checkout."""
    config = _with_namespaces(**{"shop-workers": {"namespaces": ["shop", "shop-data"]}})
    run = run_program("dev", config)
    stray = Endpoint("shop/cache", "shop", {"app": "cache"}, ports=(PortSpec(6379),))
    evaluator = Evaluator(_registered(run), [stray])
    assert evaluator.allowed("shop-workers/order-worker", "shop/cache", 6379)
    for destination, port in (("shop/checkout", 8000), ("shop/checkout", 9090), ("shop/storefront", 8080)):
        assert not evaluator.allowed("shop-workers/order-worker", destination, port)


def test_an_egress_namespace_that_is_not_a_dns_label_is_rejected() -> None:
    assert_rejected(
        "dev",
        _with_namespaces(shop={"namespaces": ["Shop_Data"]}),
        (
            "stack 'dev': platform:namespaces[shop].egress.namespaces[0]: 'Shop_Data' is not a DNS-1123 label: use at "
            "most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        ),
    )


# --------------------------------------------------------------------------- read-only namespaces


def _read_only_workers() -> dict[str, Any]:
    config = stack_config("dev")
    for ns in config["platform:namespaces"]:
        if ns["name"] == "shop-workers":
            ns["policy"] = "read-only"
    return config


def test_a_read_only_service_cannot_be_named_as_a_caller() -> None:
    config = _read_only_workers()
    config["platform:services"][1]["allowFrom"] = ["storefront", "order-worker"]
    assert_rejected(
        "dev",
        config,
        (
            "stack 'dev': platform:services[checkout].allowFrom[1]: 'order-worker' runs in read-only namespace "
            "'shop-workers', whose pods may open connections only to its egress namespaces"
        ),
    )


def test_a_service_in_a_read_only_namespace_cannot_admit_callers() -> None:
    config = _read_only_workers()
    config["platform:services"][2]["allowFrom"] = ["storefront"]
    assert_rejected(
        "dev",
        config,
        (
            "stack 'dev': platform:services[order-worker].allowFrom: 'shop-workers' is read-only: its services admit only "
            "the edge; remove allowFrom or use policy 'strict'"
        ),
    )


def test_a_canary_tracks_pods_are_reached_as_their_service_is() -> None:
    values = stack_config("production")
    checkout = next(s for s in values["platform:services"] if s["name"] == "checkout")
    checkout["canary"] = {"image": "europe-docker.pkg.dev/acme-shop/apps/checkout:2.0.0", "weight": 10}
    config = platform_config("production", values)
    evaluator = Evaluator(_registered(run_program("production", values)), extra_endpoints(config))
    pods = [name for name, e in evaluator.endpoints.items() if not e.is_external and name != KUBE_DNS.name]
    assert "shop/checkout-canary" in pods
    computed = evaluator.matrix(sources=pods, destinations=pods)
    assert computed == declared_matrix(config, evaluator)
    assert {(src, port) for src, dst, port in computed if dst == "shop/checkout-canary"} == {
        (src, port) for src, dst, port in computed if dst == "shop/checkout"
    }
