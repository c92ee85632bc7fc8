"""The capacity fit check: GKE's allocatable formula, placement groups, the errors and the warning.

Allocatable values are hand-computed from the documented formula; rejections run the whole program
and check the exact message and that nothing was registered before it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness import ROOT_DIR, ProgramRun, assert_rejected, stack_config

from components.config import NAMESPACE, ConfigError, PlatformConfig, parse
from components.planning.capacity import (
    MACHINE_TYPES,
    CapacityReport,
    CpuMemory,
    allocatable_ephemeral_mib,
    check_capacity,
    node_allocatable,
    reserved_cpu_millicores,
    reserved_memory_mib,
)


def _production() -> dict[str, Any]:
    return stack_config("production")


def _override(config: dict[str, Any], service: str, change: dict[str, Any]) -> None:
    config["platform:overrides"]["services"].setdefault(service, {}).update(change)


def _pool(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in config["platform:nodePools"] if p["name"] == name)


def _parse(stack: str, config: dict[str, Any]) -> PlatformConfig:
    prefix = NAMESPACE + ":"
    raw = {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}
    return parse(stack, raw, config.get("gcp:project"))


def capacity_of(config: PlatformConfig) -> CapacityReport:
    """The capacity check as the platform runs it, on a parsed config."""
    nginx = config.addons.ingress_nginx.model_copy(update={"enabled": config.runs_ingress_nginx})
    return check_capacity(config.stack, config.cluster, config.node_pools, config.services, nginx)


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Warnings of a direct check_capacity call, kept out of the cached stack runs' captured logs."""
    captured: list[str] = []
    monkeypatch.setattr("components.planning.capacity.pulumi.log.warn", captured.append)
    return captured


# --------------------------------------------------------------------------- GKE's allocatable formula


def test_e2_standard_4_allocatable_matches_the_formula() -> None:
    # CPU: 4000m - (60 + 10 + 2 x 10) = 3920m, GKE's documented example for this machine.
    # Memory: 16384 MiB - (1024 + 819.2 + 819.2) reserved - 100 eviction = 13621.6 MiB.
    assert node_allocatable(MACHINE_TYPES["e2-standard-4"]) == CpuMemory(pytest.approx(3920), pytest.approx(13621.6))


def test_e2_standard_2_allocatable_matches_the_formula() -> None:
    # 2000m - (60 + 10); 8192 MiB - (1024 + 819.2) - 100.
    assert node_allocatable(MACHINE_TYPES["e2-standard-2"]) == CpuMemory(pytest.approx(1930), pytest.approx(6248.8))


def test_e2_highcpu_2_reserves_a_quarter_of_its_two_gib() -> None:
    # 2048 MiB - 512 - 100.
    assert node_allocatable(MACHINE_TYPES["e2-highcpu-2"]).memory == pytest.approx(1436)


def test_n2_standard_32_allocatable_uses_the_6_percent_tier() -> None:
    # CPU: 32000 - (60 + 10 + 10 + 28 x 2.5) = 31850.
    # Memory: 131072 - (1024 + 819.2 + 819.2 + 0.06 x 114688) - 100 = 121428.32.
    assert node_allocatable(MACHINE_TYPES["n2-standard-32"]) == CpuMemory(
        pytest.approx(31850), pytest.approx(121428.32)
    )


def test_n2_highmem_96_reserves_2_percent_above_128_gib() -> None:
    # 786432 MiB: 1024 + 819.2 + 819.2 + 6881.28 + 0.02 x 655360 = 22650.88; CPU: 80 + 92 x 2.5 = 310.
    assert reserved_memory_mib(786432) == pytest.approx(22650.88)
    assert reserved_cpu_millicores(96) == pytest.approx(310)


