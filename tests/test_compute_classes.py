"""Spot with on-demand fallback: ComputeClasses from the node pools, pools tied to them, pods selecting them.

`fallback` is the production fixture with its spot pool and a new on-demand pool in the `spot-fallback`
ComputeClass: order-worker (prefer-spot) then resolves to spot-fallback. Values are read from the
registered resources; rejections run the whole program and check the exact line.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from crd_schemas import crd_failures
from harness import ProgramRun, Registration, assert_rejected, run_program, stack_config

POOL = "gcp:container/nodePool:NodePool"
CLASS_KEY = "cloud.google.com/compute-class"
CRD_FIXTURE = Path(__file__).resolve().parent / "crd" / "fixtures" / "computeclass.cloud.google.com.yaml"
SPOT_TOLERATION = {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
CLASS_TOLERATION = {"key": CLASS_KEY, "operator": "Equal", "value": "spot-fallback", "effect": "NoSchedule"}


def fallback_config() -> dict[str, Any]:
    config = copy.deepcopy(stack_config("production"))
    base, spot = config["platform:nodePools"]
    config["platform:nodePools"] = [
        base,
        {**spot, "computeClass": "spot-fallback"},
        {
            "name": "fallback",
            "machineType": "e2-standard-4",
            "minNodes": 0,
            "maxNodes": 3,
            "computeClass": "spot-fallback",
        },
    ]
    return config


@functools.cache
def fallback_run() -> ProgramRun:
    return run_program("production", fallback_config())


@pytest.fixture
def fallback() -> ProgramRun:
    return fallback_run()


def _pool(run: ProgramRun, name: str) -> Registration:
    [found] = [r for r in run.of_type(POOL) if r.inputs["namePrefix"] == f"{name}-"]
    return found


def _pod(run: ProgramRun, name: str) -> dict[str, Any]:
    [deployment] = run.k8s("Deployment", name)
    pod: dict[str, Any] = deployment.manifest["spec"]["template"]["spec"]
    return pod


# --------------------------------------------------------------------------- the class


def test_the_class_tries_spot_pools_first_then_on_demand_and_returns_to_spot(fallback: ProgramRun) -> None:
    [computeclass] = fallback.k8s("ComputeClass", "spot-fallback")
    spec = computeclass.manifest["spec"]
    # Rules hold GKE's pool names: the config name plus the generated suffix.
    [spot_rule], [on_demand_rule] = (rule["nodepools"] for rule in spec["priorities"])
    assert re.fullmatch(r"spot-[0-9a-f]{8}", spot_rule)
    assert re.fullmatch(r"fallback-[0-9a-f]{8}", on_demand_rule)
    assert spec["activeMigration"] == {"optimizeRulePriority": True}
    assert spec["nodePoolAutoCreation"] == {"enabled": False}
    # Stated, not left to GKE's version-dependent default.
    assert spec["whenUnsatisfiable"] == "DoNotScaleUp"
    assert computeclass.manifest["apiVersion"] == "cloud.google.com/v1"
    assert "namespace" not in computeclass.manifest["metadata"]


def test_the_class_goes_through_the_clusters_provider_and_everything_waits_for_it(fallback: ProgramRun) -> None:
    [computeclass] = fallback.k8s("ComputeClass", "spot-fallback")
    [provider] = [r for r in fallback.of_type("pulumi:providers:kubernetes")]
    assert computeclass.provider.startswith(provider.urn)
    # Namespaces, and so everything in them, wait for the cluster's `ready` list: a pod never selects a
    # class that does not exist yet.
    [namespace] = fallback.k8s("Namespace", "shop-workers")
    assert computeclass.urn in namespace.dependencies


def test_pools_of_the_class_carry_its_label_and_taint_and_others_do_not(fallback: ProgramRun) -> None:
    for name in ("spot", "fallback"):
        node_config = _pool(fallback, name).inputs["nodeConfig"]
        assert node_config["labels"][CLASS_KEY] == "spot-fallback"
        assert {"key": CLASS_KEY, "value": "spot-fallback", "effect": "NO_SCHEDULE"} in node_config["taints"]
    base = _pool(fallback, "base").inputs["nodeConfig"]
    assert CLASS_KEY not in (base.get("labels") or {})
    assert all(t["key"] != CLASS_KEY for t in base.get("taints") or [])


def test_no_class_is_declared_without_class_pools(production: ProgramRun, dev: ProgramRun) -> None:
    assert production.k8s("ComputeClass") == []
    assert dev.k8s("ComputeClass") == []


def test_every_compute_class_passes_the_crd_fixture_and_the_packaged_schema(fallback: ProgramRun) -> None:
    crd = yaml.safe_load(CRD_FIXTURE.read_text())
    [version] = crd["spec"]["versions"]
    schema = _strict(version["schema"]["openAPIV3Schema"])
    classes = [c.manifest for c in fallback.k8s("ComputeClass")]
    assert classes
    for manifest in classes:
        jsonschema.validate(manifest, schema)
    assert crd_failures(classes) == []
    broken = copy.deepcopy(classes[0])
    broken["spec"]["whenUnsatisfiable"] = "ScaleUpSometimes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    assert crd_failures([broken]) != []


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD's structural schema as JSON Schema, with unknown fields refused (strict field validation)."""
    strict = dict(schema)
    if (
        "properties" in strict
        and "additionalProperties" not in strict
        and not strict.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    if "properties" in strict:
        strict["properties"] = {k: _strict(v) for k, v in strict["properties"].items()}
    if "items" in strict:
        strict["items"] = _strict(strict["items"])
    if strict.get("type") == "object" and "properties" not in strict and "additionalProperties" not in strict:
        return strict  # metadata: free-form here
    return strict


# --------------------------------------------------------------------------- the pods


def test_prefer_spot_selects_the_fallback_class_once_the_stack_declares_one(fallback: ProgramRun) -> None:
    pod = _pod(fallback, "order-worker")
    assert pod["nodeSelector"] == {CLASS_KEY: "spot-fallback"}
    assert pod["tolerations"] == [CLASS_TOLERATION, SPOT_TOLERATION]
    # GKE rejects a spot selector beside a ComputeClass: the class decides Spot or on-demand.
    assert "nodeAffinity" not in (pod.get("affinity") or {})


def test_regular_services_stay_off_the_class(fallback: ProgramRun) -> None:
    for name in ("storefront", "checkout"):
        pod = _pod(fallback, name)
        assert CLASS_KEY not in (pod.get("nodeSelector") or {})
        assert "tolerations" not in pod


def test_prefer_spot_without_a_class_keeps_its_preferred_affinity(production: ProgramRun) -> None:
    pod = _pod(production, "order-worker")
    assert "nodeSelector" not in pod
    assert pod["tolerations"] == [SPOT_TOLERATION]


def test_spot_fallback_relaxes_to_prefer_spot_on_an_existing_cluster() -> None:
    config = copy.deepcopy(stack_config("dev"))
    next(s for s in config["platform:services"] if s["name"] == "order-worker")["placement"] = "spot-fallback"
    pod = _pod(run_program("dev", config), "order-worker")
    assert "nodeSelector" not in pod
    assert pod["tolerations"] == [SPOT_TOLERATION]
    assert pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 100


def test_an_existing_cluster_declares_the_class_over_the_pools_its_stack_describes() -> None:
    # What the e2e harness does: its kwok pools carry the class's label and taint, the stack names them.
    config = copy.deepcopy(stack_config("dev"))
    config["platform:nodePools"] = [
        {"name": "spot", "spot": True, "computeClass": "spot-fallback"},
        {"name": "on-demand", "computeClass": "spot-fallback"},
    ]
    next(s for s in config["platform:services"] if s["name"] == "order-worker")["placement"] = "spot-fallback"
    run = run_program("dev", config)
    [computeclass] = run.k8s("ComputeClass", "spot-fallback")
    assert computeclass.manifest["spec"]["priorities"] == [{"nodepools": ["spot"]}, {"nodepools": ["on-demand"]}]
    pod = _pod(run, "order-worker")
    assert pod["nodeSelector"] == {CLASS_KEY: "spot-fallback"}
    assert pod["tolerations"] == [CLASS_TOLERATION, SPOT_TOLERATION]
    # prefer-spot services keep their preference there: only an explicit spot-fallback selects the class.
    assert "nodeSelector" not in _pod(run, "storefront")


# --------------------------------------------------------------------------- capacity and cost


def test_capacity_counts_the_class_pools_for_its_services_only(fallback: ProgramRun) -> None:
    sets = {tuple(s["pools"]): s["workloads"] for s in fallback.outputs["capacity"]["poolSets"]}
    assert sets[("spot", "fallback")] == ["order-worker"]
    assert sets[("base",)] == ["checkout", "storefront"]


def test_cost_gives_the_spot_price_and_the_on_demand_worst_case(fallback: ProgramRun) -> None:
    computeclass = fallback.outputs["cost"]["computeClasses"]["spot-fallback"]
    assert computeclass["spotPools"] == ["spot"]
    # 0 to 15 e2-standard-4 nodes: $0.055832/h on Spot, $0.14743092/h on demand, 730 h a month.
    assert computeclass["spotMonthlyUsd"] == {"min": 0.0, "max": round(15 * 0.055832 * 730, 2)}
    assert computeclass["onDemandWorstCaseMonthlyUsd"] == {"min": 0.0, "max": round(15 * 0.14743092 * 730, 2)}


# --------------------------------------------------------------------------- rejections


def _service(config: dict[str, Any], name: str, change: dict[str, Any]) -> None:
    config["platform:overrides"]["services"].setdefault(name, {}).update(change)


def test_spot_fallback_without_a_class_is_rejected() -> None:
    config = copy.deepcopy(stack_config("production"))
    _service(config, "order-worker", {"placement": "spot-fallback"})
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:overrides.services.order-worker.placement: 'spot-fallback' needs a "
        "ComputeClass with a spot and an on-demand pool: set nodePools[].computeClass on both",
    )


