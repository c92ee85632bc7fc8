"""Stack checks: what must hold for ANY valid stack file, at the root and in every example.

These tests discover the stacks that exist (dev, which needs no file, and every `Pulumi.<stack>.yaml`,
at the root and in each example) and assert only invariants: the program runs,
names are unique, every Kubernetes object passes the strict schemas (custom resources their CRD's)
and Checkov, nothing secret is
plain, the capacity check ran and passed, every image is pinned, and every route has a backend.
Adding a service, bumping a tag, changing a ConfigMap value or adding a stack file keeps them
green; the platform's behaviour is asserted by the other test files on their own fixture catalog.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from crd_schemas import crd_failures
from gates import (
    CRD_KINDS,
    CheckovReport,
    Manifest,
    api_version_failures,
    custom_resources,
    judge_checkov,
    manifests,
    platform_config,
    run_checkov,
    schema_failures,
    unvalidated_kinds,
)
from harness import (
    ROOT_DIR,
    ProgramRun,
    discover_stacks,
    is_secret_value,
    plain_strings,
    run_program,
    stack_config,
    stand_in_secrets,
)
from promql import promql_failures

from components.config.loader import TOP_LEVEL_KEYS

CATALOGS = {"services", "namespaces", "secrets", "configMaps"}


def _where(item: Manifest) -> tuple[str | None, str | None]:
    meta = item.body.get("metadata") or {}
    return meta.get("namespace"), meta.get("name")


STACKS = discover_stacks()
IDS = [f"{'root' if d == ROOT_DIR else d.name}-{s}" for d, s in STACKS]
ROOT_STACK_FILES = sorted(ROOT_DIR.glob("Pulumi.*.yaml"))


@functools.cache
def values_of(directory: Path, stack: str) -> dict[str, Any]:
    """The stack's config as the engine would read it, plus a stand-in for every supplied secret."""
    values = stack_config(stack, directory)
    return {**values, **stand_in_secrets(values)}


@functools.cache
def stack_run(directory: Path, stack: str) -> ProgramRun:
    values = values_of(directory, stack)
    return run_program(stack, values, secret_keys=list(stand_in_secrets(values)), config_dir=directory)


@pytest.fixture(params=STACKS, ids=IDS)
def stack(request: pytest.FixtureRequest) -> tuple[Path, str]:
    directory, name = request.param
    return directory, name


# --------------------------------------------------------------------------- the program runs


def test_the_program_runs_as_the_stack_files_environment(stack: tuple[Path, str]) -> None:
    run = stack_run(*stack)
    assert run.outputs["environment"] == values_of(*stack).get("platform:environment", "dev")
    assert run.resources


def test_the_capacity_check_ran_on_every_stack_that_creates_a_cluster(stack: tuple[Path, str]) -> None:
    # The program refuses a stack whose HPA maxima do not fit; a run that got here fits.
    run = stack_run(*stack)
    creates_cluster = platform_config(stack[1], values_of(*stack), stack[0]).creates_cluster
    assert run.outputs["capacity"]["checked"] is creates_cluster


def test_kubernetes_object_names_are_unique(stack: tuple[Path, str]) -> None:
    # The harness already refuses duplicate URNs; two URNs naming one object would clash in the API server.
    keys = Counter((item.api_version.split("/")[0], item.kind, *_where(item)) for item in manifests(stack_run(*stack)))
    assert [key for key, count in keys.items() if count > 1] == []


# --------------------------------------------------------------------------- the gates


def test_every_object_passes_the_strict_schemas_at_current_api_versions(stack: tuple[Path, str]) -> None:
    run = stack_run(*stack)
    assert schema_failures(run) == []
    assert set(unvalidated_kinds(run)) <= {f"{version} {kind}" for kind, version in CRD_KINDS.items()}
    assert api_version_failures(run) == []


