"""`plan`: what a stack would deploy, without the Pulumi CLI or a cloud account.

    venv/bin/python -m tools.plan --stack production
    venv/bin/python -m tools.plan --stack staging --dir examples/learning --out /tmp/learning-staging

It runs the program under the test harness's mocks (the same engine the tests use) and prints, per
component, what it would create and the values that matter: node pools and their sizes, namespaces
with their policy mode, services with replicas, resources and routes, secrets by name only, data
services (engine, image, volume, clients), the add-on charts, resource counts, the capacity, cost
and timing summaries, the reachability matrix (who may
open connections to whom on which ports, evaluated from the NetworkPolicies), and the gates (strict Kubernetes
schemas, CRD schemas, Checkov when its virtualenv exists). `--out DIR` writes every Kubernetes
object as YAML, one file per object, with every secret value redacted, for review, `kubectl diff`
or a GitOps repository, and beside them the add-on charts' objects, rendered with `helm template`
where a helm binary and the pinned chart are on this machine; each add-on it cannot render is named
in one line with the reason (tools/addon_charts.py). A config the program refuses prints its
one-line errors and exits 1.

`type: config` secret keys get a stand-in value, as an operator would supply them; no value the
program generates or is given is ever printed or written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from crd_schemas import crd_failures  # noqa: E402
from gates import (  # noqa: E402
    CHECKOV_VENV,
    api_version_failures,
    checkov_failures,
    custom_resources,
    is_kubernetes_object,
    platform_config,
    schema_failures,
)
from harness import ProgramRun, run_program, stack_config, stand_in_secrets  # noqa: E402

from components.config import ConfigError, PlatformConfig  # noqa: E402
from components.planning.quotas import quota_fit  # noqa: E402
from components.planning.reachability import edge_endpoints, monitoring_endpoint, reachability_table  # noqa: E402
from components.platform import ingress_edge, platform_pods  # noqa: E402
from components.workloads.config import ServiceConfig  # noqa: E402
from components.yaml_files import StackFileError  # noqa: E402
from tools.addon_charts import write_addon_charts  # noqa: E402
from tools.manifests import write_manifests  # noqa: E402


def _section(title: str) -> None:
    print(f"\n== {title}")


def print_summary(run: ProgramRun, config: PlatformConfig) -> None:
    cluster = config.cluster
    print(f"stack {run.stack}: environment {config.environment}, app {config.app}")
    # Every pulumi.log.warn the program made, as `pulumi preview` prints them: capacity, timing, SLO
    # windows against retention, quotas at the HPA maximum, liveness probes that run the readiness check.
    _section(f"warnings ({len(run.warnings)})")
    for warning in run.warnings:
        print(f"  {warning}")
    _section("cluster")
    if config.creates_cluster:
        print(
            f"GKE {cluster.name} in {cluster.location} ({'regional' if cluster.regional else 'zonal'}), "
            f"channel {cluster.release_channel}"
        )
        for pool in config.node_pools:
            kind = "spot" if pool.spot else "on-demand"
            print(f"  pool {pool.name}: {pool.machine_type} {kind}, {pool.min_nodes}-{pool.max_nodes} nodes per zone")
    else:
        print(f"existing cluster, kubeconfig context {cluster.context}; no GCP resource")
    _section("namespaces")
    for ns in config.namespaces:
        quota = ns.quota
        print(
            f"  {ns.name}: policy {ns.policy}, pod security {ns.pod_security}, quota "
            f"{quota.requests_cpu} CPU / {quota.requests_memory} requested, {quota.pods} pods"
        )
    _section("secrets (names and keys only)")
    for secret in [*config.secrets, *config.data_secrets]:
        print(f"  {secret.name} in {', '.join(secret.namespaces)}: {', '.join(secret.keys)}")
    if config.data_services:
        _section("data services")
    for store in config.data_services:
        print(
            f"  {store.namespace}/{store.name}: {store.type} {store.image}, replicas {store.replicas}, "
            f"volume {store.storage_size} each, clients {', '.join(store.client_names) or 'none'}"
        )
    _section("services")
    for svc in config.services:
        res = svc.effective_resources
        replicas = f"{svc.min_replicas}-{svc.max_replicas}" if svc.autoscaling else str(svc.min_replicas)
        print(
            f"  {svc.namespace}/{svc.name}: {svc.image}, replicas {replicas}, placement {svc.placement}, "
            f"requests {res.requests.cpu}/{res.requests.memory}, limits {res.limits.cpu}/{res.limits.memory}"
        )
        for route in svc.routes:
            print(f"    route {route.host}{route.path} -> port {route.port}")
        if svc.canary is not None:
            print(f"    canary {svc.canary.image}: {svc.canary.weight}% of the routes' requests, same scaling")
        if svc.slo is not None:
            print(f"    SLO {describe_slo(svc)}")
        stores = [f"{d.name} ({d.type}, {d.mode})" for d in config.data_services if svc.name in d.clients]
        if stores:
            print(f"    data stores {', '.join(stores)}")
        if svc.allow_from:
            print(f"    called by {', '.join(svc.allow_from)}")
    _section("add-on charts")
    for release in run.of_type("kubernetes:helm.sh/v3:Release"):
        inputs = release.inputs
        print(f"  {inputs.get('chart')} {inputs.get('version')} in {inputs.get('namespace')}")
    _section("resources by type")
    for typ, count in sorted(Counter(r.type for r in run.resources).items()):
        print(f"  {count:4d}  {typ}")
    print_reachability(run, config)
    _section("capacity (requests against allocatable; --json for every figure)")
    print_capacity(run.outputs.get("capacity") or {})
    _section("quotas (per namespace: quota, pods' need at the HPA minimum and maximum)")
    print_quotas(quotas_of(config))
    _section("cost (USD per month, estimated; --json for the price sources)")
    print_cost(run.outputs.get("cost") or {})
    _section("timing (modeled; assumptions in components/planning/timing.py)")
    print_timing(run.outputs["timing"])


def describe_slo(svc: ServiceConfig) -> str:
    slo = svc.slo
    assert slo is not None
    parts = []
    if slo.availability is not None:
        parts.append(f"availability {slo.availability.target:g}% over {slo.availability.window}")
    if slo.latency is not None and slo.latency.target is not None:
        parts.append(f"latency {slo.latency.target:g}% within {slo.latency.threshold_seconds:g} s")
    return ", ".join(parts) or "dashboards only"


def _cpu(millicores: float) -> str:
    return f"{millicores / 1000:.2f} CPU"


def _gib(mib: float) -> str:
    return f"{mib / 1024:.1f} GiB"


def _table(rows: list[list[str]]) -> None:
    """Rows as left-aligned columns, the first row the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def print_capacity(capacity: dict[str, Any]) -> None:
    if not capacity.get("checked") or "pools" not in capacity:
        print(
            f"  not checked: {capacity.get('reason', 'no node pools the program sizes (Autopilot or an existing cluster)')}"
        )
        return
    rows = [["pool", "machine", "spot", "nodes", "allocatable per node"]]
    for name, pool in capacity["pools"].items():
        per_node = pool["allocatablePerNode"]
        rows.append(
            [
                name,
                pool["machineType"],
                "yes" if pool["spot"] else "no",
                f"{pool['nodes']['min']}-{pool['nodes']['max']}",
                f"{_cpu(per_node['cpuMillicores'])} / {_gib(per_node['memoryMiB'])}",
            ]
        )
    _table(rows)
    print()
    rows = [["at", "requested", "allocatable"]]
    for at in ("min", "max"):
        requested, allocatable = capacity["requested"][at], capacity["allocatable"][at]
        rows.append(
            [
                f"HPA {at}imum",
                f"{_cpu(requested['cpuMillicores'])} / {_gib(requested['memoryMiB'])}",
                f"{_cpu(allocatable['cpuMillicores'])} / {_gib(allocatable['memoryMiB'])}",
            ]
        )
    _table(rows)


