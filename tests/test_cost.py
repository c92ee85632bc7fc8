"""The cost estimate: the price table reproduces its source's listed prices, and the exported per-pool
and per-stack figures (730 hours a month) are the hand-computed ones."""

from __future__ import annotations

import pytest
from harness import ProgramRun, stack_config

from components.config import NAMESPACE, PlatformConfig, parse
from components.planning.cost import PRICE_DATE, UNKNOWN, CostEstimate, estimate_cost, hourly_price


def estimate_cost_of(config: PlatformConfig) -> CostEstimate:
    return estimate_cost(config.cluster, config.node_pools)


@pytest.mark.parametrize(
    ("machine_type", "on_demand", "spot"),
    [
        # Listed europe-west1 prices the rates were not solved from.
        ("e2-standard-8", 0.29486184, 0.111664),
        ("n2-standard-16", 0.854672, 0.088224),
        ("n2-highmem-80", 5.76488, 0.59504),
    ],
)
def test_rates_reproduce_listed_machine_prices(machine_type: str, on_demand: float, spot: float) -> None:
    assert hourly_price(machine_type, "europe-west1", spot=False) == pytest.approx(on_demand, rel=1e-6)
    assert hourly_price(machine_type, "europe-west1", spot=True) == pytest.approx(spot, rel=1e-6)


def test_unlisted_family_or_region_has_no_price() -> None:
    assert hourly_price("n2d-standard-4", "europe-west1", spot=False) is None
    assert hourly_price("e2-standard-4", "us-central1", spot=True) is None


def test_production_pools_cost_per_month(production: ProgramRun) -> None:
    cost = production.outputs["cost"]
    # e2-standard-4 in europe-west1: $0.14743092/h on demand, $0.055832/h spot; 730 h a month.
    assert cost["pools"]["base"] == {
        "machineType": "e2-standard-4",
        "spot": False,
        "nodes": {"min": 3, "max": 9},
        "hourlyUsdPerNode": 0.147431,
        "monthlyUsd": {"min": 322.87, "max": 968.62},
    }
    assert cost["pools"]["spot"] == {
        "machineType": "e2-standard-4",
        "spot": True,
        "nodes": {"min": 0, "max": 15},
        "hourlyUsdPerNode": 0.055832,
        "monthlyUsd": {"min": 0.0, "max": 611.36},
        "onDemandMonthlyUsd": {"min": 0.0, "max": 1614.37},
    }


def test_production_totals_include_the_cluster_fee_and_the_spot_saving(production: ProgramRun) -> None:
    cost = production.outputs["cost"]
    assert cost["clusterFeeMonthlyUsd"] == 73.0
    assert cost["clusterFeeFreeTierEligible"] is False
    assert cost["totalMonthlyUsd"] == {"min": 395.87, "max": 1652.98}
    assert cost["allOnDemandMonthlyUsd"] == {"min": 395.87, "max": 2655.99}
    assert cost["spotSavingMonthlyUsd"] == {"min": 0.0, "max": 1003.01}


def test_estimate_carries_its_price_source_and_date(production: ProgramRun) -> None:
    cost = production.outputs["cost"]
    assert cost["region"] == "europe-west1"
    assert cost["priceDate"] == PRICE_DATE == "2025-03-06"
    assert cost["priceSource"].startswith("https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator")


def test_staging_zonal_cluster_may_use_the_free_tier(staging: ProgramRun) -> None:
    cost = staging.outputs["cost"]
    assert cost["clusterFeeFreeTierEligible"] is True
    # 1 to 2 base nodes and 0 to 4 spot nodes, plus the $73 fee.
    assert cost["totalMonthlyUsd"] == {"min": 180.62, "max": 451.28}


def test_dev_creates_nothing_billable(dev: ProgramRun) -> None:
    assert dev.outputs["cost"] == {
        "estimated": False,
        "reason": "cluster.mode is 'existing': the program creates no billable nodes",
    }


def test_unknown_price_makes_the_pool_and_totals_unknown() -> None:
    config = stack_config("production")
    config["platform:nodePools"][1]["machineType"] = "n2d-standard-4"
    prefix = NAMESPACE + ":"
    raw = {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}
    summary = estimate_cost_of(parse("production", raw, config["gcp:project"])).summary()
    assert summary["pools"]["spot"]["hourlyUsdPerNode"] == UNKNOWN
    # No spot nodes cost nothing whatever their price; at the maximum the price is needed.
    assert summary["pools"]["spot"]["monthlyUsd"] == {"min": 0.0, "max": UNKNOWN}
    assert summary["pools"]["base"]["monthlyUsd"] == {"min": 322.87, "max": 968.62}
    assert summary["totalMonthlyUsd"] == {"min": 395.87, "max": UNKNOWN}
    assert summary["spotSavingMonthlyUsd"] == {"min": 0.0, "max": UNKNOWN}