def test_every_custom_resource_passes_its_crd_schema(stack: tuple[Path, str]) -> None:
    assert crd_failures(custom_resources(stack_run(*stack))) == []


def test_every_rule_and_dashboard_expression_parses_as_promql(stack: tuple[Path, str]) -> None:
    run = stack_run(*stack)
    expressions = [
        rule["expr"]
        for item in run.k8s("PrometheusRule")
        for group in item.manifest["spec"]["groups"]
        for rule in group["rules"]
    ]
    for config_map in run.k8s("ConfigMap"):
        if (config_map.manifest["metadata"].get("labels") or {}).get("grafana_dashboard") != "1":
            continue
        for document in config_map.manifest["data"].values():
            panels = json.loads(document).get("panels", [])
            expressions += [target["expr"] for panel in panels for target in panel.get("targets", [])]
    assert promql_failures(expressions) == []


@functools.cache
def _checkov_problems() -> dict[tuple[Path, str], list[str]]:
    """One Checkov run over every stack's objects, judged per stack against its own config."""
    by_stack = {key: manifests(stack_run(*key)) for key in STACKS}
    owner = {id(item): key for key, items in by_stack.items() for item in items}
    report = run_checkov([item for items in by_stack.values() for item in items])

    def own(key: tuple[Path, str], items: list[Manifest]) -> list[Manifest]:
        return [item for item in items if owner[id(item)] == key]

    return {
        key: judge_checkov(
            CheckovReport(
                failed=[f for f in report.failed if owner[id(f.manifest)] == key],
                skipped=[f for f in report.skipped if owner[id(f.manifest)] == key],
                parsing_errors=own(key, report.parsing_errors),
                unscanned=own(key, report.unscanned),
            ),
            platform_config(key[1], values_of(*key), key[0]),
        )
        for key in STACKS
    }


def test_every_object_passes_checkov_but_the_exceptions_its_service_chose(stack: tuple[Path, str]) -> None:
    assert _checkov_problems()[stack] == []


# --------------------------------------------------------------------------- secrets


def _secret_values(run: ProgramRun) -> set[str]:
    """Every value the program delivers in a Kubernetes Secret: generated, formatted or supplied."""
    found = set()
    for item in run.k8s("Secret"):
        data = item.inputs.get("stringData")
        assert data is None or is_secret_value(data), f"{item.name}: stringData is not secret"
        if data is not None:
            found |= {value for value in data["value"].values() if isinstance(value, str) and len(value) >= 8}
    return found


def _strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {s for item in value.values() for s in _strings(item)}
    if isinstance(value, list):
        return {s for item in value for s in _strings(item)}
    return {value} if isinstance(value, str) else set()


def _derived_constants(stack: str, values: dict[str, Any]) -> set[str]:
    """The data services' constant Secret keys, derived from plain config alone (a host name, a port,
    Cloud Storage's endpoint, a bucket name): public by construction, whatever Secret also carries them."""
    from components.config.loader import parse
    from components.tenancy.config import FormatKey

    supplied = {**values, **stand_in_secrets(values)}
    raw = {key.split(":", 1)[1]: value for key, value in supplied.items() if key.startswith("platform:")}
    config = parse(stack, raw, values.get("gcp:project"))
    return {
        spec.template
        for secret in config.data_secrets
        for spec in secret.keys.values()
        if isinstance(spec, FormatKey) and not spec.references
    }


def test_no_secret_value_appears_in_plain_anywhere(stack: tuple[Path, str]) -> None:
    run = stack_run(*stack)
    # A Secret may also carry a value written in plain config (a constant format key, e.g. a user name),
    # or a constant the platform derives from it.
    config = stack_config(stack[1], stack[0])
    written_in_plain = _strings(config) | _derived_constants(stack[1], config)
    values = (_secret_values(run) - written_in_plain) | set(stand_in_secrets(config).values())
    assert values or not run.k8s("Secret")
    leaked = [
        (resource.type, resource.name)
        for resource in run.resources
        for text in plain_strings(resource.inputs)
        if any(value in text for value in values)
    ]
    assert leaked == []
    for key, output in run.outputs.items():
        if any(value in json.dumps(output, default=str) for value in values):
            assert key in run.secret_outputs, key


