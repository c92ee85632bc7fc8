"""Shared ConfigMaps: one per target namespace, data from config per stack, checksum for rollouts."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from harness import ProgramRun, assert_rejected, is_secret_value, run_program, stack_config
from test_secrets import checksums, probed_run

COMPONENT = "platform:config:ConfigMaps"
LOG_LEVEL = {"dev": "debug", "staging": "info", "production": "warning"}


def our_config_maps(run: ProgramRun) -> dict[tuple[str, str], dict[str, Any]]:
    """(namespace, name) -> manifest, for the ConfigMaps this component created."""
    component = run.one(COMPONENT).urn
    return {
        (r.manifest["metadata"]["namespace"], r.manifest["metadata"]["name"]): r.manifest
        for r in run.k8s("ConfigMap")
        if r.parent == component
    }


def test_each_config_map_exists_in_every_namespace_it_targets_with_the_stack_data(run: ProgramRun) -> None:
    found = our_config_maps(run)
    assert sorted(found) == [("shop", "app-config"), ("shop-workers", "app-config")]
    for manifest in found.values():
        assert manifest["metadata"]["name"] == "app-config"
        assert manifest["metadata"]["labels"] == {
            "app.kubernetes.io/part-of": "shop",
            "app.kubernetes.io/managed-by": "pulumi",
        }
        assert manifest["data"] == {
            "REDIS_URL": "redis://redis.shop-data.svc.cluster.local:6379/0",
            "ENVIRONMENT": run.stack,
            "LOG_LEVEL": LOG_LEVEL[run.stack],
        }


def test_config_maps_are_ordered_after_their_namespace(run: ProgramRun) -> None:
    namespaces = {r.manifest["metadata"]["name"]: r.urn for r in run.of_type("kubernetes:core/v1:Namespace")}
    component = run.one(COMPONENT).urn
    for r in run.k8s("ConfigMap"):
        if r.parent == component:
            assert namespaces[r.manifest["metadata"]["namespace"]] in r.dependencies


def test_workloads_get_a_plain_checksum_of_the_data() -> None:
    run = probed_run("production")
    checksum = checksums(run)["configmap/app-config"]
    assert not is_secret_value(checksum)
    data = our_config_maps(run)[("shop", "app-config")]["data"]
    assert checksum == hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    # Canonical JSON (sorted keys, no spaces) of production's data, so key order never changes it.
    assert checksum == "2f0a68fb83a3a627ccc026ba4a8baa796b6d1c6790d3745e05f985403fcecdce"


def test_a_config_map_targeting_an_undeclared_namespace_is_rejected() -> None:
    config = stack_config("staging")
    config["platform:configMaps"][0]["namespaces"] = ["shop", "shop-workers", "shop-api"]
    assert_rejected(
        "staging",
        config,
        (
            "stack 'staging': platform:configMaps[app-config].namespaces[2]: "
            "'shop-api' is not a declared namespace; declared: shop, shop-data, shop-workers"
        ),
    )


def test_a_config_map_carries_its_catalog_labels_beside_the_platforms() -> None:
    # Seed 001's dashboard ConfigMap: Grafana's sidecar loads what carries grafana_dashboard: "1".
    config = stack_config("staging")
    config["platform:configMaps"][0]["labels"] = {"grafana_dashboard": "1", "app.kubernetes.io/part-of": "other"}
    run = run_program("staging", config)
    manifest = our_config_maps(run)[("shop", "app-config")]
    assert manifest["metadata"]["labels"] == {
        "grafana_dashboard": "1",
        "app.kubernetes.io/part-of": "shop",
        "app.kubernetes.io/managed-by": "pulumi",
    }
