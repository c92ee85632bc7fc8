"""The CRD schema gate: every custom resource of every stack passes its CRD's OpenAPI schema; hand-made
manifests of each kind the platform uses or plans to use pass, and mutated ones fail naming the field.

Each group of manifests goes to the validator in one call (one Node process), not one per object.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from crd_schemas import covered_kinds, crd_failures
from gates import custom_resources
from harness import ProgramRun

Manifest = dict[str, Any]

# --------------------------------------------------------------------------- the program, every stack


def test_every_custom_resource_passes_its_crd_schema(run: ProgramRun) -> None:
    assert crd_failures(custom_resources(run)) == []


def test_the_crd_gate_is_handed_the_program_scustom_resources(gke_run: ProgramRun) -> None:
    # Guards against a gate that passes because it was handed nothing.
    kinds = {body["kind"] for body in custom_resources(gke_run)}
    assert {"ClusterIssuer", "ServiceMonitor"} <= kinds


# --------------------------------------------------------------------------- coverage


def test_every_kind_the_platform_uses_or_plans_has_a_schema() -> None:
    assert {
        ("gateway.networking.k8s.io/v1", "Gateway"),
        ("gateway.networking.k8s.io/v1", "GatewayClass"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
        ("networking.gke.io/v1", "GCPBackendPolicy"),
        ("networking.gke.io/v1", "GCPGatewayPolicy"),
        ("networking.gke.io/v1", "HealthCheckPolicy"),
        ("cert-manager.io/v1", "ClusterIssuer"),
        ("cert-manager.io/v1", "Issuer"),
        ("cert-manager.io/v1", "Certificate"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"),
        ("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy"),
        ("gateway.envoyproxy.io/v1alpha1", "ClientTrafficPolicy"),
        ("gateway.envoyproxy.io/v1alpha1", "EnvoyProxy"),
        ("cloud.google.com/v1", "ComputeClass"),
    } <= covered_kinds()


def test_built_in_kinds_are_not_mistaken_forcustom_resources() -> None:
    assert {api_version for api_version, _ in covered_kinds()} & {"v1", "apps/v1", "networking.k8s.io/v1"} == set()


# --------------------------------------------------------------------------- valid manifests of each kind

GATEWAY_NAMESPACE = "platform-gateway"
PARENT_GATEWAY = {
    "group": "gateway.networking.k8s.io",
    "kind": "Gateway",
    "name": "platform",
    "namespace": GATEWAY_NAMESPACE,
}
SERVICE_TARGET = {"group": "", "kind": "Service", "name": "storefront"}


def _object(api_version: str, kind: str, name: str, spec: Manifest, namespace: str | None = "shop") -> Manifest:
    metadata: Manifest = {"name": name, "labels": {"app.kubernetes.io/part-of": "shop"}}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


VALID: dict[str, Manifest] = {
    "ClusterIssuer": _object(
        "cert-manager.io/v1",
        "ClusterIssuer",
        "letsencrypt-production",
        {
            "acme": {
                "server": "https://acme-v02.api.letsencrypt.org/directory",
                "email": "platform-team@example.com",
                "privateKeySecretRef": {"name": "letsencrypt-production-account-key"},
                "solvers": [
                    {"http01": {"gatewayHTTPRoute": {"parentRefs": [{**PARENT_GATEWAY, "sectionName": "http"}]}}},
                    {
                        "selector": {"dnsNames": ["legacy.example.com"]},
                        "http01": {"ingress": {"ingressClassName": "nginx"}},
                    },
                ],
            }
        },
        namespace=None,
    ),
    "Issuer": _object("cert-manager.io/v1", "Issuer", "self-signed", {"selfSigned": {}}),
    "Certificate": _object(
        "cert-manager.io/v1",
        "Certificate",
        "shop-example-com",
        {
            "secretName": "shop-example-com-tls",
            "dnsNames": ["shop.example.com", "api.example.com"],
            "duration": "2160h",
            "renewBefore": "360h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "letsencrypt-production"},
        },
        namespace=GATEWAY_NAMESPACE,
    ),
    "ServiceMonitor": _object(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        "checkout",
        {
            "selector": {
                "matchLabels": {"app.kubernetes.io/name": "checkout", "app.kubernetes.io/instance": "checkout"}
            },
            "namespaceSelector": {"matchNames": ["shop"]},
            "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}],
        },
    ),
    "PodMonitor": _object(
        "monitoring.coreos.com/v1",
        "PodMonitor",
        "order-worker",
        {
            "selector": {
                "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["order-worker"]}]
            },
            "podMetricsEndpoints": [{"port": "metrics", "interval": "30s"}],
        },
    ),
    "PrometheusRule": _object(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        "checkout-slo",
        {
            "groups": [
                {
                    "name": "checkout-slo",
                    "interval": "30s",
                    "rules": [
                        {
                            "record": "service:http_requests:error_ratio_rate5m",
                            "expr": 'sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m])) '
                            '/ sum(rate(http_requests_total{service="checkout"}[5m]))',
                            "labels": {"service": "checkout"},
                        },
                        {
                            "alert": "CheckoutErrorBudgetFastBurn",
                            "expr": 'service:http_requests:error_ratio_rate5m{service="checkout"} > (14.4 * 0.02)',
                            "for": "2m",
                            "labels": {"severity": "page"},
                            "annotations": {"summary": "checkout burns its error budget 14.4 times too fast"},
                        },
                    ],
                }
            ]
        },
    ),
    "AlertmanagerConfig": _object(
        "monitoring.coreos.com/v1alpha1",
        "AlertmanagerConfig",
        "platform-routing",
        {
            "route": {
                "receiver": "ticket",
                "groupBy": ["alertname", "service"],
                "groupWait": "30s",
                "repeatInterval": "4h",
                "matchers": [{"name": "severity", "value": "page|ticket", "matchType": "=~"}],
                "routes": [
                    {"receiver": "pager", "matchers": [{"name": "severity", "value": "page", "matchType": "="}]}
                ],
            },
            "receivers": [
                {
                    "name": "pager",
                    "pagerdutyConfigs": [{"routingKey": {"name": "alert-receivers", "key": "pagerduty"}}],
                },
                {
                    "name": "ticket",
                    "slackConfigs": [
                        {
                            "apiURL": {"name": "alert-receivers", "key": "slack"},
                            "channel": "#shop-alerts",
                            "sendResolved": True,
                        }
                    ],
                },
            ],
        },
        namespace="monitoring",
    ),
    "GatewayClass": _object(
        "gateway.networking.k8s.io/v1",
        "GatewayClass",
        "envoy",
        {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
        namespace=None,
    ),
    "Gateway": _object(
        "gateway.networking.k8s.io/v1",
        "Gateway",
        "platform",
        {
            "gatewayClassName": "gke-l7-global-external-managed",
            "addresses": [{"type": "NamedAddress", "value": "platform-gateway-ip"}],
            "listeners": [
                {
                    "name": "https-shop",
                    "hostname": "shop.example.com",
                    "port": 443,
                    "protocol": "HTTPS",
                    "tls": {
                        "mode": "Terminate",
                        "certificateRefs": [{"kind": "Secret", "name": "shop-example-com-tls"}],
                    },
                    "allowedRoutes": {
                        "namespaces": {
                            "from": "Selector",
                            "selector": {"matchLabels": {"platform.example.com/routes": "allowed"}},
                        },
                        "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                    },
                },
                {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}},
            ],
        },
        namespace=GATEWAY_NAMESPACE,
    ),
    "HTTPRoute": _object(
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        "storefront",
        {
            "parentRefs": [{**PARENT_GATEWAY, "sectionName": "https-shop"}],
            "hostnames": ["shop.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                    "backendRefs": [
                        {"name": "storefront", "port": 8080, "weight": 90},
                        {"name": "storefront-canary", "port": 8080, "weight": 10},
                    ],
                    "timeouts": {"request": "10s"},
                },
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "filters": [
                        {
                            "type": "RequestHeaderModifier",
                            "requestHeaderModifier": {"set": [{"name": "X-Shop", "value": "1"}]},
                        }
                    ],
                    "backendRefs": [{"name": "storefront", "port": 8080}],
                },
            ],
        },
    ),
    "HTTPRoute-redirect": _object(
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        "https-redirect",
        {
            "parentRefs": [{**PARENT_GATEWAY, "sectionName": "http"}],
            "hostnames": ["shop.example.com", "*.example.com"],
            "rules": [
                {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}
            ],
        },
        namespace=GATEWAY_NAMESPACE,
    ),
    "ReferenceGrant": _object(
        "gateway.networking.k8s.io/v1beta1",
        "ReferenceGrant",
        "routes-from-gateway",
        {
            "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": GATEWAY_NAMESPACE}],
            "to": [{"group": "", "kind": "Service"}],
        },
    ),
    "GCPBackendPolicy": _object(
        "networking.gke.io/v1",
        "GCPBackendPolicy",
        "storefront",
        {
            "default": {
                "securityPolicy": "shop-rate-limit",
                "timeoutSec": 30,
                "connectionDraining": {"drainingTimeoutSec": 60},
                "logging": {"enabled": True, "sampleRate": 500000},
            },
            "targetRef": SERVICE_TARGET,
        },
    ),
    "HealthCheckPolicy": _object(
        "networking.gke.io/v1",
        "HealthCheckPolicy",
        "storefront",
        {
            "default": {
                "checkIntervalSec": 10,
                "timeoutSec": 5,
                "healthyThreshold": 1,
                "unhealthyThreshold": 3,
                "config": {
                    "type": "HTTP",
                    "httpHealthCheck": {"portSpecification": "USE_FIXED_PORT", "port": 8080, "requestPath": "/healthz"},
                },
            },
            "targetRef": SERVICE_TARGET,
        },
    ),
    "GCPGatewayPolicy": _object(
        "networking.gke.io/v1",
        "GCPGatewayPolicy",
        "platform",
        {
            "default": {"sslPolicy": "platform-modern-tls"},
            "targetRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "platform"},
        },
        namespace=GATEWAY_NAMESPACE,
    ),
    "BackendTrafficPolicy": _object(
        "gateway.envoyproxy.io/v1alpha1",
        "BackendTrafficPolicy",
        "per-client-rate-limit",
        {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "platform"}],
            "rateLimit": {
                "type": "Local",
                "local": {
                    "rules": [
                        {
                            "clientSelectors": [{"sourceCIDR": {"type": "Distinct", "value": "0.0.0.0/0"}}],
                            "limit": {"requests": 100, "unit": "Second"},
                        }
                    ]
                },
            },
        },
        namespace=GATEWAY_NAMESPACE,
    ),
    "ClientTrafficPolicy": _object(
        "gateway.envoyproxy.io/v1alpha1",
        "ClientTrafficPolicy",
        "client-ip",
        {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "platform"}],
            "clientIPDetection": {"xForwardedFor": {"numTrustedHops": 1}},
        },
        namespace=GATEWAY_NAMESPACE,
    ),
    "EnvoyProxy": _object(
        "gateway.envoyproxy.io/v1alpha1",
        "EnvoyProxy",
        "kind-nodeport",
        {"provider": {"type": "Kubernetes", "kubernetes": {"envoyService": {"type": "NodePort"}}}},
        namespace="envoy-gateway-system",
    ),
}


def _valid(key: str) -> Manifest:
    return copy.deepcopy(VALID[key])


@pytest.fixture(scope="module")
def valid_failures() -> list[str]:
    return crd_failures(list(VALID.values()))


@pytest.mark.parametrize("key", VALID)
def test_a_valid_manifest_passes(key: str, valid_failures: list[str]) -> None:
    label = f"{VALID[key]['kind']}/{VALID[key]['metadata']['name']}:"
    assert [line for line in valid_failures if line.startswith(label)] == []


def test_every_valid_manifest_is_of_a_covered_kind() -> None:
    assert {(body["apiVersion"], body["kind"]) for body in VALID.values()} <= covered_kinds()


# --------------------------------------------------------------------------- mutated manifests fail, naming the field


def _parent(body: Manifest, path: str) -> tuple[Any, Any]:
    """The object or list holding the field at a dotted path ("spec.rules.0.weight"), and the field's key there."""
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, int(last) if isinstance(node, list) else last