def test_ephemeral_storage_allocatable_follows_gkes_boot_disk_reservation() -> None:
    # min(50%, 6 GiB + 35%, 100 GiB) reserved plus a 10% eviction threshold, in MiB.
    assert allocatable_ephemeral_mib(100) == pytest.approx((100 - 41 - 10) * 1024)
    assert allocatable_ephemeral_mib(20) == pytest.approx((20 - 10 - 2) * 1024)
    assert allocatable_ephemeral_mib(500) == pytest.approx((500 - 100 - 50) * 1024)


def test_pod_asking_more_ephemeral_storage_than_a_node_offers_is_rejected() -> None:
    config = _production()
    _override(config, "checkout", {"ephemeralStorage": "60Gi", "autoscaling": {"minReplicas": 3, "maxReplicas": 3}})
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools: regular-only service 'checkout' requests 0.2 CPU / 0.2 GiB / "
        "60.0 GiB of ephemeral storage per pod, more than one node of its pools offers after system reservations "
        "and DaemonSets (base: 3.5 CPU / 12.7 GiB / 49.0 GiB of ephemeral storage)",
    )


def test_machines_under_1_gib_reserve_255_mib() -> None:
    assert reserved_memory_mib(614) == 255


def test_n1_standard_machines_have_3_75_gib_per_vcpu() -> None:
    assert MACHINE_TYPES["n1-standard-4"].memory_gib == 15


# --------------------------------------------------------------------------- the repo's stacks


def test_every_repo_stack_passes_the_check(run: ProgramRun) -> None:
    assert run.outputs["capacity"]["checked"] is (run.stack != "dev")


def test_dev_skips_the_check_and_says_why(dev: ProgramRun) -> None:
    summary = dev.outputs["capacity"]
    assert summary["reason"] == "cluster.mode is 'existing': the node pools are not known to the program"
    # storefront, checkout, order-worker at 250m/256Mi, 1 to 3, 3 and 2 replicas (no ingress-nginx: the Gateway API);
    # each pod's ephemeral storage is its /tmp (256Mi) plus the log allowance (64Mi).
    assert summary["requested"] == {
        "min": {"cpuMillicores": 750, "memoryMiB": 768, "ephemeralStorageMiB": 3 * 320},
        "max": {"cpuMillicores": 2000, "memoryMiB": 2048, "ephemeralStorageMiB": 8 * 320},
    }


def _example_stacks() -> list[tuple[Path, str]]:
    return [
        (stack_file.parent, stack_file.name.split(".")[1])
        for stack_file in sorted((ROOT_DIR / "examples").glob("**/Pulumi.*.yaml"))
        if (stack_file.parent / "Pulumi.yaml").exists()
    ]


@pytest.mark.parametrize(("directory", "stack"), _example_stacks(), ids=[f"{d.name}-{s}" for d, s in _example_stacks()])
def test_every_example_stack_passes_the_check(directory: Path, stack: str, warnings: list[str]) -> None:
    config = stack_config(stack, directory)
    # Values the operator supplies with `pulumi config set --secret` are not in the stack files.
    for secret in config.get(f"{NAMESPACE}:secrets") or []:
        for spec in secret["keys"].values():
            if spec.get("type") == "config":
                config[f"{NAMESPACE}:{spec['key']}"] = "supplied-by-the-operator"
    parsed = _parse(stack, config)
    # On Autopilot the check is per pod (admission rules), with no pools: the summary says it ran.
    assert capacity_of(parsed).summary()["checked"] is parsed.creates_cluster


