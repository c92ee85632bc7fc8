"""The timing model: hand-computed rollouts, rollbacks, HPA scale-ups and critical paths, the warnings, the defaults.

Figures use the model's stated constants (components/planning/timing.py): pod start 5 s, image pull
10 s, migration run 30 s, HPA sync 15 s, metric resolution 15 s, autoscaler scan 10 s, node
provisioning 90 s. Each test spells out its arithmetic.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from gates import platform_config
from harness import ProgramRun, rejected, run_program, stack_config

from components.config import PlatformConfig
from components.planning.capacity import check_capacity
from components.planning.config import TimingConfig
from components.planning.timing import (
    CREATE_SECONDS,
    TimingReport,
    Wiring,
    build_graph,
    estimate_timing,
    hpa_steps,
    ready_seconds,
    rollout,
)
from components.platform import wiring_of
from components.workloads.config import ScalingRules, ServiceConfig, Strategy


def _service(**changes: Any) -> ServiceConfig:
    """A routed service with the platform's probe defaults: startup and readiness via httpGet."""
    document: dict[str, Any] = {
        "name": "web",
        "namespace": "shop",
        "image": "example/web:1.0.0",
        "ports": [{"name": "http", "containerPort": 8080}],
        "probes": {
            "startup": {"httpGet": {"path": "/ready"}},
            "liveness": {"httpGet": {"path": "/live"}},
            "readiness": {"httpGet": {"path": "/ready"}},
        },
        "autoscaling": {"minReplicas": 3, "maxReplicas": 12},
        "routes": [{"host": "www.example.com", "path": "/"}],
    }
    document.update(changes)
    return ServiceConfig.model_validate(document)


def _config(stack: str, mutate: Any = None) -> PlatformConfig:
    values = copy.deepcopy(stack_config(stack))
    if mutate is not None:
        mutate(values)
    return platform_config(stack, values)


def _nginx(values: dict[str, Any]) -> None:
    """The legacy controller: its release is the edge step the routes wait for."""
    values["platform:ingress"] = {**values["platform:ingress"], "controller": "ingress-nginx"}


def _timing(config: PlatformConfig) -> TimingReport:
    nginx = config.addons.ingress_nginx.model_copy(update={"enabled": config.runs_ingress_nginx})
    capacity = check_capacity(config.stack, config.cluster, config.node_pools, config.services, nginx)
    return estimate_timing(config.stack, config.timing, config.services, wiring_of(config), capacity)


# --------------------------------------------------------------------------- maxSurge / maxUnavailable


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        # 25% of 10 = 2.5: surge rounds up to 3, unavailable rounds down to 2.
        ("25%", "25%", 10, (3, 2)),
        # 25% of 3 = 0.75 -> surge 1, so small services still roll one pod at a time.
        ("25%", 0, 3, (1, 0)),
        (2, 0, 20, (2, 0)),
        # 10% of 3 = 0.3 rounds down to 0 and surge is 0: Kubernetes lets one pod be unavailable.
        (0, "10%", 3, (0, 1)),
    ],
)
def test_surge_and_unavailable_resolve_as_kubernetes_rounds_them(
    surge: int | str, unavailable: int | str, replicas: int, expected: tuple[int, int]
) -> None:
    strategy = Strategy.model_validate({"maxSurge": surge, "maxUnavailable": unavailable})
    assert strategy.resolved(replicas) == expected


def test_strategy_defaults_surge_a_quarter_and_never_take_capacity_away() -> None:
    assert (Strategy().max_surge, Strategy().max_unavailable) == ("25%", 0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("150%", "'150%' is neither a pod count nor a percentage from '0%' to '100%', e.g. '25%'"),
        ("25 %", "'25 %' is neither a pod count nor a percentage from '0%' to '100%', e.g. '25%'"),
        (-1, "-1 is negative; use a pod count >= 0 or a percentage such as '25%'"),
    ],
)
def test_bad_surge_is_rejected_with_what_is_allowed(value: Any, message: str) -> None:
    config = copy.deepcopy(stack_config("dev"))
    next(s for s in config["platform:services"] if s["name"] == "checkout")["strategy"] = {"maxSurge": value}
    assert rejected("dev", config) == (
        f"stack 'dev': platform:services[checkout].strategy.maxSurge: {message}",
        0,
    )


