"""The reachability evaluator on hand-made policy sets: each classic NetworkPolicy case, allowed and denied."""

from __future__ import annotations

from typing import Any

import pytest

from components.planning.reachability import Endpoint, Evaluator, PortSpec, endpoints_from_manifests, selector_matches

Manifest = dict[str, Any]


def namespace(name: str, **labels: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def deployment(ns: str, name: str, labels: dict[str, str], ports: list[dict[str, Any]] | None = None) -> Manifest:
    container = {"name": "main", "image": "example", "ports": ports or [{"containerPort": 8080, "name": "http"}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}},
    }


def policy(ns: str, name: str, **spec: Any) -> Manifest:
    spec.setdefault("podSelector", {})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def from_pods(**labels: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": labels}}


DENY_INGRESS = {"policyTypes": ["Ingress"]}
DENY_ALL = {"policyTypes": ["Ingress", "Egress"]}


def three_pods() -> list[Manifest]:
    """Namespace `shop` with pods a, b and c, all on 8080 ("http")."""
    return [namespace("shop"), *(deployment("shop", name, {"app": name}) for name in ("a", "b", "c"))]


def test_a_pod_in_a_namespace_without_policies_is_open() -> None:
    manifests = [*three_pods(), namespace("locked"), deployment("locked", "d", {"app": "d"})]
    manifests.append(policy("locked", "deny", **DENY_ALL))
    evaluator = Evaluator(manifests)
    assert evaluator.allowed("locked/d", "shop/a", 8080) is False  # d's own egress is denied
    assert evaluator.allowed("shop/b", "shop/a", 8080) is True
    assert evaluator.allowed("shop/a", "shop/a", 8080) is True
    assert evaluator.matrix(sources=["shop/a", "shop/b"], destinations=["shop/a", "shop/c"]) == {
        (src, dst, 8080) for src in ("shop/a", "shop/b") for dst in ("shop/a", "shop/c")
    }
    assert evaluator.allowed("shop/a", "locked/d", 8080) is False  # the policy in `locked` does not reach `shop`


def test_policies_are_additive() -> None:
    manifests = [
        *three_pods(),
        policy(
            "shop", "a-from-b", podSelector=from_pods(app="a")["podSelector"], ingress=[{"from": [from_pods(app="b")]}]
        ),
        policy(
            "shop", "a-from-c", podSelector=from_pods(app="a")["podSelector"], ingress=[{"from": [from_pods(app="c")]}]
        ),
    ]
    evaluator = Evaluator(manifests)
    assert evaluator.allowed("shop/b", "shop/a", 8080) is True
    assert evaluator.allowed("shop/c", "shop/a", 8080) is True
    assert evaluator.allowed("shop/a", "shop/a", 8080) is False  # isolated, and neither policy admits a itself
    assert evaluator.matrix(destinations=["shop/a"]) == {("shop/b", "shop/a", 8080), ("shop/c", "shop/a", 8080)}


def test_the_empty_pod_selector_selects_every_pod_in_the_namespace() -> None:
    manifests = [*three_pods(), policy("shop", "from-a", ingress=[{"from": [from_pods(app="a")]}])]
    evaluator = Evaluator(manifests)
    assert evaluator.matrix() == {("shop/a", dst, 8080) for dst in ("shop/a", "shop/b", "shop/c")}
    # And as a peer, an empty podSelector means every pod of the policy's namespace, not of other namespaces.
    manifests = [
        *three_pods(),
        namespace("other"),
        deployment("other", "x", {"app": "x"}),
        policy("shop", "same-namespace", ingress=[{"from": [{"podSelector": {}}]}]),
    ]
    evaluator = Evaluator(manifests)
    assert evaluator.allowed("shop/c", "shop/a", 8080) is True
    assert evaluator.allowed("other/x", "shop/a", 8080) is False


def _peer_cases(peers: list[dict[str, Any]]) -> Evaluator:
    """Server in `server` (team=server); callers: x/client, x/other (namespace team=x) and server/client."""
    return Evaluator(
        [
            namespace("server", team="server"),
            namespace("x", team="x"),
            deployment("server", "api", {"app": "api"}),
            deployment("server", "client", {"app": "client"}),
            deployment("x", "client", {"app": "client"}),
            deployment("x", "other", {"app": "other"}),
            policy("server", "api", podSelector={"matchLabels": {"app": "api"}}, ingress=[{"from": peers}]),
        ]
    )


def test_namespace_and_pod_selector_in_one_peer_mean_and() -> None:
    evaluator = _peer_cases([{"namespaceSelector": {"matchLabels": {"team": "x"}}, **from_pods(app="client")}])
    assert evaluator.allowed("x/client", "server/api", 8080) is True
    assert evaluator.allowed("x/other", "server/api", 8080) is False  # right namespace, wrong labels
    assert evaluator.allowed("server/client", "server/api", 8080) is False  # right labels, wrong namespace


def test_namespace_and_pod_selector_in_two_peers_mean_or() -> None:
    evaluator = _peer_cases([{"namespaceSelector": {"matchLabels": {"team": "x"}}}, from_pods(app="client")])
    assert evaluator.allowed("x/client", "server/api", 8080) is True
    assert evaluator.allowed("x/other", "server/api", 8080) is True  # any pod of a team=x namespace
    assert evaluator.allowed("server/client", "server/api", 8080) is True  # app=client in the policy's namespace
    evaluator_outside = _peer_cases([from_pods(app="client")])
    assert evaluator_outside.allowed("x/client", "server/api", 8080) is False  # podSelector alone: own namespace


def test_the_namespace_name_label_is_added_like_the_api_server_does() -> None:
    evaluator = _peer_cases([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "x"}}}])
    assert evaluator.allowed("x/other", "server/api", 8080) is True
    assert evaluator.allowed("server/client", "server/api", 8080) is False


