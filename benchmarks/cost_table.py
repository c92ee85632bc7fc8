"""Print each repo stack's estimated monthly cost as the Markdown table the README shows.

Run: venv/bin/python benchmarks/cost_table.py

The figures are `components.planning.cost.estimate_cost` for each stack's validated config, the same numbers
the program exports as its `cost` output; nothing here runs the program or calls a cloud API.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT_DIR), str(ROOT_DIR / "tests")]

from harness import stack_config  # noqa: E402

from components.config import NAMESPACE, parse  # noqa: E402
from components.planning.cost import HOURS_PER_MONTH, PRICE_DATE, PRICE_SOURCE, estimate_cost  # noqa: E402

STACKS = ("dev", "staging", "production")


def money(value: Any, decimals: int = 2) -> str:
    return f"${value:,.{decimals}f}" if isinstance(value, float | int) else str(value)


def span(values: dict[str, Any]) -> str:
    return f"{money(values['min'])} - {money(values['max'])}"


def rows(stack: str) -> list[str]:
    values = stack_config(stack)
    prefix = NAMESPACE + ":"
    raw = {key[len(prefix) :]: value for key, value in values.items() if key.startswith(prefix)}
    config = parse(stack, raw, values.get("gcp:project"))
    summary = estimate_cost(config.cluster, config.node_pools, config.workloads).summary()
    if not summary["estimated"]:
        return [f"| {stack} | - | - | - | - | {summary['reason']} | - |"]
    lines = []
    for name, pool in summary["pools"].items():
        on_demand = span(pool["onDemandMonthlyUsd"]) if pool["spot"] else "-"
        lines.append(
            f"| {stack} | {name} | {pool['machineType']}{' (spot)' if pool['spot'] else ''} "
            f"| {pool['nodes']['min']} - {pool['nodes']['max']} | {money(pool['hourlyUsdPerNode'], 4)} "
            f"| {span(pool['monthlyUsd'])} | {on_demand} |"
        )
    for storage_class, volume in summary["persistentVolumes"].items():
        gib, price = volume["GiB"], volume["usdPerGiBMonth"]
        monthly = span({k: gib[k] * price for k in ("min", "max")}) if isinstance(price, float) else price
        lines.append(
            f"| {stack} | volumes ({storage_class}) | - | {gib['min']:g} - {gib['max']:g} GiB "
            f"| {money(price, 4)}/GiB-month | {monthly} | - |"
        )
    fee = summary["clusterFeeMonthlyUsd"]
    free_tier = " (zonal: free-tier eligible)" if summary["clusterFeeFreeTierEligible"] else ""
    lines.append(f"| {stack} | cluster fee{free_tier} | - | - | $0.1000 | {money(fee)} | - |")
    lines.append(
        f"| **{stack}** | **total** | {summary['region']} | | | **{span(summary['totalMonthlyUsd'])}** "
        f"| {span(summary['allOnDemandMonthlyUsd'])} (saving {span(summary['spotSavingMonthlyUsd'])}) |"
    )
    return lines


def main() -> None:
    print(
        f"Estimated monthly cost ({HOURS_PER_MONTH} h) at the pools' minimum - maximum nodes; "
        f"list prices as of {PRICE_DATE} from {PRICE_SOURCE}.\n"
    )
    print("| Stack | Pool | Machine | Nodes | $/h per node | Monthly | All on-demand |")
    print("|---|---|---|---|---|---|---|")
    for stack in STACKS:
        print("\n".join(rows(stack)))


if __name__ == "__main__":
    main()