def test_surge_and_unavailable_of_zero_percent_are_rejected_like_zero() -> None:
    config = copy.deepcopy(stack_config("dev"))
    service = next(s for s in config["platform:services"] if s["name"] == "checkout")
    service["strategy"] = {"maxSurge": "0%", "maxUnavailable": 0}
    assert rejected("dev", config) == (
        "stack 'dev': platform:services[checkout].strategy: maxSurge and maxUnavailable cannot both be 0",
        0,
    )


def test_timing_targets_default_to_seed_001_and_reject_unknown_keys() -> None:
    assert TimingConfig().model_dump(by_alias=True) == {
        "rolloutSeconds": 300,
        "rollbackSeconds": 120,
        "scaleUpSeconds": 60,
    }
    config = copy.deepcopy(stack_config("dev"))
    config["platform:timing"] = {"rolloutSecs": 200}
    assert rejected("dev", config) == (
        "stack 'dev': platform:timing.rolloutSecs: unknown key; did you mean 'rolloutSeconds'? "
        "allowed: rollbackSeconds, rolloutSeconds, scaleUpSeconds",
        0,
    )


# --------------------------------------------------------------------------- time to ready and rollouts


def test_time_to_ready_adds_start_pull_startup_and_readiness() -> None:
    # start 5 + pull 10 + startup (delay 0 + period 5 x 1) + readiness (period 5 x 1) = 25; 15 without the pull.
    svc = _service()
    assert (ready_seconds(svc, pull=True), ready_seconds(svc, pull=False)) == (25, 15)
    # Readiness delay 20 s overlaps the 5 s startup: 15 s of it remain; period 10 x successThreshold 2 = 20.
    slow = _service(
        probes={
            "startup": {"httpGet": {"path": "/ready"}},
            "liveness": {"httpGet": {"path": "/live"}},
            "readiness": {
                "httpGet": {"path": "/ready"},
                "initialDelaySeconds": 20,
                "periodSeconds": 10,
                "successThreshold": 2,
            },
        }
    )
    assert ready_seconds(slow, pull=True) == 5 + 10 + 5 + 15 + 20


def test_rollout_waves_times_ready_plus_the_last_drain() -> None:
    # 12 replicas at 25%: surge ceil(3) = 3 -> 4 waves of 25 s + 30 s grace = 130 s.
    svc = _service()
    at_max = rollout(svc, 12)
    assert (at_max.surge, at_max.unavailable, at_max.waves, at_max.wave_seconds, at_max.drain_seconds) == (
        3,
        0,
        4,
        25,
        30,
    )
    assert at_max.seconds == 130
    # Rollback (rollout undo): no pull, so 4 waves of 15 s + 30 s = 90 s.
    assert rollout(svc, 12, rollback=True).seconds == 90
    # A migration Job runs first on a rollout: 5 + 10 + 30 = 45 s more, none on a rollback.
    migrating = _service(migration={"command": ["migrate"]})
    assert rollout(migrating, 12).seconds == 175
    assert rollout(migrating, 12, rollback=True).seconds == 90


def test_recreate_drains_first_then_starts_every_pod_at_once() -> None:
    # 30 s grace, then one wave of 25 s.
    svc = _service(strategy={"type": "Recreate"})
    assert (rollout(svc, 12).waves, rollout(svc, 12).seconds) == (1, 55)


# --------------------------------------------------------------------------- HPA scale-up


def _rules(document: dict[str, Any]) -> ScalingRules:
    return ScalingRules.model_validate(document)