def test_match_expressions() -> None:
    labels = {"tier": "web", "env": "prod"}
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["db"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, labels)
    both = {"matchLabels": {"tier": "web"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]}
    assert not selector_matches(both, labels)  # matchLabels and matchExpressions must all hold
    with pytest.raises(ValueError, match="operator must be one of"):
        selector_matches({"matchExpressions": [{"key": "env", "operator": "Equals"}]}, labels)
    # In a policy: every namespace except `x`, pods that carry an `app` label.
    evaluator = _peer_cases(
        [
            {
                "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["x"]}]},
                "podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
            }
        ]
    )
    assert evaluator.allowed("server/client", "server/api", 8080) is True
    assert evaluator.allowed("x/client", "server/api", 8080) is False


def test_named_ports_resolve_against_each_destination() -> None:
    manifests = [
        namespace("shop"),
        deployment("shop", "client", {"app": "client"}, [{"containerPort": 7000, "name": "grpc"}]),
        deployment(
            "shop",
            "a",
            {"app": "a"},
            [{"containerPort": 8080, "name": "http"}, {"containerPort": 9100, "name": "metrics"}],
        ),
        deployment(
            "shop",
            "b",
            {"app": "b"},
            [{"containerPort": 8080, "name": "legacy"}, {"containerPort": 9090, "name": "http"}],
        ),
        deployment("shop", "c", {"app": "c"}, [{"containerPort": 9100, "name": "debug"}]),
        policy("shop", "http-only", ingress=[{"ports": [{"port": "http"}]}]),
    ]
    evaluator = Evaluator(manifests)
    assert evaluator.matrix(sources=["shop/client"]) == {
        ("shop/client", "shop/a", 8080),
        ("shop/client", "shop/b", 9090),
    }
    assert evaluator.allowed("shop/client", "shop/b", 8080) is False  # b's 8080 is not called "http"
    assert evaluator.allowed("shop/client", "shop/c", 9100) is False  # c has no "http" port at all


def test_named_ports_in_egress_rules_resolve_against_the_destination() -> None:
    manifests = [
        namespace("shop"),
        deployment("shop", "client", {"app": "client"}, [{"containerPort": 7000, "name": "grpc"}]),
        deployment("shop", "a", {"app": "a"}, [{"containerPort": 8080, "name": "http"}]),
        deployment(
            "shop",
            "b",
            {"app": "b"},
            [{"containerPort": 8080, "name": "legacy"}, {"containerPort": 9090, "name": "http"}],
        ),
        policy(
            "shop",
            "client-egress",
            podSelector={"matchLabels": {"app": "client"}},
            policyTypes=["Egress"],
            egress=[{"ports": [{"port": "http"}]}],
        ),
    ]
    evaluator = Evaluator(manifests)
    assert evaluator.matrix(sources=["shop/client"]) == {
        ("shop/client", "shop/a", 8080),
        ("shop/client", "shop/b", 9090),
    }


