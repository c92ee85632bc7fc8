"""Issue 5's rejection list: each bad service setting stops the program with one line naming the
stack and the key path, before any resource is registered.

The dev stack is used because its catalog has no per-stack overrides to keep in step:
services[0] is storefront, services[1] checkout, services[2] order-worker.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from harness import rejected, stack_config

Mutation = Callable[[dict[str, Any]], None]


def _service(config: dict[str, Any], name: str) -> dict[str, Any]:
    service: dict[str, Any] = next(s for s in config["platform:services"] if s["name"] == name)
    return service


def _rename_order_worker(config: dict[str, Any]) -> None:
    _service(config, "order-worker")["name"] = "order.worker"


def _port_out_of_range(config: dict[str, Any]) -> None:
    _service(config, "checkout")["ports"][0]["containerPort"] = 70000


def _probe_on_undeclared_port(config: dict[str, Any]) -> None:
    _service(config, "order-worker")["probes"]["liveness"]["httpGet"]["port"] = "admin"


def _malformed_quantity(config: dict[str, Any]) -> None:
    _service(config, "checkout")["resources"]["requests"]["memory"] = "512mb"


def _limit_below_request(config: dict[str, Any]) -> None:
    _service(config, "checkout")["resources"]["limits"]["memory"] = "128Mi"


def _hpa_min_above_max(config: dict[str, Any]) -> None:
    _service(config, "storefront")["autoscaling"].update(minReplicas=4, maxReplicas=2)


def _hpa_target_above_100(config: dict[str, Any]) -> None:
    _service(config, "storefront")["autoscaling"]["memoryUtilization"] = 150


def _hpa_target_zero(config: dict[str, Any]) -> None:
    _service(config, "checkout")["autoscaling"]["cpuUtilization"] = 0


def _pdb_blocking_every_eviction(config: dict[str, Any]) -> None:
    _service(config, "storefront")["autoscaling"].update(minReplicas=2, maxReplicas=4)
    _service(config, "storefront")["disruptionBudget"] = {"minAvailable": 2}


def _grace_not_above_pre_stop(config: dict[str, Any]) -> None:
    _service(config, "order-worker")["shutdown"] = {"preStopSleepSeconds": 30, "terminationGracePeriodSeconds": 30}


def _latest_tag(config: dict[str, Any]) -> None:
    _service(config, "checkout")["image"] = "europe-docker.pkg.dev/acme-shop/apps/checkout:latest"


def _duplicate_path_on_a_host(config: dict[str, Any]) -> None:
    _service(config, "checkout")["routes"] = [{"host": "www.${domain}", "path": "/"}]


def _unknown_caller(config: dict[str, Any]) -> None:
    _service(config, "storefront")["allowFrom"] = ["checkout", "payments"]


def _ephemeral_storage_below_its_scratch(config: dict[str, Any]) -> None:
    _service(config, "checkout")["ephemeralStorage"] = "128Mi"


def _service_port_used_twice(config: dict[str, Any]) -> None:
    _service(config, "checkout")["ports"].append({"name": "web", "containerPort": 8081, "servicePort": 80})


REJECTIONS: list[tuple[str, Mutation, str]] = [
    (
        "non-DNS-1123 name",
        _rename_order_worker,
        "platform:services[2].name: 'order.worker' is not a DNS-1123 label: use at most 63 lowercase letters, "
        "digits and '-', starting and ending with a letter or digit",
    ),
    (
        "port outside 1-65535",
        _port_out_of_range,
        "platform:services[checkout].ports[http].containerPort: input should be less than or equal to 65535 (got 70000)",
    ),
    (
        "probe on an undeclared port",
        _probe_on_undeclared_port,
        "platform:services[order-worker].probes.liveness.httpGet.port: 'admin' is not a declared port; declared: metrics, health",
    ),
    (
        "malformed quantity",
        _malformed_quantity,
        "platform:services[checkout].resources.requests.memory: '512mb' is not a memory quantity: use a number with a "
        "suffix Ki, Mi, Gi, Ti (or k, M, G, T), e.g. '512Mi'",
    ),
    (
        "limit below its request",
        _limit_below_request,
        "platform:services[checkout].resources.limits.memory: 128Mi is below the request (256Mi); limits must be >= requests",
    ),
    (
        "HPA min above max",
        _hpa_min_above_max,
        "platform:services[storefront].autoscaling.maxReplicas: 2 is below minReplicas (4); maxReplicas must be >= minReplicas",
    ),
    (
        "HPA target above 100",
        _hpa_target_above_100,
        "platform:services[storefront].autoscaling.memoryUtilization: input should be less than or equal to 100 (got 150)",
    ),
    (
        "HPA target below 1",
        _hpa_target_zero,
        "platform:services[checkout].autoscaling.cpuUtilization: input should be greater than or equal to 1 (got 0)",
    ),
    (
        "PDB that blocks every eviction",
        _pdb_blocking_every_eviction,
        "platform:services[storefront].disruptionBudget.minAvailable: 2 would block every eviction with 2 replica(s); "
        "it must be below the minimum replicas (2)",
    ),
    (
        "grace period not above the preStop sleep",
        _grace_not_above_pre_stop,
        "platform:services[order-worker].shutdown.terminationGracePeriodSeconds: 30 must exceed preStopSleepSeconds (30) "
        "so the app has time to stop after the sleep",
    ),
    (
        "latest tag",
        _latest_tag,
        "platform:services[checkout].image: 'europe-docker.pkg.dev/acme-shop/apps/checkout:latest' uses the 'latest' tag; "
        "pin a version tag or a sha256 digest",
    ),
    (
        "duplicate path on one host",
        _duplicate_path_on_a_host,
        "platform:services[checkout].routes[0].path: www.localtest.me/ is already routed to 'storefront'; "
        "each path on a host may route to one service",
    ),
    (
        "allowFrom naming an unknown service",
        _unknown_caller,
        "platform:services[storefront].allowFrom[1]: 'payments' is not a declared service; "
        "declared: checkout, order-worker, storefront",
    ),
    (
        "two ports on one Service port",
        _service_port_used_twice,
        "platform:services[checkout].ports[web].servicePort: service port 80 is used twice; set a distinct servicePort",
    ),
    (
        "ephemeral storage below its own scratch volume and logs",
        _ephemeral_storage_below_its_scratch,
        "platform:services[checkout].ephemeralStorage: 128Mi is below what the pod may write by design (320Mi: "
        "1 emptyDir(s) of 256Mi, 64Mi of logs); the kubelet would evict a healthy pod: raise it or leave it unset",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), REJECTIONS, ids=[case for case, _, _ in REJECTIONS])
def test_bad_service_setting_is_rejected_before_anything_is_registered(
    case: str, mutate: Mutation, expected: str
) -> None:
    config = copy.deepcopy(stack_config("dev"))
    mutate(config)
    message, registered = rejected("dev", config)
    assert message == f"stack 'dev': {expected}", case
    assert registered == 0