def quotas_of(config: PlatformConfig) -> dict[str, Any]:
    return quota_fit(config.stack, config.namespaces, config.workloads, platform_pods(config)).summary()


def print_quotas(quotas: dict[str, Any]) -> None:
    if not quotas:
        print("  no namespaces")
        return
    rows = [["namespace", "requests CPU", "requests memory", "limits CPU", "limits memory", "pods"]]
    for namespace, fit in quotas.items():
        cells = [namespace]
        for key in ("requestsCpu", "requestsMemory", "limitsCpu", "limitsMemory", "pods"):
            quota, low, high = fit["quota"][key], fit["min"][key], fit["max"][key]
            if key.endswith("Cpu"):
                cells.append(f"{low / 1000:g}-{high / 1000:g} of {quota / 1000:g}")
            elif key.endswith("Memory"):
                cells.append(f"{low / 2**30:.1f}-{high / 2**30:.1f} of {quota / 2**30:g} GiB")
            else:
                cells.append(f"{low}-{high} of {quota}")
        rows.append(cells)
    _table(rows)


def _usd(amount: Any) -> str:
    return f"{amount:.2f}" if isinstance(amount, (int, float)) else str(amount)


def print_cost(cost: dict[str, Any]) -> None:
    rows = [["item", "min", "max"]]
    for name, pool in (cost.get("pools") or {}).items():
        kind = "spot" if pool["spot"] else "on-demand"
        label = f"pool {name} ({pool['machineType']} {kind}, {pool['nodes']['min']}-{pool['nodes']['max']} nodes)"
        rows.append([label, _usd(pool["monthlyUsd"]["min"]), _usd(pool["monthlyUsd"]["max"])])
    if "clusterFeeMonthlyUsd" in cost:
        fee = _usd(cost["clusterFeeMonthlyUsd"])
        rows.append(["cluster management fee", fee, fee])
    volumes = cost.get("persistentVolumesMonthlyUsd")
    if volumes:
        rows.append(["persistent volumes", _usd(volumes["min"]), _usd(volumes["max"])])
    for name, store in (cost.get("managedDataServices") or {}).items():
        monthly = store.get("monthlyUsd")
        low, high = (monthly["min"], monthly["max"]) if isinstance(monthly, dict) else (monthly, monthly)
        rows.append([f"managed {name}", _usd(low), _usd(high)])
    total = cost.get("totalMonthlyUsd")
    if total:
        rows.append(["total", _usd(total["min"]), _usd(total["max"])])
    if len(rows) == 1:
        print("  nothing priced")
        return
    _table(rows)
    if cost.get("excludes"):
        print(f"  excludes: {cost['excludes']}")