def test_production_summary_exports_requests_and_allocatable(production: ProgramRun) -> None:
    summary = production.outputs["capacity"]
    # e2-standard-4: 3920m / 13621.6 MiB allocatable, less 400m / 600 MiB of DaemonSets. A 100 GB boot disk:
    # 100 - min(50, 6 + 35, 100) reserved - 10 eviction threshold = 49 GiB of ephemeral storage.
    assert summary["pools"]["base"] == {
        "machineType": "e2-standard-4",
        "spot": False,
        "zones": 3,
        "nodes": {"min": 3, "max": 9},
        "allocatablePerNode": {"cpuMillicores": 3520, "memoryMiB": 13022, "ephemeralStorageMiB": 49 * 1024},
    }
    assert summary["pools"]["spot"]["nodes"] == {"min": 0, "max": 15}
    # Min: (3 + 3 + 2) x 250m; max: (12 + 10 + 8) x 250m (256Mi likewise). GKE's Gateway runs no pods here.
    assert summary["requested"] == {
        "min": {"cpuMillicores": 2000, "memoryMiB": 2048, "ephemeralStorageMiB": 8 * 320},
        "max": {"cpuMillicores": 7500, "memoryMiB": 7680, "ephemeralStorageMiB": 30 * 320},
    }
    # 3 and 24 nodes of 3520m / 13021.6 MiB.
    assert summary["allocatable"] == {
        "min": {"cpuMillicores": 10560, "memoryMiB": 39065, "ephemeralStorageMiB": 3 * 49 * 1024},
        "max": {"cpuMillicores": 84480, "memoryMiB": 312518, "ephemeralStorageMiB": 24 * 49 * 1024},
    }


def test_production_groups_regular_only_workloads_on_the_base_pool(production: ProgramRun) -> None:
    regular, everything = production.outputs["capacity"]["poolSets"]
    assert regular == {
        "pools": ["base"],
        "workloads": ["checkout", "storefront"],
        "requested": {
            "min": {"cpuMillicores": 1500, "memoryMiB": 1536, "ephemeralStorageMiB": 6 * 320},
            "max": {"cpuMillicores": 5500, "memoryMiB": 5632, "ephemeralStorageMiB": 22 * 320},
        },
        "allocatable": {
            "min": {"cpuMillicores": 10560, "memoryMiB": 39065, "ephemeralStorageMiB": 3 * 49 * 1024},
            "max": {"cpuMillicores": 31680, "memoryMiB": 117194, "ephemeralStorageMiB": 9 * 49 * 1024},
        },
    }
    # prefer-spot order-worker may use either pool, so only the union bounds it.
    assert everything["pools"] == ["base", "spot"]
    assert everything["workloads"] == ["checkout", "order-worker", "storefront"]


# --------------------------------------------------------------------------- warnings at the minimum


def test_staging_warns_that_spot_only_minimum_waits_for_the_autoscaler(staging: ProgramRun) -> None:
    # The timing model's own warnings (test_timing.py) aside.
    assert [w for w in staging.warnings if "timing." not in w] == [
        "stack 'staging': platform:nodePools: at HPA minimum, spot-only services (order-worker) request "
        "0.5 CPU / 0.5 GiB / 0.6 GiB of ephemeral storage but spot pools (spot) allocate only 0.0 CPU / 0.0 GiB / "
        "0.0 GiB of ephemeral storage at their minimum nodes: short 0.5 CPU / 0.5 GiB / 0.7 GiB of ephemeral storage; "
        "their pods stay Pending until the cluster autoscaler adds nodes"
    ]


def test_production_minimum_fits_without_a_warning(production: ProgramRun) -> None:
    assert [w for w in production.warnings if "platform:nodePools" in w] == []


# --------------------------------------------------------------------------- rejections at the maximum


def test_spot_only_maximum_beyond_the_spot_pools_is_rejected() -> None:
    config = _production()
    _override(config, "order-worker", {"placement": "spot", "autoscaling": {"minReplicas": 2, "maxReplicas": 48}})
    _pool(config, "spot")["maxNodes"] = 1
    # 48 x 250m / 256Mi against 3 spot nodes of 3520m / 13021.6 MiB: short 1.44 CPU, shown rounded up.
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools: at HPA maximum, spot-only services (order-worker) request "
        "12.0 CPU / 12.0 GiB but spot pools (spot) allocate at most 10.6 CPU / 38.1 GiB: short 1.5 CPU",
    )