def test_hpa_doubles_each_sync_under_seed_001s_policy() -> None:
    double = _rules(
        {"stabilizationWindowSeconds": 0, "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
    )
    # ceil(3 x 2) = 6, then 12; 3 -> 20 takes 6, 12, 20.
    assert hpa_steps(double, 3, 12) == [6, 12]
    assert hpa_steps(double, 3, 20) == [6, 12, 20]


def test_hpa_select_policy_picks_the_largest_or_smallest_step() -> None:
    policies = [
        {"type": "Percent", "value": 100, "periodSeconds": 15},
        {"type": "Pods", "value": 4, "periodSeconds": 15},
    ]
    # Max: max(3 x 2, 3 + 4) = 7, then max(14, 11) = 14 -> capped at 12.
    assert hpa_steps(_rules({"stabilizationWindowSeconds": 0, "policies": policies}), 3, 12) == [7, 12]
    # Min: min(6, 7) = 6, then min(12, 10) = 10, then 12.
    rules = {"stabilizationWindowSeconds": 0, "selectPolicy": "Min", "policies": policies}
    assert hpa_steps(_rules(rules), 3, 12) == [6, 10, 12]
    assert hpa_steps(_rules({**rules, "selectPolicy": "Disabled"}), 3, 12) is None


def test_hpa_pods_policy_waits_out_its_period() -> None:
    # One pod per 60 s: +1 at 0 s; syncs at 15, 30, 45 s still count it in the period; +1 again at 60 s.
    one = _rules({"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]})
    assert hpa_steps(one, 2, 4) == [3, 3, 3, 3, 4]


def test_scale_up_with_headroom_and_its_terms() -> None:
    # Production fixture storefront 3 -> 12 on the regular pool with room: metric 15 + sync 15, steps 6 and 12
    # one sync apart (15), then the new pods ready without a pull (15): 60 s, seed 001's bound.
    timing = _timing(_config("production"))
    storefront = next(t for t in timing.services if t.service.name == "storefront")
    assert storefront.scale is not None
    scale = storefront.scale
    terms = (scale.detection_seconds, scale.window_seconds, scale.step_seconds, scale.ready_seconds, scale.node_seconds)
    assert terms == (30, 0, 15, 15, 0)
    # No node wait either way: the figure before headroom placeholders is the same.
    assert scale.summary() == {
        "seconds": 60,
        "steps": [3, 6, 12],
        "nodesNeeded": 0,
        "headroom": True,
        "secondsWithoutHeadroom": 60,
    }


def test_scale_up_waits_for_nodes_when_the_pools_minimum_has_no_headroom() -> None:
    # Staging fixture: order-worker is spot-only and the spot pool's minimum is 0 nodes, so its scale-up waits
    # for a node: scan 10 + provisioning 90 + image pull 10 = 110 s on top of the HPA's own time.
    timing = _timing(_config("staging"))
    worker = next(t for t in timing.services if t.service.name == "order-worker")
    assert worker.scale is not None
    assert (worker.scale.nodes_needed, worker.scale.node_seconds, worker.scale.pools) == (1, 110, ["spot"])


# --------------------------------------------------------------------------- warnings


def test_a_slow_rollout_warns_naming_the_service_and_the_waves() -> None:
    # checkout (no startup probe, a migration Job) with maxSurge 1 at 20 replicas: migration 45 s + 20 waves of
    # (start 5 + pull 10 + readiness 5) + 30 s drain = 475 s > 300; rollback 20 x (5 + 5) + 30 = 230 s > 120.
    def one_at_a_time(values: dict[str, Any]) -> None:
        overrides = values["platform:overrides"]["services"]
        overrides["checkout"] = {**overrides.get("checkout", {}), "autoscaling": {"minReplicas": 3, "maxReplicas": 20}}
        overrides["checkout"]["strategy"] = {"maxSurge": 1}

    lines = [w for w in _timing(_config("production", one_at_a_time)).warnings() if "'checkout'" in w]
    assert lines[:2] == [
        "stack 'production': platform:services[checkout].strategy.maxSurge: modeled rollout of 'checkout' 475 s "
        "exceeds timing.rolloutSeconds (300 s): 20 waves of 20 s: raise maxSurge",
        "stack 'production': platform:services[checkout].strategy.maxSurge: modeled rollback of 'checkout' 230 s "
        "exceeds timing.rollbackSeconds (120 s): 20 waves of 10 s: raise maxSurge",
    ]


def test_targets_come_from_config_and_null_switches_one_off() -> None:
    def strict(values: dict[str, Any]) -> None:
        values["platform:timing"] = {"rolloutSeconds": 100, "rollbackSeconds": None, "scaleUpSeconds": None}

    lines = list(_timing(_config("production", strict)).warnings())
    # storefront rolls out at 12 replicas in 4 waves of 25 s + 30 s = 130 s.
    assert (
        "stack 'production': platform:services[storefront].strategy.maxSurge: modeled rollout of 'storefront' 130 s "
        "exceeds timing.rolloutSeconds (100 s): 4 waves of 25 s: raise maxSurge"
    ) in lines
    assert not [line for line in lines if "rollback" in line or "scaleUp" in line]


def test_preview_logs_the_warnings(staging: ProgramRun) -> None:
    expected = list(_timing(_config("staging")).warnings())
    assert expected
    assert [w for w in staging.warnings if "timing." in w] == expected


# --------------------------------------------------------------------------- the critical path


def test_critical_path_from_scratch_follows_the_wiring() -> None:
    # Production fixture on ingress-nginx, regional: vpc 30 + router 15 + nat 25 + cluster 600 + pool 180
    # + namespaces 2 + CRD release 20 + kube-prometheus-stack 240 + prometheus-adapter 60 = 1172 s.
    summary = _timing(_config("production", _nginx)).critical_path.summary()
    assert summary["fromScratch"]["seconds"] == 1172
    assert [step["step"] for step in summary["fromScratch"]["path"]] == [
        "network/vpc",
        "network/router",
        "network/nat",
        "cluster",
        "node-pool/base",
        "namespaces",
        "addon/monitoring-crds",
        "addon/monitoring",
        "addon/monitoring-adapter",
    ]
    # The routes wait for the CRD release (20 s) and the edge (120 s), not the monitoring stack:
    # 70 + 600 + 180 + 2 + 20 + 120 + route 10 = 1002 s against the chain's 70 + 600 + 180 + 120 + 10 = 980 s.
    assert summary["slowestRoute"]["seconds"] == 1002
    assert summary["unavoidableChainSeconds"] == 980


def test_on_gkes_gateway_the_routes_wait_for_their_services_only() -> None:
    # GKE runs the Gateway controller itself and an HTTPRoute needs its Services, not their pods:
    # 70 + 600 + 180 + namespaces 2 + Service 2 + route 10 = 864 s against the chain's 70 + 600 + 180 + 10.
    summary = _timing(_config("production")).critical_path.summary()
    assert summary["fromScratch"]["seconds"] == 1172
    assert summary["slowestRoute"]["seconds"] == 864
    assert [step["step"] for step in summary["slowestRoute"]["path"]][-3:] == [
        "namespaces",
        "service/storefront/service",
        "route/api.shop.example.com",
    ]
    assert summary["unavoidableChainSeconds"] == 860


def test_an_image_tag_change_costs_the_slowest_job_and_rollout_at_minimum() -> None:
    # checkout (production fixture) at its 3 replicas: migration 5 + 10 + 30 = 45 s, then surge ceil(0.75) = 1,
    # so 3 waves of (start 5 + pull 10 + readiness 5, no startup probe) = 60 s, then 30 s drain: 135 s.
    change = _timing(_config("production")).critical_path.summary()["imageTagChange"]
    assert (change["slowestService"], change["seconds"]) == ("checkout", 135)
    assert change["touches"] == ["Deployment", "migration Job"]


def test_the_edge_is_any_release_serving_the_routes() -> None:
    # A different edge controller name changes nothing but the step's name.
    wiring = Wiring(
        creates_cluster=False,
        regional=False,
        node_pools=[],
        edge_release="envoy-gateway",
        static_ip=False,
        cert_manager=False,
        monitoring=True,
        hosts=["www.example.com"],
    )
    graph = build_graph(wiring, [_service()])
    done = graph.finishes()
    # namespaces 2 + CRDs 20 + edge 120 + route 10.
    assert done["route/www.example.com"] == 2 + CREATE_SECONDS["crd-release"] + 120 + 10
    assert graph.after["edge/envoy-gateway"] == ["namespaces", "addon/monitoring-crds"]


RELEASE_STEPS = {
    "addon/monitoring-crds": "prometheus-operator-crds",
    "addon/monitoring": "kube-prometheus-stack",
    "addon/monitoring-adapter": "prometheus-adapter",
    "edge/ingress-nginx": "ingress-nginx",
    "addon/cert-manager": "cert-manager",
}


def test_the_models_release_order_is_the_programs() -> None:
    # For every pair of releases: the model orders one after the other exactly when the program's does.
    values = copy.deepcopy(stack_config("production"))
    _nginx(values)
    production = run_program("production", values)
    graph = _timing(_config("production", _nginx)).critical_path.graph
    urns = {r.inputs["chart"]: r for r in production.of_type("kubernetes:helm.sh/v3:Release")}
    for step, chart in RELEASE_STEPS.items():
        for other, other_chart in RELEASE_STEPS.items():
            modeled = other in graph.after[step]
            registered = urns[other_chart].urn in urns[chart].dependencies
            assert modeled == registered, f"{chart} after {other_chart}: model {modeled}, program {registered}"