def print_timing(timing: dict[str, Any]) -> None:
    """Per service its rollout, rollback and scale-up; per stack the critical paths."""
    targets = timing["targets"]
    print(
        f"  targets: rollout {targets['rolloutSeconds']} s, rollback {targets['rollbackSeconds']} s, "
        f"scale-up {targets['scaleUpSeconds']} s"
    )
    for name, service in timing["services"].items():
        rollout, replicas = service["rolloutSeconds"], service["replicas"]
        line = (
            f"  {name}: rollout {rollout['min']} s at {replicas['min']} / {rollout['max']} s at {replicas['max']} "
            f"replicas ({service['waves']['max']} waves of {service['waveSeconds']} s), "
            f"rollback {service['rollbackSeconds']['max']} s"
        )
        scale = service["scaleUp"]
        if scale is not None:
            nodes = f", +{scale['nodesNeeded']} node(s)" if scale["nodesNeeded"] else ""
            before = scale.get("secondsWithoutHeadroom")
            warm = f" ({before} s without headroom)" if before is not None and before != scale["seconds"] else ""
            line += f", scale-up {'->'.join(map(str, scale['steps'] or []))} {scale['seconds']} s{warm}{nodes}"
        print(line)
    critical = timing["criticalPath"]
    scratch = critical["fromScratch"]
    print(f"  from scratch: {scratch['seconds']} s: {' -> '.join(step['step'] for step in scratch['path'])}")
    if critical["slowestRoute"] is not None:
        route = critical["slowestRoute"]
        print(
            f"  slowest route: {route['seconds']} s (unavoidable chain {critical['unavoidableChainSeconds']} s): "
            f"{' -> '.join(step['step'] for step in route['path'])}"
        )
    change = critical["imageTagChange"]
    print(f"  image-tag change: {change['seconds']} s (slowest: {change['slowestService']})")


def reachability_rows(run: ProgramRun, config: PlatformConfig) -> list[str]:
    """`source -> destination: ports`, one row per pair the NetworkPolicies allow, over the workloads
    plus the edge and, when monitoring runs, Prometheus."""
    extras = edge_endpoints(ingress_edge(config))
    if config.addons.monitoring.enabled:
        extras.append(monitoring_endpoint(config.addons.monitoring.namespace))
    objects = [resource.manifest for resource in run.resources if is_kubernetes_object(resource)]
    ports: dict[tuple[str, str], list[int]] = {}
    for source, destination, port in reachability_table(objects, extras):
        ports.setdefault((source, destination), []).append(port)
    return [f"{src} -> {dst}: {', '.join(map(str, found))}" for (src, dst), found in ports.items()]


def print_reachability(run: ProgramRun, config: PlatformConfig) -> None:
    _section("reachability (source -> destination: ports)")
    for row in reachability_rows(run, config):
        print(f"  {row}")