def test_port_ranges_and_the_tcp_default() -> None:
    ports = [{"containerPort": p} for p in (7999, 8000, 8005, 8006)] + [{"containerPort": 8000, "protocol": "UDP"}]
    manifests = [
        *three_pods(),
        deployment("shop", "range", {"app": "range"}, ports),
        policy("shop", "range", ingress=[{"ports": [{"port": 8000, "endPort": 8005}]}]),
    ]
    evaluator = Evaluator(manifests)
    assert {port for _, dst, port in evaluator.matrix(sources=["shop/a"]) if dst == "shop/range"} == {8000, 8005}
    assert evaluator.allowed("shop/a", "shop/range", 8000, "UDP") is False  # no protocol means TCP


def test_policy_types_inferred_when_omitted() -> None:
    egress_only = policy(
        "shop", "a-egress", podSelector={"matchLabels": {"app": "a"}}, egress=[{"to": [from_pods(app="b")]}]
    )
    evaluator = Evaluator([*three_pods(), egress_only])
    assert evaluator.allowed("shop/a", "shop/b", 8080) is True
    assert evaluator.allowed("shop/a", "shop/c", 8080) is False  # an egress section makes it egress-isolating
    assert evaluator.allowed("shop/b", "shop/a", 8080) is False  # and Ingress is always inferred: no ingress rules
    neither = policy("shop", "a-bare", podSelector={"matchLabels": {"app": "a"}})
    evaluator = Evaluator([*three_pods(), neither])
    assert evaluator.allowed("shop/b", "shop/a", 8080) is False  # ingress-isolated
    assert evaluator.allowed("shop/a", "shop/c", 8080) is True  # egress untouched
    empty_egress = policy("shop", "a-empty", podSelector={"matchLabels": {"app": "a"}}, egress=[])
    assert (
        Evaluator([*three_pods(), empty_egress]).allowed("shop/a", "shop/c", 8080) is True
    )  # `egress: []` infers nothing
    explicit = policy(
        "shop", "a-explicit", podSelector={"matchLabels": {"app": "a"}}, policyTypes=["Egress"], egress=[]
    )
    evaluator = Evaluator([*three_pods(), explicit])
    assert evaluator.allowed("shop/a", "shop/c", 8080) is False  # explicit policyTypes: deny all egress
    assert evaluator.allowed("shop/b", "shop/a", 8080) is True  # and ingress not isolated


def test_ingress_with_one_empty_rule_allows_all_and_an_empty_list_allows_none() -> None:
    internet = Endpoint("internet", ip="8.8.8.8")
    allow_all = Evaluator([*three_pods(), policy("shop", "all", policyTypes=["Ingress"], ingress=[{}])], [internet])
    assert allow_all.allowed("shop/b", "shop/a", 8080) is True
    assert allow_all.allowed("internet", "shop/a", 8080) is True
    allow_none = Evaluator([*three_pods(), policy("shop", "none", policyTypes=["Ingress"], ingress=[])], [internet])
    assert allow_none.matrix() == set()


def test_ip_block_with_except_for_external_sources() -> None:
    frontends = Endpoint("gke-frontends", ip="35.191.0.1")
    excluded = Endpoint("excluded", ip="35.191.9.9")
    internet = Endpoint("internet", ip="8.8.8.8")
    block = {"ipBlock": {"cidr": "35.191.0.0/16", "except": ["35.191.9.0/24"]}}
    manifests = [
        *three_pods(),
        policy(
            "shop",
            "frontends",
            ingress=[{"from": [block, {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["8.0.0.0/8"]}}]}],
        ),
    ]
    evaluator = Evaluator(manifests, [frontends, excluded, internet])
    assert evaluator.allowed("gke-frontends", "shop/a", 8080) is True
    assert evaluator.allowed("excluded", "shop/a", 8080) is True  # excepted from one block, inside the other
    assert evaluator.allowed("internet", "shop/a", 8080) is False
    assert evaluator.allowed("shop/b", "shop/a", 8080) is False  # ipBlock 0.0.0.0/0 does not match pods
    only_block = Evaluator(
        [*three_pods(), policy("shop", "frontends", ingress=[{"from": [block]}])], [frontends, excluded]
    )
    assert only_block.allowed("excluded", "shop/a", 8080) is False


