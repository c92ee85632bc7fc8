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
or a GitOps repository. A config the program refuses prints its one-line errors and exits 1.

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

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from crd_schemas import crd_failures  # noqa: E402
from gates import (  # noqa: E402
    CHECKOV_VENV,
    api_version_failures,
    checkov_failures,
    custom_resources,
    integral_floats_to_ints,
    is_kubernetes_object,
    platform_config,
    schema_failures,
)
from harness import ProgramRun, is_secret_value, run_program, stack_config, stand_in_secrets  # noqa: E402

from components.config import ConfigError, PlatformConfig  # noqa: E402
from components.planning.reachability import edge_endpoints, monitoring_endpoint, reachability_table  # noqa: E402
from components.platform import ingress_edge  # noqa: E402

REDACTED = "<secret: set by pulumi up, never written here>"


def redact(value: Any) -> Any:
    """The value with every secret replaced by a marker, recursively."""
    if is_secret_value(value):
        inner = value["value"]
        return {key: REDACTED for key in inner} if isinstance(inner, dict) else REDACTED
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _section(title: str) -> None:
    print(f"\n== {title}")


def print_summary(run: ProgramRun, config: PlatformConfig) -> None:
    cluster = config.cluster
    print(f"stack {run.stack}: environment {config.environment}, app {config.app}")
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
    _section("capacity")
    print(json.dumps(run.outputs.get("capacity"), indent=1))
    _section("cost")
    print(json.dumps(run.outputs.get("cost"), indent=1))
    _section("timing (modeled; assumptions in components/planning/timing.py)")
    print_timing(run.outputs["timing"])


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


def write_manifests(run: ProgramRun, out: Path) -> int:
    """Every Kubernetes object of the run as YAML, secrets redacted: `<namespace>/<kind>-<name>.yaml`."""
    count = 0
    for resource in run.resources:
        if not is_kubernetes_object(resource):
            continue
        inputs = integral_floats_to_ints(redact(resource.inputs))
        # The order a reader expects: apiVersion, kind, metadata, then the rest.
        body = {key: inputs[key] for key in ("apiVersion", "kind", "metadata") if key in inputs} | inputs
        meta = body.get("metadata") or {}
        folder = out / (meta.get("namespace") or "_cluster")
        folder.mkdir(parents=True, exist_ok=True)
        name = meta.get("name") or resource.name
        (folder / f"{body['kind'].lower()}-{name}.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
        count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="dev, staging, production or any Pulumi.<stack>.yaml")
    parser.add_argument("--dir", type=Path, default=ROOT, help="the project directory (default: the repository)")
    parser.add_argument("--out", type=Path, help="write every Kubernetes object as YAML under this directory")
    parser.add_argument("--skip-checkov", action="store_true", help="leave out the Checkov gate (the slowest)")
    args = parser.parse_args(argv)
    directory = args.dir.resolve()

    values = stack_config(args.stack, directory)
    supplied = stand_in_secrets(values)
    try:
        run = run_program(args.stack, {**values, **supplied}, secret_keys=list(supplied), config_dir=directory)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    config = platform_config(args.stack, {**values, **supplied}, directory)
    print_summary(run, config)

    _section("gates")
    checkov = not args.skip_checkov and (CHECKOV_VENV / "bin" / "checkov").exists()
    failed = False
    for gate, problems in gate_results(run, config, checkov).items():
        print(f"  {gate}: {'pass' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            print(f"    {problem}")
        failed |= bool(problems)
    if not checkov:
        print("  Checkov: not run (--skip-checkov, or no .venv-checkov: .ci/run builds it)")

    if args.out is not None:
        count = write_manifests(run, args.out)
        print(f"\nwrote {count} manifests under {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