def test_a_class_of_spot_pools_only_is_rejected() -> None:
    config = copy.deepcopy(stack_config("production"))
    config["platform:nodePools"][1]["computeClass"] = "spot-fallback"
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools[spot].computeClass: ComputeClass 'spot-fallback' needs a spot pool "
        "and an on-demand pool to fall back to; its pools (spot) are all spot",
    )


def test_a_class_on_a_regular_service_is_rejected() -> None:
    config = fallback_config()
    _service(config, "checkout", {"computeClass": "spot-fallback"})
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:overrides.services.checkout.computeClass: a ComputeClass is for placement "
        "spot-fallback or prefer-spot, not 'regular'",
    )


def test_an_undeclared_class_is_rejected() -> None:
    config = fallback_config()
    _service(config, "order-worker", {"computeClass": "spot-first"})
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:overrides.services.order-worker.computeClass: 'spot-first' is not a "
        "ComputeClass with spot and on-demand pools; declared: spot-fallback",
    )


def test_declaring_the_class_taint_by_hand_is_rejected() -> None:
    config = fallback_config()
    config["platform:nodePools"][0]["taints"] = [{"key": CLASS_KEY, "value": "spot-fallback", "effect": "NO_SCHEDULE"}]
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools[base].taints[0].key: the ComputeClass taint comes from "
        "computeClass; set that instead",
    )


def test_class_pools_do_not_count_as_the_regular_baseline() -> None:
    config = fallback_config()
    config["platform:nodePools"][0]["computeClass"] = "spot-fallback"
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools: declare at least one regular (spot: false) pool outside any "
        "computeClass so that critical services have on-demand nodes",
    )