def _set(path: str, value: Any) -> Callable[[Manifest], None]:
    def mutate(body: Manifest) -> None:
        node, key = _parent(body, path)
        node[key] = value

    return mutate


def _delete(path: str) -> Callable[[Manifest], None]:
    def mutate(body: Manifest) -> None:
        node, key = _parent(body, path)
        del node[key]

    return mutate


def _rename(path: str, new_key: str) -> Callable[[Manifest], None]:
    def mutate(body: Manifest) -> None:
        node, key = _parent(body, path)
        node[new_key] = node.pop(key)

    return mutate


# (id, valid manifest, mutation, the exact problem lines expected, after "Kind/<id>: ")
MUTATIONS: list[tuple[str, str, Callable[[Manifest], None], list[str]]] = [
    (
        "negative-weight",
        "HTTPRoute",
        _set("spec.rules.0.backendRefs.1.weight", -1),
        ["spec.rules[0].backendRefs[1].weight: must be >= 0"],
    ),
    (
        "weight-over-limit",
        "HTTPRoute",
        _set("spec.rules.0.backendRefs.0.weight", 1000001),
        ["spec.rules[0].backendRefs[0].weight: must be <= 1000000"],
    ),
    (
        "misspelt-backend-field",
        "HTTPRoute",
        _rename("spec.rules.0.backendRefs.0.weight", "wieght"),
        ['spec.rules[0].backendRefs[0].wieght: unknown field "wieght"'],
    ),
    (
        "wrong-path-match-type",
        "HTTPRoute",
        _set("spec.rules.0.matches.0.path.type", "Prefix"),
        [
            'spec.rules[0].matches[0].path.type: must be equal to one of the allowed values: "Exact", "PathPrefix", "RegularExpression"'
        ],
    ),
    (
        "wrong-redirect-status",
        "HTTPRoute-redirect",
        _set("spec.rules.0.filters.0.requestRedirect.statusCode", 200),
        [
            "spec.rules[0].filters[0].requestRedirect.statusCode: must be equal to one of the allowed values: 301, 302, 303, 307, 308"
        ],
    ),
    (
        "listener-without-port",
        "Gateway",
        _delete("spec.listeners.0.port"),
        ['spec.listeners[0].port: required field "port" is missing'],
    ),
    (
        "wrong-allowed-routes-from",
        "Gateway",
        _set("spec.listeners.0.allowedRoutes.namespaces.from", "Everywhere"),
        [
            'spec.listeners[0].allowedRoutes.namespaces.from: must be equal to one of the allowed values: "All", "Selector", "Same"'
        ],
    ),
    (
        "misspelt-listener-field",
        "Gateway",
        _rename("spec.listeners.0.tls.certificateRefs", "certificateRef"),
        ['spec.listeners[0].tls.certificateRef: unknown field "certificateRef"'],
    ),
    (
        "issuer-without-private-key-ref",
        "ClusterIssuer",
        _delete("spec.acme.privateKeySecretRef"),
        ['spec.acme.privateKeySecretRef: required field "privateKeySecretRef" is missing'],
    ),
    (
        "misspelt-solver",
        "ClusterIssuer",
        _rename("spec.acme.solvers.0.http01.gatewayHTTPRoute", "gatewayHttpRoute"),
        ['spec.acme.solvers[0].http01.gatewayHttpRoute: unknown field "gatewayHttpRoute"'],
    ),
    (
        "wrong-key-algorithm",
        "Certificate",
        _set("spec.privateKey.algorithm", "DSA"),
        ['spec.privateKey.algorithm: must be equal to one of the allowed values: "RSA", "ECDSA", "Ed25519"'],
    ),
    (
        "monitor-without-selector",
        "ServiceMonitor",
        _delete("spec.selector"),
        ['spec.selector: required field "selector" is missing'],
    ),
    (
        "misspelt-endpoint-field",
        "ServiceMonitor",
        _rename("spec.endpoints.0.interval", "scrapeInterval"),
        ['spec.endpoints[0].scrapeInterval: unknown field "scrapeInterval"'],
    ),
    (
        "rule-without-expr",
        "PrometheusRule",
        _delete("spec.groups.0.rules.1.expr"),
        ['spec.groups[0].rules[1].expr: required field "expr" is missing'],
    ),
    (
        "bad-duration",
        "PrometheusRule",
        _set("spec.groups.0.rules.1.for", "two minutes"),
        [
            'spec.groups[0].rules[1].for: must match pattern "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"'
        ],
    ),
    (
        "wrong-match-type",
        "AlertmanagerConfig",
        _set("spec.route.matchers.0.matchType", "=="),
        ['spec.route.matchers[0].matchType: must be equal to one of the allowed values: "!=", "=", "=~", "!~"'],
    ),
    (
        "backend-policy-without-target",
        "GCPBackendPolicy",
        _delete("spec.targetRef"),
        ['spec.targetRef: required field "targetRef" is missing'],
    ),
    (
        "misspelt-security-policy",
        "GCPBackendPolicy",
        _rename("spec.default.securityPolicy", "securityPolicyName"),
        ['spec.default.securityPolicyName: unknown field "securityPolicyName"'],
    ),
    (
        "wrong-health-check-type",
        "HealthCheckPolicy",
        _set("spec.default.config.type", "HTTP3"),
        [
            'spec.default.config.type: must be equal to one of the allowed values: "TCP", "HTTP", "HTTPS", "HTTP2", "GRPC"'
        ],
    ),
    (
        "wrong-rate-limit-unit",
        "BackendTrafficPolicy",
        _set("spec.rateLimit.local.rules.0.limit.unit", "Fortnight"),
        [
            'spec.rateLimit.local.rules[0].limit.unit: must be equal to one of the allowed values: "Second", "Minute", "Hour", "Day", "Month", "Year"'
        ],
    ),
]