# --------------------------------------------------------------------------- workloads and routes


def test_every_service_container_requests_and_limits_ephemeral_storage(stack: tuple[Path, str]) -> None:
    # One pod writing logs or scratch files must not fill a node's disk and get its neighbours evicted.
    checked = 0
    for item in manifests(stack_run(*stack)):
        if item.service is None or item.kind not in ("Deployment", "StatefulSet", "Job"):
            continue
        for container in item.body["spec"]["template"]["spec"]["containers"]:
            resources = container["resources"]
            assert resources["requests"]["ephemeral-storage"] == resources["limits"]["ephemeral-storage"], item.kind
            checked += 1
    services = platform_config(stack[1], values_of(*stack), stack[0]).workloads
    assert checked >= len([s for s in services if s.enabled])


def test_every_image_is_pinned(stack: tuple[Path, str]) -> None:
    images = [
        container["image"]
        for item in manifests(stack_run(*stack))
        if item.kind in ("Deployment", "StatefulSet", "Job")
        for container in item.body["spec"]["template"]["spec"]["containers"]
    ]
    unpinned = [image for image in images if not re.search(r"(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$", image)]
    assert unpinned == [] and not any(image.endswith(":latest") for image in images)


def test_every_route_has_a_backend_with_that_port(stack: tuple[Path, str]) -> None:
    items = manifests(stack_run(*stack))
    service_ports = {
        _where(item): {port["port"] for port in item.body["spec"]["ports"]} for item in items if item.kind == "Service"
    }
    missing = []
    for item in items:
        namespace = _where(item)[0]
        if item.kind == "Ingress":
            for rule in item.body["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    backend = path["backend"]["service"]
                    if backend["port"]["number"] not in service_ports.get((namespace, backend["name"]), set()):
                        missing.append(f"{item.label} -> {backend['name']}:{backend['port']['number']}")
        elif item.kind == "HTTPRoute":
            for rule in item.body["spec"]["rules"]:
                for ref in rule.get("backendRefs", []):
                    where = (ref.get("namespace", namespace), ref["name"])
                    if ref.get("kind", "Service") != "Service" or ref["port"] not in service_ports.get(where, set()):
                        missing.append(f"{item.label} -> {ref['name']}:{ref['port']}")
        elif (
            item.kind in ("GCPBackendPolicy", "HealthCheckPolicy")
            and (namespace, item.body["spec"]["targetRef"]["name"]) not in service_ports
        ):
            missing.append(f"{item.label} -> {item.body['spec']['targetRef']['name']}")
    assert missing == []


def test_every_httproute_attaches_to_a_listener_of_the_shared_gateway(stack: tuple[Path, str]) -> None:
    items = manifests(stack_run(*stack))
    listeners = {
        (_where(item)[0], _where(item)[1], listener["name"]): listener
        for item in items
        if item.kind == "Gateway"
        for listener in item.body["spec"]["listeners"]
    }
    detached = []
    for item in (i for i in items if i.kind == "HTTPRoute"):
        for parent in item.body["spec"]["parentRefs"]:
            listener = listeners.get((parent.get("namespace", _where(item)[0]), parent["name"], parent["sectionName"]))
            hostname = listener.get("hostname") if listener else None
            hosts = item.body["spec"].get("hostnames", [])
            if listener is None or (hostname is not None and any(host != hostname for host in hosts)):
                detached.append(f"{item.label} -> {parent['name']}/{parent['sectionName']}")
    assert detached == []


# --------------------------------------------------------------------------- the root project's files


def test_pulumi_yaml_declares_every_key_the_program_reads() -> None:
    declared = yaml.safe_load((ROOT_DIR / "Pulumi.yaml").read_text())["config"]
    assert set(TOP_LEVEL_KEYS) <= set(declared)
    for key in TOP_LEVEL_KEYS:
        assert declared[key].get("description"), f"{key} has no description"
        # Pulumi's project schema: a scalar has a type; a structured value is a `value`.
        assert "type" in declared[key] or "value" in declared[key], key


def test_pulumi_yaml_runs_python_from_its_virtualenv() -> None:
    document = yaml.safe_load((ROOT_DIR / "Pulumi.yaml").read_text())
    assert document["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}


@pytest.mark.parametrize("stack_file", ROOT_STACK_FILES, ids=[p.name for p in ROOT_STACK_FILES])
def test_root_stack_files_change_the_catalog_only_through_overrides(stack_file: Path) -> None:
    keys = set(yaml.safe_load(stack_file.read_text())["config"])
    platform_keys = {k.split(":", 1)[1] for k in keys if k.startswith("platform:")}
    assert platform_keys <= set(TOP_LEVEL_KEYS)
    assert not platform_keys & CATALOGS


# --------------------------------------------------------------------------- timing (issue 18)

PRODUCTION_STACKS = [(directory, name) for directory, name in STACKS if name == "production"]
PRODUCTION_IDS = [f"{'root' if d == ROOT_DIR else d.name}-production" for d, _ in PRODUCTION_STACKS]


def test_every_stack_exports_its_timing(stack: tuple[Path, str]) -> None:
    timing = stack_run(*stack).outputs["timing"]
    services = platform_config(stack[1], values_of(*stack), stack[0]).services
    assert sorted(timing["services"]) == sorted(s.name for s in services)
    assert timing["criticalPath"]["fromScratch"]["seconds"] > 0


@pytest.mark.parametrize("stack", PRODUCTION_STACKS, ids=PRODUCTION_IDS)
def test_routed_services_meet_seed_001s_targets_or_the_warning_says_why(stack: tuple[Path, str]) -> None:
    # Seed 001: rollout < 5 min, rollback < 2 min, scale-up < 1 min with headroom.
    run = stack_run(*stack)
    for name, timing in run.outputs["timing"]["services"].items():
        config = platform_config(stack[1], values_of(*stack), stack[0]).service(name)
        assert config is not None
        if not config.routes:
            continue
        measured = {
            "rollout": (timing["rolloutSeconds"]["max"], 300),
            "rollback": (timing["rollbackSeconds"]["max"], 120),
        }
        if timing["scaleUp"] is not None:
            measured["scaleUp"] = (timing["scaleUp"]["seconds"], 60)
        for what, (seconds, bound) in measured.items():
            if seconds <= bound:
                continue
            why = [w for w in run.warnings if f"modeled {what} of '{name}' {seconds} s exceeds" in w]
            assert len(why) == 1, f"{name}: {what} {seconds} s > {bound} s with no warning"
            # The warning names the term to change: a config key and a reason after the figures.
            assert why[0].split(f"({bound} s): ", 1)[1]


@pytest.mark.parametrize("stack", PRODUCTION_STACKS, ids=PRODUCTION_IDS)
def test_slowest_public_route_is_within_5_percent_of_the_unavoidable_chain(stack: tuple[Path, str]) -> None:
    # network -> cluster -> node pool -> edge -> route: nothing else may sit on a route's path for long.
    critical = stack_run(*stack).outputs["timing"]["criticalPath"]
    if critical["slowestRoute"] is None:
        pytest.skip("no public route in this stack")
    path = [step["step"] for step in critical["slowestRoute"]["path"]]
    assert path[0].startswith("network/") and "cluster" in path and path[-1].startswith("route/")
    assert not [step for step in path if step in ("addon/monitoring", "addon/monitoring-adapter")]
    assert critical["slowestRoute"]["seconds"] <= 1.05 * critical["unavoidableChainSeconds"]
