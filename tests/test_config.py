"""The config model: merge rules, defaults, and one test per rejected input.

Every rejection runs the whole program and checks both the exact one-line message (stack, key
path, what is allowed) and that nothing was registered before it stopped.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from harness import FIXTURE_DIR, assert_rejected, rejected, stack_config

from components.config import ConfigError, parse


def _service(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in config["platform:services"] if s["name"] == name)


def _production() -> dict[str, Any]:
    return copy.deepcopy(stack_config("production"))


# --------------------------------------------------------------------------- the six


def test_wrong_type_is_rejected() -> None:
    config = _production()
    _service(config, "checkout")["autoscaling"]["cpuUtilization"] = "high"
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[checkout].autoscaling.cpuUtilization: input should be a valid integer, "
        'unable to parse string as an integer (got "high")',
    )


def test_unknown_key_is_rejected_with_the_allowed_keys() -> None:
    config = _production()
    _service(config, "storefront")["autoscaling"]["maxReplica"] = 4
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[storefront].autoscaling.maxReplica: unknown key; "
        "did you mean 'maxReplicas'? allowed: behavior, cpuUtilization, maxReplicas, memoryUtilization, "
        "minReplicas, podsMetrics",
    )


def test_misspelt_top_level_key_is_rejected() -> None:
    config = _production()
    config["platform:nodepools"] = config.pop("platform:nodePools")
    message, registered = rejected("production", config)
    assert message.startswith(
        "stack 'production': platform:nodepools: unknown key; did you mean 'nodePools'? allowed: environment, app, domain"
    )
    assert registered == 0


def test_hpa_min_above_max_is_rejected() -> None:
    config = _production()
    config["platform:services"][2]["autoscaling"].update(minReplicas=5, maxReplicas=3)
    config["platform:overrides"]["services"]["order-worker"]["autoscaling"] = {"minReplicas": 5, "maxReplicas": 3}
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:overrides.services.order-worker.autoscaling.maxReplicas: 3 is below minReplicas (5); "
        "maxReplicas must be >= minReplicas",
    )


def test_cpu_limit_below_request_is_rejected() -> None:
    config = _production()
    _service(config, "checkout")["resources"]["limits"]["cpu"] = "200m"
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[checkout].resources.limits.cpu: 200m is below the request (250m); "
        "limits must be >= requests",
    )


def test_latest_image_is_rejected() -> None:
    config = _production()
    _service(config, "storefront")["image"] = "europe-docker.pkg.dev/acme-shop/apps/storefront:latest"
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[storefront].image: 'europe-docker.pkg.dev/acme-shop/apps/storefront:latest' "
        "uses the 'latest' tag; pin a version tag or a sha256 digest",
    )


def test_untagged_image_is_rejected_because_it_means_latest() -> None:
    config = _production()
    _service(config, "storefront")["image"] = "nginx"
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[storefront].image: 'nginx' has no tag, which means 'latest'; "
        "pin a version tag or a sha256 digest",
    )


def test_non_dns_1123_service_name_is_rejected() -> None:
    config = _production()
    config["platform:services"].append({**_service(config, "order-worker"), "name": "Order_Worker"})
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[Order_Worker].name: 'Order_Worker' is not a DNS-1123 label: use at most 63 "
        "lowercase letters, digits and '-', starting and ending with a letter or digit",
    )


# --------------------------------------------------------------------------- environment guarantees


def test_production_routed_service_needs_three_replicas() -> None:
    config = _production()
    config["platform:overrides"]["services"]["storefront"]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 12}
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:overrides.services.storefront.autoscaling.minReplicas: user-facing services need at least "
        "3 replicas in production, got 2",
    )


def test_production_must_create_its_cluster() -> None:
    config = _production()
    config["platform:cluster"]["mode"] = "existing"
    message, registered = rejected("production", config)
    assert "platform:cluster.mode: production must create its GKE cluster: set mode to 'gke'" in message
    assert registered == 0


def test_several_problems_are_reported_one_per_line() -> None:
    config = _production()
    _service(config, "storefront")["image"] = "nginx:latest"
    _service(config, "checkout")["resources"]["requests"]["memory"] = "256mb"
    message, registered = rejected("production", config)
    assert message.splitlines() == [
        "stack 'production': platform:services[storefront].image: 'nginx:latest' uses the 'latest' tag; "
        "pin a version tag or a sha256 digest",
        "stack 'production': platform:services[checkout].resources.requests.memory: '256mb' is not a memory quantity: "
        "use a number with a suffix Ki, Mi, Gi, Ti (or k, M, G, T), e.g. '512Mi'",
    ]
    assert registered == 0


def test_invalid_structured_json_is_a_config_error_not_a_traceback() -> None:
    with pytest.raises(ConfigError) as error:
        parse("staging", {"services": "[{not json"})
    assert str(error.value).startswith("stack 'staging': platform:services: is not valid structured config:")


# --------------------------------------------------------------------------- merge rules


def test_overrides_deep_merge_into_the_named_item_only() -> None:
    config = parse("production", _encoded(stack_config("production")), "acme-shop-prod")
    storefront = config.service("storefront")
    checkout = config.service("checkout")
    assert storefront is not None and checkout is not None
    # From the production overlay:
    assert (storefront.autoscaling.min_replicas, storefront.autoscaling.max_replicas) == (3, 12)  # type: ignore[union-attr]
    # Keys the overlay did not name keep their base values:
    assert storefront.autoscaling.cpu_utilization == 70  # type: ignore[union-attr]
    assert storefront.autoscaling.memory_utilization == 80  # type: ignore[union-attr]
    assert checkout.autoscaling.pods_metrics[0].name == "http_requests_per_second"  # type: ignore[union-attr]


def test_overrides_replace_lists_whole_and_merge_mappings() -> None:
    raw = _encoded(stack_config("staging"))
    overrides = json.loads(raw["overrides"])
    overrides["services"]["checkout"]["routes"] = [{"host": "pay.${domain}", "path": "/"}]
    raw["overrides"] = json.dumps(overrides)
    config = parse("staging", raw, "acme-shop-staging")
    checkout = config.service("checkout")
    assert checkout is not None
    assert [(r.host, r.path) for r in checkout.routes] == [("pay.staging.shop.example.com", "/")]
    app_config = config.config_map("app-config")
    assert app_config is not None
    # The mapping merged: LOG_LEVEL changed, REDIS_URL kept.
    assert app_config.data["LOG_LEVEL"] == "info"
    assert app_config.data["REDIS_URL"].startswith("redis://")


def test_enabled_false_removes_an_item_from_one_stack() -> None:
    raw = _encoded(stack_config("staging"))
    overrides = json.loads(raw["overrides"])
    overrides["services"]["order-worker"]["enabled"] = False
    raw["overrides"] = json.dumps(overrides)
    config = parse("staging", raw, "acme-shop-staging")
    assert [s.name for s in config.services] == ["storefront", "checkout"]


def test_placeholders_are_substituted_after_merging() -> None:
    config = parse("production", _encoded(stack_config("production")), "acme-shop-prod")
    storefront = config.service("storefront")
    assert storefront is not None
    assert storefront.routes[0].host == "www.shop.example.com"
    app_config = config.config_map("app-config")
    assert app_config is not None and app_config.data["ENVIRONMENT"] == "production"


def test_an_override_naming_no_item_is_rejected() -> None:
    config = _production()
    config["platform:overrides"]["services"]["store-front"] = {"replicas": 3}
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:overrides.services.store-front: no item named 'store-front' in "
        "platform:services; known: storefront, checkout, order-worker",
    )


def test_an_override_of_an_unknown_catalog_is_rejected() -> None:
    config = _production()
    config["platform:overrides"]["service"] = {}
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:overrides.service: unknown catalog 'service'; allowed: services, "
        "namespaces, secrets, configMaps, dataServices",
    )


# --------------------------------------------------------------------------- the fixture's project file


def test_dev_needs_no_stack_file() -> None:
    assert not Path(FIXTURE_DIR / "Pulumi.dev.yaml").exists()
    config = parse("dev", _encoded(stack_config("dev")))
    assert config.environment == "dev"
    assert config.cluster.mode == "existing"


def _encoded(values: dict[str, Any]) -> dict[str, Any]:
    prefix = "platform:"
    return {
        key[len(prefix) :]: value if isinstance(value, str) else json.dumps(value)
        for key, value in values.items()
        if key.startswith(prefix)
    }


# --------------------------------------------------------------------------- any shape, never a traceback
# Found by mutating the production config at random: overrides and supplied-secret discovery run on
# config that is not validated yet, and once crashed on unexpected shapes.


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "services",
            {"storefront": {}},
            "stack 'production': platform:services: input should be a valid list (got dict)",
        ),
        (
            "services",
            [{"name": {"nested": True}}],
            "stack 'production': platform:services[0].name: input should be a valid string (got dict)",
        ),
        (
            "secrets",
            [{"name": "database-credentials", "namespaces": ["shop"], "keys": "password"}],
            "stack 'production': platform:secrets[database-credentials].keys: input should be a valid dictionary (got \"password\")",
        ),
    ],
)
def test_malformed_shapes_are_config_errors(key: str, value: Any, expected: str) -> None:
    config = _production()
    config[f"platform:{key}"] = value
    if isinstance(value, list):
        # The catalog is still a list, so its overrides would apply (and be reported) first.
        config["platform:overrides"].pop(key, None)
    message, registered = rejected("production", config)
    assert message.splitlines()[0] == expected
    assert registered == 0


# --------------------------------------------------------------------------- errors name the item, not an index
# A fixture catalog of these tests' own (not the sample shop), so editing Pulumi.yaml never changes them.


def _fixture() -> dict[str, Any]:
    service = {
        "namespace": "team",
        "image": "ghcr.io/stefanprodan/podinfo:6.7.1",
        "ports": [{"name": "http", "containerPort": 9898}, {"name": "grpc", "containerPort": 9999}],
        "probes": {
            "liveness": {"httpGet": {"path": "/healthz", "port": "http"}},
            "readiness": {"httpGet": {"path": "/readyz", "port": "http"}},
        },
        "autoscaling": {"minReplicas": 2, "maxReplicas": 4, "cpuUtilization": 70},
    }
    return {
        "platform:environment": "dev",
        "platform:namespaces": [{"name": "team"}, {"name": "team-data"}],
        "platform:services": [{**copy.deepcopy(service), "name": name} for name in ("web", "api", "worker")],
        "platform:overrides": {},
    }


def _fixture_service(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in config["platform:services"] if s["name"] == name)


def test_a_shape_error_names_the_item_wherever_it_sits_in_the_list() -> None:
    config = _fixture()
    _fixture_service(config, "api")["autoscaling"]["cpuUtilization"] = "high"
    expected = (
        "stack 'dev': platform:services[api].autoscaling.cpuUtilization: input should be a valid integer, "
        'unable to parse string as an integer (got "high")'
    )
    assert_rejected("dev", config, expected)
    # Moving the item leaves the message unchanged: the path follows the name, not the position.
    config["platform:services"].reverse()
    assert_rejected("dev", config, expected)


def test_a_nested_named_list_is_named_too() -> None:
    config = _fixture()
    _fixture_service(config, "worker")["ports"][1]["containerPort"] = 70000
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:services[worker].ports[grpc].containerPort: input should be less than or equal to "
        "65535 (got 70000)",
    )


def test_a_semantic_error_names_the_item() -> None:
    config = _fixture()
    # Egress may name namespaces the platform does not manage (issue #13); a caller must be a declared service.
    _fixture_service(config, "api")["allowFrom"] = ["web", "payments"]
    assert_rejected(
        "dev",
        config,
        # A list of plain strings has no names: its position stays.
        "stack 'dev': platform:services[api].allowFrom[1]: 'payments' is not a declared service; "
        "declared: api, web, worker",
    )


def test_a_name_declared_twice_is_reported_by_index_as_it_is_ambiguous() -> None:
    config = _fixture()
    config["platform:services"].append(copy.deepcopy(_fixture_service(config, "api")))
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:services[3].name: 'api' is declared twice; names must be unique",
    )


def test_an_error_in_an_overridden_value_names_the_stack_file_key() -> None:
    config = _fixture()
    config["platform:overrides"] = {"services": {"api": {"autoscaling": {"maxReplicas": 1}}}}
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:overrides.services.api.autoscaling.maxReplicas: 1 is below minReplicas (2); "
        "maxReplicas must be >= minReplicas",
    )


def test_a_value_an_override_replaced_whole_is_reported_below_its_key() -> None:
    config = _fixture()
    config["platform:overrides"] = {"services": {"web": {"ports": [{"name": "http", "containerPort": 0}]}}}
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:overrides.services.web.ports[http].containerPort: input should be greater than "
        "or equal to 1 (got 0)",
    )


def test_a_value_the_override_did_not_set_keeps_its_catalog_path() -> None:
    config = _fixture()
    # The override touches `api`, but the bad value is the catalog's own.
    config["platform:overrides"] = {"services": {"api": {"autoscaling": {"maxReplicas": 6}}}}
    _fixture_service(config, "api")["autoscaling"]["cpuUtilization"] = 0
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:services[api].autoscaling.cpuUtilization: input should be greater than or equal "
        "to 1 (got 0)",
    )


def test_an_unknown_key_suggests_the_closest_allowed_key() -> None:
    config = _fixture()
    _fixture_service(config, "web")["autoscaling"]["minReplica"] = 3
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:services[web].autoscaling.minReplica: unknown key; did you mean 'minReplicas'? "
        "allowed: behavior, cpuUtilization, maxReplicas, memoryUtilization, minReplicas, podsMetrics",
    )


def test_an_unknown_key_close_to_nothing_suggests_nothing() -> None:
    config = _fixture()
    _fixture_service(config, "web")["autoscaling"]["zzz"] = 3
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:services[web].autoscaling.zzz: unknown key; allowed: behavior, cpuUtilization, "
        "maxReplicas, memoryUtilization, minReplicas, podsMetrics",
    )


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public", "kube-node-lease", "gke-managed-system"])
def test_declaring_a_system_namespace_is_refused(name: str) -> None:
    config = _fixture()
    config["platform:namespaces"].append({"name": name})
    assert_rejected(
        "dev",
        config,
        f"stack 'dev': platform:namespaces[{name}].name: '{name}' is a system namespace, managed by Kubernetes or "
        "GKE (default, kube-system, kube-public, kube-node-lease, gke-*); declare a namespace of your own",
    )


def test_a_namespace_merely_resembling_a_system_one_is_allowed() -> None:
    config = _fixture()
    config["platform:namespaces"][1]["name"] = "kube-systems"
    config["platform:services"][2]["namespace"] = "kube-systems"
    parsed = parse("dev", _encoded(config))
    assert [ns.name for ns in parsed.namespaces] == ["team", "kube-systems"]