def test_regular_only_maximum_counts_the_ingress_controller_and_is_rejected() -> None:
    config = _production()
    # The legacy controller's pods count; GKE's Gateway has none in the cluster.
    config["platform:ingress"] = {**config["platform:ingress"], "controller": "ingress-nginx"}
    _override(config, "checkout", {"autoscaling": {"minReplicas": 3, "maxReplicas": 20}})
    _override(config, "storefront", {"autoscaling": {"minReplicas": 3, "maxReplicas": 110}})
    # (110 + 20) x 250m + 3 x 100m = 32.8 CPU against 9 base nodes of 3520m = 31.68 CPU.
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools: at HPA maximum, regular-only services (checkout, storefront) "
        "and ingress-nginx (3 replicas) request 32.8 CPU / 32.9 GiB but regular pools (base) allocate at most "
        "31.7 CPU / 114.4 GiB: short 1.2 CPU",
    )


def test_pod_larger_than_any_node_of_its_pools_is_rejected() -> None:
    config = _production()
    _override(
        config,
        "checkout",
        {
            "resources": {"requests": {"cpu": "4", "memory": "256Mi"}, "limits": {"cpu": "4", "memory": "512Mi"}},
            "autoscaling": {"minReplicas": 3, "maxReplicas": 3},
        },
    )
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools: regular-only service 'checkout' requests 4.0 CPU / 0.2 GiB per "
        "pod, more than one node of its pools offers after system reservations and DaemonSets "
        "(base: 3.5 CPU / 12.7 GiB)",
    )


def test_unknown_machine_type_is_rejected_with_the_known_types() -> None:
    config = _production()
    _pool(config, "spot")["machineType"] = "e2-medium"
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools[1].machineType: 'e2-medium' is not a machine type the capacity "
        "check knows; known: e2-standard-{2,4,8,16,32}, e2-highmem-{2,4,8,16}, e2-highcpu-{2,4,8,16,32}, "
        "n1-standard-{1,2,4,8,16,32,64,96}, n2-standard-{2,4,8,16,32,48,64,80,96,128}, "
        "n2-highmem-{2,4,8,16,32,48,64,80,96}, n2-highcpu-{2,4,8,16,32,48,64,80,96}, "
        "n2d-standard-{2,4,8,16,32,48,64,80,96,128,224}, n2d-highmem-{2,4,8,16,32,48,64,80,96}, "
        "n2d-highcpu-{2,4,8,16,32,48,64,80,96,128,224}, c3-standard-{4,8,22,44,88,176}, "
        "c3-highmem-{4,8,22,44,88,176}, c3-highcpu-{4,8,22,44,88,176}, t2d-standard-{1,2,4,8,16,32,48,60}",
    )


# --------------------------------------------------------------------------- spot-only without a spot pool


def test_spot_only_service_without_a_spot_pool_is_rejected() -> None:
    config = _production()
    config["platform:nodePools"] = [_pool(config, "base")]
    _override(config, "order-worker", {"placement": "spot"})
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:overrides.services.order-worker.placement: 'spot' needs a spot node pool, and this stack "
        "declares none",
    )


def test_capacity_check_names_a_spot_only_service_without_a_spot_pool_too(warnings: list[str]) -> None:
    # The config model refuses this first; a config built without its semantic pass still cannot slip through.
    config = _production()
    _override(config, "order-worker", {"placement": "spot"})
    parsed = _parse("production", config)
    regular_only = parsed.model_copy(update={"node_pools": [p for p in parsed.node_pools if not p.spot]})
    with pytest.raises(ConfigError) as error:
        capacity_of(regular_only)
    assert str(error.value) == (
        "stack 'production': platform:nodePools: spot-only service 'order-worker' needs a schedulable spot node "
        "pool, and this stack declares none"
    )


# --------------------------------------------------------------------------- nodeSelector


def _with_compute_pool(machine_type: str, max_nodes: int) -> dict[str, Any]:
    config = _production()
    config["platform:nodePools"].append(
        {
            "name": "compute",
            "machineType": machine_type,
            "minNodes": 0,
            "maxNodes": max_nodes,
            "labels": {"workload-type": "compute"},
        }
    )
    _override(config, "checkout", {"nodeSelector": {"workload-type": "compute"}})
    return config