def gate_results(run: ProgramRun, config: PlatformConfig, checkov: bool) -> dict[str, list[str]]:
    results = {
        "strict Kubernetes schemas (1.31, 1.33, 1.35)": schema_failures(run),
        "current API versions": api_version_failures(run),
        "CRD schemas": crd_failures(custom_resources(run)),
    }
    if checkov:
        results["Checkov"] = checkov_failures(run, config)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="dev, staging, production or any Pulumi.<stack>.yaml")
    parser.add_argument("--dir", type=Path, default=ROOT, help="the project directory (default: the repository)")
    parser.add_argument(
        "--out",
        type=Path,
        help="write every Kubernetes object as YAML under this directory, the add-on charts' too where helm can render them",
    )
    parser.add_argument("--skip-checkov", action="store_true", help="leave out the Checkov gate (the slowest)")
    parser.add_argument("--json", action="store_true", help="print everything as one JSON document instead")
    args = parser.parse_args(argv)
    directory = args.dir.resolve()

    # A misspelt stack (`--stack prod`) must not silently plan the project's defaults; dev needs no file.
    if args.stack != "dev" and not (directory / f"Pulumi.{args.stack}.yaml").exists():
        known = ", ".join(["dev", *sorted(path.name.split(".")[1] for path in directory.glob("Pulumi.*.yaml"))])
        print(
            f"stack '{args.stack}': no Pulumi.{args.stack}.yaml in {directory}; stacks here: {known}", file=sys.stderr
        )
        return 1
    try:
        values = stack_config(args.stack, directory)
    except StackFileError as error:
        print(error, file=sys.stderr)
        return 1
    supplied = stand_in_secrets(values)
    try:
        run = run_program(args.stack, {**values, **supplied}, secret_keys=list(supplied), config_dir=directory)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    config = platform_config(args.stack, {**values, **supplied}, directory)
    checkov = not args.skip_checkov and (CHECKOV_VENV / "bin" / "checkov").exists()
    gates = gate_results(run, config, checkov)
    failed = any(gates.values())
    if args.json:
        print(json.dumps(machine_readable(run, config, gates), indent=1, default=str))
    else:
        print_summary(run, config)
        _section("gates")
        for gate, problems in gates.items():
            print(f"  {gate}: {'pass' if not problems else f'{len(problems)} problem(s)'}")
            for problem in problems:
                print(f"    {problem}")
        if not checkov:
            print("  Checkov: not run (--skip-checkov, or no .venv-checkov: .ci/run builds it)")

    if args.out is not None:
        stream = sys.stderr if args.json else sys.stdout
        count = write_manifests(run, args.out)
        print(f"\nwrote {count} manifests of the program under {args.out}", file=stream)
        # The charts' objects where helm and the pinned chart are on this machine; a line saying why not elsewhere.
        for line in write_addon_charts(run, args.out):
            print(f"  {line}", file=stream)
    return 1 if failed else 0


def machine_readable(run: ProgramRun, config: PlatformConfig, gates: dict[str, list[str]]) -> dict[str, Any]:
    """Everything the summary shows, in full: the stack's outputs as a preview computes them, the
    warnings, the quotas, the reachability rows and the gates (no secret value)."""
    return {
        "stack": run.stack,
        "environment": config.environment,
        "warnings": run.warnings,
        "capacity": run.outputs.get("capacity"),
        "cost": run.outputs.get("cost"),
        "timing": run.outputs.get("timing"),
        "quotas": quotas_of(config),
        "services": {
            f"{svc.namespace}/{svc.name}": {
                "image": svc.image,
                "replicas": {"min": svc.min_replicas, "max": svc.max_replicas},
                "placement": svc.placement,
                "routes": [f"{route.host}{route.path}" for route in svc.routes],
                "canary": svc.canary.model_dump(by_alias=True) if svc.canary is not None else None,
                "slo": describe_slo(svc) if svc.slo is not None else None,
                "dataStores": [d.name for d in config.data_services if svc.name in d.clients],
            }
            for svc in config.services
        },
        "addOnCharts": [
            {key: release.inputs.get(key) for key in ("chart", "version", "namespace")}
            for release in run.of_type("kubernetes:helm.sh/v3:Release")
        ],
        "reachability": reachability_rows(run, config),
        "resources": dict(sorted(Counter(r.type for r in run.resources).items())),
        "gates": gates,
    }


if __name__ == "__main__":
    sys.exit(main())
