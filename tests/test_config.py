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
import yaml
from harness import ROOT_DIR, assert_rejected, rejected, stack_config

from components.config import ConfigError, parse
from components.config.loader import TOP_LEVEL_KEYS


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
        "stack 'production': platform:services[1].autoscaling.cpuUtilization: input should be a valid integer, "
        'unable to parse string as an integer (got "high")',
    )


def test_unknown_key_is_rejected_with_the_allowed_keys() -> None:
    config = _production()
    _service(config, "storefront")["autoscaling"]["maxReplica"] = 4
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[0].autoscaling.maxReplica: unknown key; allowed: behavior, "
        "cpuUtilization, maxReplicas, memoryUtilization, minReplicas, podsMetrics",
    )


def test_misspelt_top_level_key_is_rejected() -> None:
    config = _production()
    config["platform:nodepools"] = config.pop("platform:nodePools")
    message, registered = rejected("production", config)
    assert message.startswith("stack 'production': platform:nodepools: unknown key; allowed: environment, app, domain")
    assert registered == 0


def test_hpa_min_above_max_is_rejected() -> None:
    config = _production()
    config["platform:services"][2]["autoscaling"].update(minReplicas=5, maxReplicas=3)
    config["platform:overrides"]["services"]["order-worker"]["autoscaling"] = {"minReplicas": 5, "maxReplicas": 3}
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[2].autoscaling.maxReplicas: 3 is below minReplicas (5); "
        "maxReplicas must be >= minReplicas",
    )


def test_cpu_limit_below_request_is_rejected() -> None:
    config = _production()
    _service(config, "checkout")["resources"]["limits"]["cpu"] = "200m"
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[1].resources.limits.cpu: 200m is below the request (250m); "
        "limits must be >= requests",
    )


def test_latest_image_is_rejected() -> None:
    config = _production()
    _service(config, "storefront")["image"] = "europe-docker.pkg.dev/acme-shop/apps/storefront:latest"
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[0].image: 'europe-docker.pkg.dev/acme-shop/apps/storefront:latest' "
        "uses the 'latest' tag; pin a version tag or a sha256 digest",
    )


def test_untagged_image_is_rejected_because_it_means_latest() -> None:
    config = _production()
    _service(config, "storefront")["image"] = "nginx"
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[0].image: 'nginx' has no tag, which means 'latest'; "
        "pin a version tag or a sha256 digest",
    )


def test_non_dns_1123_service_name_is_rejected() -> None:
    config = _production()
    config["platform:services"].append({**_service(config, "order-worker"), "name": "Order_Worker"})
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[3].name: 'Order_Worker' is not a DNS-1123 label: use at most 63 "
        "lowercase letters, digits and '-', starting and ending with a letter or digit",
    )


# --------------------------------------------------------------------------- environment guarantees


def test_production_routed_service_needs_three_replicas() -> None:
    config = _production()
    config["platform:overrides"]["services"]["storefront"]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 12}
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[0].autoscaling.minReplicas: user-facing services need at least "
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
        "stack 'production': platform:services[0].image: 'nginx:latest' uses the 'latest' tag; "
        "pin a version tag or a sha256 digest",
        "stack 'production': platform:services[1].resources.requests.memory: '256mb' is not a memory quantity: "
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
        "namespaces, secrets, configMaps",
    )


# --------------------------------------------------------------------------- the project file


def test_pulumi_yaml_declares_every_key_the_program_reads() -> None:
    document = yaml.safe_load((ROOT_DIR / "Pulumi.yaml").read_text())
    declared = document["config"]
    assert set(TOP_LEVEL_KEYS) <= set(declared)
    for key in TOP_LEVEL_KEYS:
        declaration = declared[key]
        assert declaration.get("description"), f"{key} has no description"
        # Pulumi's project schema: a scalar has a type; a structured value is a `value`.
        assert "type" in declaration or "value" in declaration, key


def test_pulumi_yaml_runs_python_from_its_virtualenv() -> None:
    document = yaml.safe_load((ROOT_DIR / "Pulumi.yaml").read_text())
    assert document["name"] == "platform"
    assert document["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_stack_files_hold_only_platform_and_provider_keys(stack: str) -> None:
    document = yaml.safe_load((ROOT_DIR / f"Pulumi.{stack}.yaml").read_text())
    keys = set(document["config"])
    platform_keys = {k.split(":", 1)[1] for k in keys if k.startswith("platform:")}
    assert platform_keys <= set(TOP_LEVEL_KEYS)
    # The catalogs are shared: stack files change them only through overrides.
    assert not platform_keys & {"services", "namespaces", "secrets", "configMaps"}
    assert {k for k in keys if not k.startswith("platform:")} <= {"gcp:project", "gcp:region"}


def test_dev_needs_no_stack_file() -> None:
    assert not Path(ROOT_DIR / "Pulumi.dev.yaml").exists()
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
            "stack 'production': platform:secrets[0].keys: input should be a valid dictionary (got \"password\")",
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
