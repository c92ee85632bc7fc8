"""The legacy ingress-nginx path (`ingress.controller: ingress-nginx`, the `legacy` fixture stack): one
Ingress per (namespace, host), TLS by cert-manager, nginx annotations, URLs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import stack_run
from harness import ProgramRun, run_program, stack_config


def _ingress(run: ProgramRun, name: str) -> dict[str, Any]:
    found = run.k8s("Ingress", name)
    assert len(found) == 1, f"expected one Ingress {name}, found {len(found)}"
    manifest: dict[str, Any] = found[0].manifest
    return manifest


def _path(path: str, service: str, port: int = 80) -> dict[str, Any]:
    return {
        "path": path,
        "pathType": "Prefix",
        "backend": {"service": {"name": service, "port": {"number": port}}},
    }


@pytest.fixture
def legacy() -> ProgramRun:
    """Staging on the retired ingress-nginx."""
    return stack_run("legacy")


@pytest.fixture(scope="module")
def legacy_dev() -> ProgramRun:
    """dev on ingress-nginx: no TLS, a NodePort controller."""
    config = copy.deepcopy(stack_config("dev"))
    config["platform:ingress"] = {**config["platform:ingress"], "controller": "ingress-nginx"}
    return run_program("dev", config)


@pytest.fixture(scope="module")
def shared_host() -> ProgramRun:
    """Legacy with two more services on api.<domain>: one beside checkout in `shop`, one in `shop-workers`."""
    config = copy.deepcopy(stack_config("legacy"))
    services = config["platform:services"]
    checkout = next(s for s in services if s["name"] == "checkout")
    payments = {
        **{k: v for k, v in checkout.items() if k not in ("migration", "config", "mounts", "allowFrom", "slo")},
        "name": "payments",
        "image": "europe-docker.pkg.dev/acme-shop/apps/payments:3.1.0",
        "ports": [{"name": "http", "containerPort": 8000, "servicePort": 8080}],
        "metrics": None,
        "routes": [{"host": "api.${domain}", "path": "/api/payments"}],
    }
    worker = next(s for s in services if s["name"] == "order-worker")
    status = {
        **worker,
        "name": "order-status",
        "ports": [*worker["ports"], {"name": "http", "containerPort": 8000}],
        "routes": [{"host": "api.${domain}", "path": "/api/orders/status"}],
    }
    services += [payments, status]
    config["platform:ingress"] = {**config["platform:ingress"], "rateLimitRps": None}
    return run_program("legacy", config)


def test_one_ingress_per_host_with_prefix_paths_to_service_port_numbers(legacy: ProgramRun) -> None:
    assert {r.manifest["metadata"]["name"] for r in legacy.k8s("Ingress")} == {
        "www-staging-shop-example-com",
        "api-staging-shop-example-com",
    }
    spec = _ingress(legacy, "api-staging-shop-example-com")["spec"]
    assert spec["rules"] == [
        {"host": "api.staging.shop.example.com", "http": {"paths": [_path("/api/checkout", "checkout")]}}
    ]
    assert spec["ingressClassName"] == "nginx"


def test_services_on_one_host_share_one_ingress(shared_host: ProgramRun) -> None:
    shop = [r.manifest for r in shared_host.k8s("Ingress", "api-staging-shop-example-com", namespace="shop")]
    assert len(shop) == 1
    assert shop[0]["spec"]["rules"] == [
        {
            "host": "api.staging.shop.example.com",
            "http": {"paths": [_path("/api/checkout", "checkout"), _path("/api/payments", "payments", 8080)]},
        }
    ]


def test_a_host_shared_across_namespaces_gets_an_ingress_in_each(shared_host: ProgramRun) -> None:
    in_workers = shared_host.k8s("Ingress", "api-staging-shop-example-com", namespace="shop-workers")
    assert len(in_workers) == 1
    assert in_workers[0].manifest["spec"]["rules"][0]["http"]["paths"] == [_path("/api/orders/status", "order-status")]
    assert shared_host.outputs["urls"] == [
        "https://api.staging.shop.example.com",
        "https://www.staging.shop.example.com",
    ]


def test_services_without_routes_get_no_ingress(legacy: ProgramRun) -> None:
    backends = {
        path["backend"]["service"]["name"]
        for ingress in legacy.k8s("Ingress")
        for rule in ingress.manifest["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"storefront", "checkout"}
    assert legacy.k8s("Ingress", namespace="shop-workers") == []


def test_tls_through_the_stacks_cluster_issuer(legacy: ProgramRun) -> None:
    ingress = _ingress(legacy, "www-staging-shop-example-com")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-staging"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["www.staging.shop.example.com"], "secretName": "www-staging-shop-example-com-tls"}
    ]


def test_nginx_annotations_for_rate_limit_ssl_redirect_and_body_size(legacy: ProgramRun) -> None:
    for ingress in legacy.k8s("Ingress"):
        annotations = ingress.manifest["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "100"
        assert annotations["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
        assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "8m"


def test_no_rate_limit_annotation_when_the_limit_is_off(shared_host: ProgramRun) -> None:
    for ingress in shared_host.k8s("Ingress"):
        assert "nginx.ingress.kubernetes.io/limit-rps" not in ingress.manifest["metadata"]["annotations"]


def test_without_tls_there_is_no_tls_block_issuer_or_redirect_and_urls_are_http(legacy_dev: ProgramRun) -> None:
    ingress = _ingress(legacy_dev, "www-localtest-me")
    assert "tls" not in ingress["spec"]
    assert ingress["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/ssl-redirect": "false",
        "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
        "nginx.ingress.kubernetes.io/limit-rps": "100",
    }
    assert legacy_dev.outputs["urls"] == ["http://api.localtest.me", "http://www.localtest.me"]


def test_urls_are_sorted_https_per_host(legacy: ProgramRun) -> None:
    assert legacy.outputs["urls"] == ["https://api.staging.shop.example.com", "https://www.staging.shop.example.com"]


def test_ingresses_wait_for_services_controller_and_issuers(legacy: ProgramRun) -> None:
    ingress = legacy.k8s("Ingress", "api-staging-shop-example-com")[0]
    provider = legacy.one("pulumi:providers:kubernetes")
    assert ingress.provider.startswith(provider.urn + "::")
    service = legacy.k8s("Service", "checkout")[0]
    controller = next(
        r for r in legacy.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("chart") == "ingress-nginx"
    )
    issuer = next(r for r in legacy.k8s("ClusterIssuer") if r.manifest["metadata"]["name"] == "letsencrypt-staging")
    assert {service.urn, controller.urn, issuer.urn} <= set(ingress.dependencies)