def _mutated(mutation_id: str, key: str, mutate: Callable[[Manifest], None]) -> Manifest:
    body = _valid(key)
    mutate(body)
    body["metadata"]["name"] = mutation_id
    return body


@pytest.fixture(scope="module")
def mutated_failures() -> list[str]:
    return crd_failures([_mutated(mutation_id, key, mutate) for mutation_id, key, mutate, _ in MUTATIONS])


@pytest.mark.parametrize(
    ("mutation_id", "key", "expected"), [(m[0], m[1], m[3]) for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_a_mutated_manifest_fails_naming_the_field(
    mutation_id: str, key: str, expected: list[str], mutated_failures: list[str]
) -> None:
    label = f"{VALID[key]['kind']}/{mutation_id}: "
    assert [line for line in mutated_failures if line.startswith(label)] == [label + line for line in expected]


# --------------------------------------------------------------------------- strictness has the right limits


def test_unknown_fields_are_found_at_every_depth_and_in_metadata() -> None:
    body = _valid("HTTPRoute")
    body["spec"]["hostname"] = "shop.example.com"
    body["spec"]["rules"][1]["filters"][0]["requestHeaderModifier"]["set"][0]["vaule"] = "2"
    body["metadata"]["label"] = {"a": "b"}
    body["statuss"] = {}
    assert crd_failures([body]) == [
        'HTTPRoute/storefront: metadata.label: unknown field "label"',
        'HTTPRoute/storefront: spec.rules[1].filters[0].requestHeaderModifier.set[0].vaule: unknown field "vaule"',
        'HTTPRoute/storefront: spec.hostname: unknown field "hostname"',
        'HTTPRoute/storefront: statuss: unknown field "statuss"',
    ]


def test_a_missing_and_a_misspelt_field_are_both_reported() -> None:
    body = _valid("GCPBackendPolicy")
    body["spec"]["targetRefs"] = [body["spec"].pop("targetRef")]
    assert crd_failures([body]) == [
        'GCPBackendPolicy/storefront: spec.targetRef: required field "targetRef" is missing',
        'GCPBackendPolicy/storefront: spec.targetRefs: unknown field "targetRefs"',
    ]


def test_map_keys_and_annotations_are_not_unknown_fields() -> None:
    body = _valid("ServiceMonitor")
    body["metadata"]["annotations"] = {"example.com/owner": "shop-team"}
    body["spec"]["selector"]["matchLabels"]["any.example.com/label"] = "x"
    body["spec"]["endpoints"][0]["params"] = {"module": ["http_2xx"]}
    assert crd_failures([body]) == []


def test_what_the_crd_leaves_free_form_is_not_checked() -> None:
    # Child routes are x-kubernetes-preserve-unknown-fields in the AlertmanagerConfig CRD (a schema cannot recurse):
    # the API server accepts anything there, and so does this gate; the operator validates them.
    body = _valid("AlertmanagerConfig")
    body["spec"]["route"]["routes"][0]["matchType"] = "anything"
    assert crd_failures([body]) == []


# --------------------------------------------------------------------------- nothing slips by unvalidated


def test_a_custom_resource_with_no_schema_is_a_failure() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    misspelt = {**_valid("ServiceMonitor"), "kind": "ServiceMonitors"}
    retired = {**_valid("ClusterIssuer"), "apiVersion": "cert-manager.io/v1alpha2"}
    # The packages also export the schemas' parts; a part is no kind.
    part = {**_valid("ServiceMonitor"), "kind": "ServiceMonitorSpec"}
    assert crd_failures([widget, misspelt, retired, part]) == [
        'Widget/w: no CRD schema for apiVersion "example.com/v1" kind "Widget"',
        'ServiceMonitors/checkout: no CRD schema for apiVersion "monitoring.coreos.com/v1" kind "ServiceMonitors"',
        'ClusterIssuer/letsencrypt-production: no CRD schema for apiVersion "cert-manager.io/v1alpha2" kind "ClusterIssuer"',
        'ServiceMonitorSpec/checkout: no CRD schema for apiVersion "monitoring.coreos.com/v1" kind "ServiceMonitorSpec"',
    ]


def test_no_manifests_need_no_validator_run() -> None:
    assert crd_failures([]) == []