def test_egress_isolation_blocks_what_ingress_allows() -> None:
    internet = Endpoint("internet", ip="8.8.8.8", ports=(PortSpec(443),))
    manifests = [
        *three_pods(),
        policy("shop", "b-open", podSelector={"matchLabels": {"app": "b"}}, ingress=[{}]),
        policy("shop", "a-no-egress", podSelector={"matchLabels": {"app": "a"}}, policyTypes=["Egress"]),
    ]
    evaluator = Evaluator(manifests, [internet])
    assert evaluator.allowed("shop/c", "shop/b", 8080) is True
    assert evaluator.allowed("shop/a", "shop/b", 8080) is False
    assert evaluator.allowed("shop/a", "internet", 443) is False
    assert evaluator.allowed("shop/c", "internet", 443) is True  # to an external endpoint: only the source's egress
    assert evaluator.allowed("internet", "shop/a", 8080) is True  # a is not ingress-isolated
    assert ("shop/c", "internet", 443) in evaluator.matrix()


def test_default_deny_with_dns_allowed() -> None:
    dns_ports = [
        {"containerPort": 53, "name": "dns", "protocol": "UDP"},
        {"containerPort": 53, "name": "dns-tcp"},
        {"containerPort": 9153, "name": "metrics"},
    ]
    to_dns = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                **from_pods(k8s_app="kube-dns"),
            }
        ],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
    }
    manifests = [
        *three_pods(),
        namespace("kube-system"),
        deployment("kube-system", "kube-dns", {"k8s_app": "kube-dns"}, dns_ports),
        deployment("kube-system", "other", {"k8s_app": "other"}, [{"containerPort": 53, "protocol": "UDP"}]),
        policy("shop", "default-deny", **DENY_ALL),
        policy("shop", "dns", policyTypes=["Egress"], egress=[to_dns]),
    ]
    evaluator = Evaluator(manifests)
    assert evaluator.allowed("shop/a", "kube-system/kube-dns", 53, "UDP") is True
    assert evaluator.allowed("shop/a", "kube-system/kube-dns", 53, "TCP") is True
    assert evaluator.allowed("shop/a", "kube-system/kube-dns", 9153) is False
    assert evaluator.allowed("shop/a", "kube-system/other", 53, "UDP") is False
    assert evaluator.allowed("shop/a", "shop/b", 8080) is False
    assert evaluator.matrix(sources=["shop/a", "shop/b", "shop/c"]) == {
        (src, "kube-system/kube-dns", 53) for src in ("shop/a", "shop/b", "shop/c")
    }


def test_extra_pod_like_endpoints_are_selected_by_labels() -> None:
    proxy = Endpoint("gateway/proxy", namespace="gateway", labels={"gateway": "edge"})
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}},
        **from_pods(gateway="edge"),
    }
    manifests = [*three_pods(), policy("shop", "from-edge", ingress=[{"from": [peer], "ports": [{"port": 8080}]}])]
    evaluator = Evaluator(manifests, [proxy])
    assert evaluator.matrix(sources=["gateway/proxy"]) == {
        ("gateway/proxy", dst, 8080) for dst in ("shop/a", "shop/b", "shop/c")
    }
    assert evaluator.allowed("shop/a", "shop/b", 8080) is False


def test_endpoints_from_manifests_reads_every_workload_kind() -> None:
    template = {
        "metadata": {"labels": {"app": "w"}},
        "spec": {"containers": [{"ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"}]}]},
    }
    manifests = [
        {"kind": kind, "metadata": {"name": "w", "namespace": kind.lower()}, "spec": {"template": template}}
        for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job")
    ]
    manifests.append(
        {
            "kind": "CronJob",
            "metadata": {"name": "w", "namespace": "cron"},
            "spec": {"jobTemplate": {"spec": {"template": template}}},
        }
    )
    manifests.append({"kind": "Service", "metadata": {"name": "w", "namespace": "svc"}, "spec": {}})
    endpoints = endpoints_from_manifests(manifests)
    assert [e.name for e in endpoints] == ["deployment/w", "statefulset/w", "daemonset/w", "job/w", "cron/w"]
    assert all(e.labels == {"app": "w"} and e.ports == (PortSpec(53, "UDP", "dns"),) for e in endpoints)


def test_bad_endpoints_are_rejected() -> None:
    with pytest.raises(ValueError, match="exactly one of namespace"):
        Endpoint("both", namespace="shop", ip="10.0.0.1")
    with pytest.raises(ValueError, match="exactly one of namespace"):
        Endpoint("neither")
    with pytest.raises(ValueError, match="used twice"):
        Evaluator(three_pods(), [Endpoint("shop/a", namespace="shop")])
    with pytest.raises(ValueError, match="two external endpoints"):
        Evaluator([], [Endpoint("x", ip="1.1.1.1"), Endpoint("y", ip="1.1.1.2")]).allowed("x", "y", 443)