def test_node_selector_confines_a_service_to_the_pools_carrying_its_labels(warnings: list[str]) -> None:
    report = capacity_of(_parse("production", _with_compute_pool("e2-standard-8", 2)))
    compute = next(s for s in report.summary()["poolSets"] if s["pools"] == ["compute"])
    # checkout alone, 10 x 250m at most; 6 nodes of e2-standard-8 (7910m - 400m).
    assert compute["workloads"] == ["checkout"]
    assert compute["requested"]["max"] == {"cpuMillicores": 2500, "memoryMiB": 2560, "ephemeralStorageMiB": 3200}
    assert compute["allocatable"]["max"]["cpuMillicores"] == 6 * (7910 - 400)
    # Unselected regular workloads may use any untainted regular pool, the compute pool included.
    regular = next(s for s in report.summary()["poolSets"] if s["pools"] == ["base", "compute"])
    assert regular["workloads"] == ["checkout", "storefront"]


def test_node_selector_no_pool_carries_is_rejected() -> None:
    config = _production()
    _override(config, "checkout", {"nodeSelector": {"workload-type": "compute"}})
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools: regular-only service 'checkout' selects workload-type=compute, "
        "which no schedulable regular node pool carries",
    )


def test_node_selector_pool_too_small_for_the_maximum_is_rejected() -> None:
    config = _with_compute_pool("e2-standard-2", 1)
    _override(config, "checkout", {"autoscaling": {"minReplicas": 3, "maxReplicas": 20}})
    # 20 x 250m against 3 x (1930m - 400m) = 4590m.
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools: at HPA maximum, regular-only services (checkout) request "
        "5.0 CPU / 5.0 GiB but regular pools (compute) allocate at most 4.6 CPU / 16.5 GiB: short 0.5 CPU",
    )


def test_tainted_pool_hosts_no_platform_workload() -> None:
    config = _with_compute_pool("e2-standard-8", 2)
    _pool(config, "compute")["taints"] = [{"key": "dedicated", "value": "compute", "effect": "NO_SCHEDULE"}]
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools: regular-only service 'checkout' selects workload-type=compute, "
        "which no schedulable regular node pool carries; pools with a NoSchedule/NoExecute taint (compute) host "
        "no workload",
    )


def test_spot_pools_carry_gke_spot_label_for_selectors(warnings: list[str]) -> None:
    config = _production()
    _override(config, "order-worker", {"placement": "spot", "nodeSelector": {"cloud.google.com/gke-spot": "true"}})
    report = capacity_of(_parse("production", config))
    spot = next(s for s in report.summary()["poolSets"] if s["pools"] == ["spot"])
    assert spot["workloads"] == ["order-worker"]


def test_well_known_node_labels_satisfy_selectors(warnings: list[str]) -> None:
    config = _production()
    _override(config, "checkout", {"nodeSelector": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}})
    _override(config, "storefront", {"nodeSelector": {"node.kubernetes.io/instance-type": "e2-standard-4"}})
    report = capacity_of(_parse("production", config))
    base = next(s for s in report.summary()["poolSets"] if s["pools"] == ["base"])
    assert base["workloads"] == ["checkout", "storefront"]


def test_zones_come_from_node_locations_when_set(warnings: list[str]) -> None:
    config = _production()
    _pool(config, "base")["nodeLocations"] = ["europe-west1-b", "europe-west1-c"]
    report = capacity_of(_parse("production", config))
    assert report.summary()["pools"]["base"]["nodes"] == {"min": 2, "max": 6}


def test_zonal_cluster_pools_run_in_one_zone(staging: ProgramRun) -> None:
    assert staging.outputs["capacity"]["pools"]["base"]["zones"] == 1
    assert staging.outputs["capacity"]["pools"]["spot"]["nodes"] == {"min": 0, "max": 4}
