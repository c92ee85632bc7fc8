"""The five seed systems in examples/, each run as a whole program per stack under mocks.

Every example stack must fit its node pools without a warning and reproduce its seed's key values:
counts and names, replicas and HPA bounds, probe timings, resource quantities, paths and hosts, and
network-policy modes. The gates every stack passes (runs, schemas, Checkov, secrets, pinned images,
routes with backends) are test_stacks.py's, for examples and root alike.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import (
    MOCK_SQL_DNS,
    ROOT_DIR,
    ProgramRun,
    assert_rejected,
    project_name,
    rejected,
    run_program,
    stack_config,
)

from components.config import NAMESPACE, PlatformConfig, parse

EXAMPLES = ROOT_DIR / "examples"
STACKS: dict[str, tuple[str, ...]] = {
    "streaming": ("dev", "staging", "production"),
    "learning": ("dev", "staging", "production"),
    "single-service": ("dev", "staging", "production"),
    "projections": ("dev", "staging", "production"),
    # No dev: ai-orchestrator needs a node labelled workload-type=compute, which only GKE stacks create.
    "code-review": ("staging", "production"),
}
# What an operator sets with `pulumi config set --secret` before the first `up`; stand-ins here.
SUPPLIED: dict[str, dict[str, str]] = {
    "streaming": {"platform:hfApiToken": "hf_mockHuggingFaceToken0123456789"},
    "learning": {},
    "single-service": {"platform:databaseUrl": "postgresql+asyncpg://app:mock-pw@10.203.0.5:5432/app"},
    "projections": {"platform:databaseUrl": "postgres://projections:mock-pw@10.204.0.5:5432/events?sslmode=require"},
    "code-review": {},
}
EXAMPLE_STACKS = [(example, stack) for example, stacks in STACKS.items() for stack in stacks]
SPOT = "cloud.google.com/gke-spot"


# --------------------------------------------------------------------------- running an example


def example_config(example: str, stack: str) -> dict[str, Any]:
    """The example's project and stack files merged, plus the secrets an operator supplies."""
    return {**stack_config(stack, EXAMPLES / example), **SUPPLIED[example]}


def run_example(example: str, stack: str, config: dict[str, Any] | None = None) -> ProgramRun:
    values = example_config(example, stack) if config is None else config
    return run_program(stack, values, secret_keys=list(SUPPLIED[example]), config_dir=EXAMPLES / example)


@functools.cache
def example_run(example: str, stack: str) -> ProgramRun:
    return run_example(example, stack)


@functools.cache
def example_platform(example: str, stack: str) -> PlatformConfig:
    """The validated config the program read for this example stack."""
    values = example_config(example, stack)
    prefix = NAMESPACE + ":"
    raw = {key[len(prefix) :]: value for key, value in values.items() if key.startswith(prefix)}
    return parse(stack, raw, values.get("gcp:project"))


@pytest.fixture(params=EXAMPLE_STACKS, ids=[f"{e}-{s}" for e, s in EXAMPLE_STACKS])
def example_stack(request: pytest.FixtureRequest) -> tuple[str, str]:
    example, stack = request.param
    return example, stack


# --------------------------------------------------------------------------- reading what was registered


def one(run: ProgramRun, kind: str, name: str) -> dict[str, Any]:
    found = run.k8s(kind, name=name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0].manifest


def names(run: ProgramRun, kind: str, namespace: str | None = None) -> set[str]:
    return {r.manifest["metadata"]["name"] for r in run.k8s(kind, namespace=namespace)}


def container(run: ProgramRun, deployment: str) -> dict[str, Any]:
    containers = one(run, "Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def pod_spec(run: ProgramRun, deployment: str) -> dict[str, Any]:
    return dict(one(run, "Deployment", deployment)["spec"]["template"]["spec"])


def resources(run: ProgramRun, deployment: str) -> tuple[dict[str, str], dict[str, str]]:
    """CPU and memory as the guide sizes them (ephemeral storage is the platform's: test_stacks checks it)."""
    values = container(run, deployment)["resources"]
    guide = ("cpu", "memory")
    return (
        {k: v for k, v in values["requests"].items() if k in guide},
        {k: v for k, v in values["limits"].items() if k in guide},
    )


def probe(run: ProgramRun, deployment: str, kind: str) -> dict[str, Any]:
    """A probe's handler path and port with its timings, numbers as ints."""
    found = container(run, deployment)[f"{kind}Probe"]
    timings = ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold")
    handler = {"path": found["httpGet"]["path"], "port": found["httpGet"]["port"]} if "httpGet" in found else {}
    if "tcpSocket" in found:
        handler = {"tcpSocket": found["tcpSocket"]["port"]}
    return {**handler, **{key: int(found[key]) for key in timings}}


def hpa(run: ProgramRun, name: str) -> dict[str, Any]:
    return dict(one(run, "HorizontalPodAutoscaler", name)["spec"])


def bounds(run: ProgramRun, name: str) -> tuple[int, int]:
    spec = hpa(run, name)
    return int(spec["minReplicas"]), int(spec["maxReplicas"])


def metric_targets(run: ProgramRun, name: str) -> dict[str, Any]:
    """{'cpu': 70, 'memory': 80, 'http_requests_per_second': '1000'} from the HPA's metrics."""
    targets: dict[str, Any] = {}
    for metric in hpa(run, name)["metrics"]:
        if metric["type"] == "Resource":
            targets[metric["resource"]["name"]] = int(metric["resource"]["target"]["averageUtilization"])
        else:
            assert metric["type"] == "Pods" and metric["pods"]["target"]["type"] == "AverageValue"
            targets[metric["pods"]["metric"]["name"]] = metric["pods"]["target"]["averageValue"]
    return targets


def scaling(run: ProgramRun, name: str, direction: str) -> tuple[int, str, list[tuple[str, int, int]]]:
    """(stabilizationWindowSeconds, selectPolicy, [(type, value, periodSeconds)]) of scaleUp or scaleDown."""
    rules = hpa(run, name)["behavior"][direction]
    policies = [(p["type"], int(p["value"]), int(p["periodSeconds"])) for p in rules["policies"]]
    return int(rules["stabilizationWindowSeconds"]), rules["selectPolicy"], policies


def pdb(run: ProgramRun, name: str) -> dict[str, int]:
    spec = one(run, "PodDisruptionBudget", name)["spec"]
    return {key: int(spec[key]) for key in ("minAvailable", "maxUnavailable") if key in spec}


# The OpenTelemetry SDK settings the platform adds to every service (tests/test_observability.py checks values).
OTEL_ENV = {
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
}


def env(run: ProgramRun, deployment: str) -> dict[str, Any]:
    """The service's own env vars: each one's value, or its valueFrom source. The platform's OTEL_*
    settings are checked to be all there, pointing at the collector, and left out."""
    found = {var["name"]: var.get("value", var.get("valueFrom")) for var in container(run, deployment).get("env", [])}
    platform = {name for name in found if name.startswith("OTEL_")}
    assert platform == OTEL_ENV
    assert found["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.tracing.svc:4318"
    assert found["OTEL_SERVICE_NAME"] == deployment
    return {name: value for name, value in found.items() if name not in platform}


def http_routes(run: ProgramRun) -> dict[tuple[str, str], dict[str, tuple[str, int]]]:
    """{(namespace, host): {path: (service, port)}} over every service's HTTPRoute."""
    routes: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}
    for resource in run.k8s("HTTPRoute"):
        manifest = resource.manifest
        if manifest["metadata"]["namespace"] == "gateway":
            continue  # the Gateway's own redirect
        (host,) = manifest["spec"]["hostnames"]
        paths = routes.setdefault((manifest["metadata"]["namespace"], host), {})
        for rule in manifest["spec"]["rules"]:
            ((match,), (backend,)) = rule["matches"], rule["backendRefs"]
            assert match["path"]["type"] == "PathPrefix"
            paths[match["path"]["value"]] = (backend["name"], int(backend["port"]))
    return routes


def assert_https_and_rate_limited(run: ProgramRun, stack: str, hosts: list[str], services: set[str]) -> None:
    """The Gateway serves `hosts` over HTTPS (plain HTTP only redirects) and limits each client to 100
    requests per second: Cloud Armor on GKE, Envoy's local limit on dev (where there is no TLS)."""
    (gateway,) = run.k8s("Gateway", "platform", namespace="gateway")
    listeners = {listener["name"]: listener for listener in gateway.manifest["spec"]["listeners"]}
    if stack == "dev":
        assert [listeners[f"http-{h.replace('.', '-')}"]["hostname"] for h in hosts] == hosts
        (policy,) = run.k8s("BackendTrafficPolicy", "rate-limit", namespace="gateway")
        assert policy.manifest["spec"]["rateLimit"]["local"]["rules"] == [
            {"limit": {"requests": 100, "unit": "Second"}}
        ]
        return
    assert [listeners[f"https-{h.replace('.', '-')}"]["protocol"] for h in hosts] == ["HTTPS"] * len(hosts)
    assert gateway.manifest["metadata"]["annotations"]["networking.gke.io/certmap"]
    redirect = run.k8s("HTTPRoute", "https-redirect", namespace="gateway")[0].manifest["spec"]["rules"]
    assert redirect[0]["filters"][0]["requestRedirect"] == {"scheme": "https", "statusCode": 301}
    policy = run.one("gcp:compute/securityPolicy:SecurityPolicy").inputs
    (throttle,) = [rule for rule in policy["rules"] if rule["action"] == "throttle"]
    assert throttle["rateLimitOptions"]["rateLimitThreshold"] == {"count": 1000, "intervalSec": 10}
    assert throttle["rateLimitOptions"]["enforceOnKey"] == "IP"
    attached = {r.manifest["spec"]["targetRef"]["name"] for r in run.k8s("GCPBackendPolicy")}
    assert attached == services


def network_policies(run: ProgramRun, namespace: str) -> dict[str, dict[str, Any]]:
    return {r.manifest["metadata"]["name"]: r.manifest["spec"] for r in run.k8s("NetworkPolicy", namespace=namespace)}


def selected_namespaces(peer: dict[str, Any]) -> list[str]:
    selector = peer["namespaceSelector"]
    if "matchLabels" in selector:
        return [selector["matchLabels"]["kubernetes.io/metadata.name"]]
    (expression,) = selector["matchExpressions"]
    assert expression["key"] == "kubernetes.io/metadata.name" and expression["operator"] == "In"
    return list(expression["values"])


def namespace_label(run: ProgramRun, namespace: str, label: str) -> str:
    return str(one(run, "Namespace", namespace)["metadata"]["labels"][label])


def domain(example: str, stack: str) -> str:
    return str(example_config(example, stack)["platform:domain"])


# --------------------------------------------------------------------------- every example stack


def test_the_project_files_run_the_repos_program_from_the_example_directory(example_stack: tuple[str, str]) -> None:
    # Pulumi resolves `main` and `virtualenv` relative to the directory holding Pulumi.yaml.
    example_dir = EXAMPLES / example_stack[0]
    project = yaml.safe_load((example_dir / "Pulumi.yaml").read_text())
    # Its own project, so its stacks are never the root project's stacks of the same name.
    assert project["name"] == f"platform-{example_stack[0]}"
    assert project["main"] == "../../"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": "../../venv"},
    }
    assert (example_dir / project["main"]).resolve() == ROOT_DIR
    # Lexically, not resolved: a worktree's venv may be a link to a shared one.
    assert Path(os.path.normpath(example_dir / project["runtime"]["options"]["virtualenv"])) == ROOT_DIR / "venv"


def test_no_two_pulumi_projects_share_a_name() -> None:
    # Two projects with one name share their stacks: `pulumi up --stack staging` in one acts on the other's.
    names: dict[str, list[str]] = {}
    for directory, subdirectories, files in os.walk(ROOT_DIR):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".") and d not in ("venv", "node_modules")]
        if "Pulumi.yaml" in files:
            path = Path(directory) / "Pulumi.yaml"
            names.setdefault(project_name(path.parent), []).append(str(path.relative_to(ROOT_DIR)))
    # The walk found the root project and every example (fixture projects may add more).
    assert {project_name(ROOT_DIR), *(project_name(EXAMPLES / example) for example in STACKS)} <= set(names)
    assert {name: paths for name, paths in names.items() if len(paths) > 1} == {}


def test_every_example_key_resolves_to_the_platform_namespace(example_stack: tuple[str, str]) -> None:
    # The program reads `platform:*` whatever the project is called; a bare key would become
    # `platform-<example>:<key>` and be silently ignored.
    example, stack = example_stack
    project = yaml.safe_load((EXAMPLES / example / "Pulumi.yaml").read_text())
    assert all(key.startswith("platform:") for key in project["config"]), list(project["config"])
    run = example_run(example, stack)
    app = project["config"]["platform:app"]["value"]
    assert {
        ns["metadata"]["labels"]["app.kubernetes.io/part-of"] for ns in (r.manifest for r in run.k8s("Namespace"))
    } == {app}
    # The engine builds every URN with the example's own project name.
    assert {r.urn.split("::")[1] for r in run.resources} == {project["name"]}


def test_every_example_fits_its_node_pools_without_warnings(example_stack: tuple[str, str]) -> None:
    run = example_run(*example_stack)
    capacity = run.outputs["capacity"]
    assert capacity["checked"] is (example_stack[1] != "dev")
    # The timing model's warnings say where a seed's settings miss seed 001's times (test_stacks.py).
    assert [w for w in run.warnings if "timing." not in w] == []


def test_no_app_gets_its_own_load_balancer(example_stack: tuple[str, str]) -> None:
    # The seeds' LoadBalancer Services are replaced by the shared ingress; app namespaces allow none.
    run = example_run(*example_stack)
    assert {r.manifest["spec"]["type"] for r in run.k8s("Service")} == {"ClusterIP"}
    quotas = [r.manifest["spec"]["hard"]["services.loadbalancers"] for r in run.k8s("ResourceQuota")]
    assert quotas and set(quotas) == {"0"}


@pytest.mark.parametrize(
    ("example", "key"),
    [(example, key) for example, supplied in SUPPLIED.items() for key in supplied],
)
def test_a_missing_supplied_secret_is_refused(example: str, key: str) -> None:
    config = example_config(example, "production")
    del config[key]
    message, registered = rejected("production", config, config_dir=EXAMPLES / example)
    secret_key = key.split(":", 1)[1]
    index = next(
        f"secrets[{secret['name']}].keys.{name}"
        for secret in config["platform:secrets"]
        for name, spec in secret["keys"].items()
        if spec.get("key") == secret_key
    )
    assert message == (
        f"stack 'production': platform:{index}.key: '{secret_key}' is not set; "
        f"run `pulumi config set --secret platform:{secret_key} <value>`"
    )
    assert registered == 0


# --------------------------------------------------------------------------- seed 000: streaming


@pytest.mark.parametrize("stack", STACKS["streaming"])
def test_streaming_namespace_secret_and_service_urls(stack: str) -> None:
    run = example_run("streaming", stack)
    assert names(run, "Namespace") >= {"deltastream"}
    assert names(run, "Deployment", "deltastream") == {"api-gateway", "worker-enricher", "socket-gateway"}

    secret = one(run, "Secret", "deltastream-secrets")
    assert secret["metadata"]["namespace"] == "deltastream"
    data = secret["stringData"]
    # Generated like `openssl rand -hex 32`; the Hugging Face token as the operator supplied it.
    assert re.fullmatch(r"[0-9a-f]{64}", data["JWT_SECRET"])
    assert data["HUGGINGFACE_API_TOKEN"] == SUPPLIED["streaming"]["platform:hfApiToken"]

    assert one(run, "ConfigMap", "api-gateway-config")["data"] == {
        "AUTH_SERVICE_URL": "http://auth:8001",
        "STORAGE_SERVICE_URL": "http://storage:8003",
        "ANALYTICS_SERVICE_URL": "http://analytics:8004",
    }
    assert container(run, "api-gateway")["envFrom"] == [{"configMapRef": {"name": "api-gateway-config"}}]
    assert env(run, "api-gateway")["JWT_SECRET"] == {
        "secretKeyRef": {"name": "deltastream-secrets", "key": "JWT_SECRET"}
    }
    assert env(run, "worker-enricher")["HUGGINGFACE_API_TOKEN"] == {
        "secretKeyRef": {"name": "deltastream-secrets", "key": "HUGGINGFACE_API_TOKEN"}
    }


@pytest.mark.parametrize("stack", STACKS["streaming"])
def test_streaming_api_gateway_sizing_probes_and_hpa(stack: str) -> None:
    run = example_run("streaming", stack)
    assert resources(run, "api-gateway") == ({"cpu": "100m", "memory": "128Mi"}, {"cpu": "200m", "memory": "256Mi"})
    assert [int(p["containerPort"]) for p in container(run, "api-gateway")["ports"]] == [8000]
    timings = {"timeoutSeconds": 3, "successThreshold": 1, "failureThreshold": 3}
    # The guide's one path, /health, serves readiness; liveness checks the process on the guide's timings.
    assert probe(run, "api-gateway", "liveness") == {
        "tcpSocket": "http",
        "initialDelaySeconds": 10,
        "periodSeconds": 30,
        **timings,
    }
    assert probe(run, "api-gateway", "readiness") == {
        "path": "/health",
        "port": "http",
        "initialDelaySeconds": 5,
        "periodSeconds": 10,
        **timings,
    }
    # The seed's 3 instances are the production floor; elsewhere its HPA's 2-10.
    assert bounds(run, "api-gateway") == ((3, 10) if stack == "production" else (2, 10))
    assert metric_targets(run, "api-gateway") == {"cpu": 70}
    assert "replicas" not in one(run, "Deployment", "api-gateway")["spec"]


@pytest.mark.parametrize("stack", STACKS["streaming"])
def test_streaming_gateways_are_routed_through_the_shared_ingress(stack: str) -> None:
    run = example_run("streaming", stack)
    zone = domain("streaming", stack)
    assert http_routes(run) == {
        ("deltastream", f"api.{zone}"): {"/": ("api-gateway", 8000)},
        ("deltastream", f"ws.{zone}"): {"/": ("socket-gateway", 8002)},
    }
    assert int(pod_spec(run, "socket-gateway")["terminationGracePeriodSeconds"]) == 60
    assert bounds(run, "worker-enricher") == (2, 8)
    # WebSockets live an hour: the backend service's timeout on GKE, the route's on Envoy Gateway.
    if stack == "dev":
        (route,) = [
            r for r in run.k8s("HTTPRoute", namespace="deltastream") if "socket" in r.manifest["metadata"]["name"]
        ]
        assert route.manifest["spec"]["rules"][0]["timeouts"] == {"request": "1h"}
    else:
        (policy,) = run.k8s("GCPBackendPolicy", "socket-gateway", namespace="deltastream")
        assert policy.manifest["spec"]["default"]["timeoutSec"] == 3600
        (api,) = run.k8s("GCPBackendPolicy", "api-gateway", namespace="deltastream")
        assert "timeoutSec" not in api.manifest["spec"]["default"]


# --------------------------------------------------------------------------- seed 001: learning

LEARNING_SERVICES = {
    "assessment-service",
    "content-service",
    "analytics-service",
    "ai-tutor-service",
    "user-service",
    "auth-service",
    "payment-service",
}


@pytest.mark.parametrize("stack", STACKS["learning"])
def test_learning_runs_seven_services_in_its_environment_namespace(stack: str) -> None:
    run = example_run("learning", stack)
    namespace = f"dreamseed-{stack}"
    assert names(run, "Deployment") == LEARNING_SERVICES
    assert names(run, "Deployment", namespace) == LEARNING_SERVICES
    assert namespace_label(run, namespace, "environment") == stack
    # Monitoring runs in every stack: the assessment HPA's custom metric needs prometheus-adapter.
    assert namespace_label(run, "dreamseed-monitoring", "environment") == "shared"
    assert namespace_label(run, "dreamseed-monitoring", "pod-security.kubernetes.io/enforce") == "privileged"


@pytest.mark.parametrize("stack", STACKS["learning"])
def test_learning_env_comes_from_the_stores_secrets_and_the_config_map(stack: str) -> None:
    run = example_run("learning", stack)
    assert env(run, "assessment-service") == {
        "DATABASE_URL": {"secretKeyRef": {"name": "postgres-assessment-service", "key": "url"}},
        "REDIS_URL": {"secretKeyRef": {"name": "redis-assessment-service", "key": "url"}},
        "KAFKA_BOOTSTRAP_SERVERS": {"secretKeyRef": {"name": "kafka-assessment-service", "key": "url"}},
    }
    config_map = one(run, "ConfigMap", "app-config")
    assert config_map["metadata"]["namespace"] == f"dreamseed-{stack}"
    assert config_map["data"]["ENVIRONMENT"] == stack
    assert config_map["data"]["LOG_LEVEL"] == ("DEBUG" if stack == "dev" else "INFO")
    secret = one(run, "Secret", "postgres-assessment-service")["stringData"]
    # Production's PostgreSQL is Cloud SQL: its DNS name (the mock's); every stack verifies TLS the same way.
    host = MOCK_SQL_DNS if stack == "production" else f"postgres.dreamseed-{stack}.svc.cluster.local"
    assert secret["url"] == (
        f"postgresql://assessment-service:{secret['password']}@{host}:5432/dreamseed"
        "?sslmode=verify-full&sslrootcert=/etc/ssl/platform/postgres/ca.crt"
    )
    assert resources(run, "assessment-service") == (
        {"cpu": "250m", "memory": "512Mi"},
        {"cpu": "500m", "memory": "1Gi"},
    )


@pytest.mark.parametrize("stack", STACKS["learning"])
def test_learning_services_probe_health_and_ready(stack: str) -> None:
    run = example_run("learning", stack)
    for service in LEARNING_SERVICES:
        liveness, readiness = probe(run, service, "liveness"), probe(run, service, "readiness")
        assert (liveness["path"], liveness["initialDelaySeconds"], liveness["periodSeconds"]) == ("/health", 30, 10)
        assert (readiness["path"], readiness["initialDelaySeconds"], readiness["periodSeconds"]) == ("/ready", 5, 5)


@pytest.mark.parametrize("stack", STACKS["learning"])
def test_learning_api_host_routes_paths_with_tls_and_a_rate_limit(stack: str) -> None:
    run = example_run("learning", stack)
    host = f"api.{domain('learning', stack)}"
    assert http_routes(run) == {
        (f"dreamseed-{stack}", host): {
            "/api/assessments": ("assessment-service", 80),
            "/api/content": ("content-service", 80),
            "/api/auth": ("auth-service", 80),
        }
    }
    assert_https_and_rate_limited(run, stack, [host], {"assessment-service", "content-service", "auth-service"})


@pytest.mark.parametrize("stack", STACKS["learning"])
def test_learning_assessment_hpa_is_the_seeds_with_a_production_floor_of_five(stack: str) -> None:
    run = example_run("learning", stack)
    assert bounds(run, "assessment-service") == ((5, 20) if stack == "production" else (3, 20))
    assert metric_targets(run, "assessment-service") == {"cpu": 70, "memory": 80, "http_requests_per_second": "1000"}
    assert scaling(run, "assessment-service", "scaleUp") == (0, "Max", [("Percent", 100, 15)])
    assert scaling(run, "assessment-service", "scaleDown") == (300, "Max", [("Percent", 50, 60)])
    assert bounds(run, "content-service")[0] == (3 if stack == "production" else 2)
    assert pdb(run, "assessment-service") == {"minAvailable": 2}


@pytest.mark.parametrize("stack", STACKS["learning"])
def test_learning_migration_job_runs_alembic_with_the_database_url(stack: str) -> None:
    run = example_run("learning", stack)
    job = one(run, "Job", "assessment-service-migrate-1-0-0")
    assert int(job["spec"]["backoffLimit"]) == 3
    assert int(job["spec"]["activeDeadlineSeconds"]) == 300
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert migrate["command"] == ["alembic", "upgrade", "head"]
    assert migrate["image"] == container(run, "assessment-service")["image"]
    assert {
        "name": "DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "postgres-assessment-service", "key": "url"}},
    } in migrate["env"]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_learning_places_tolerant_services_on_spot(stack: str) -> None:
    run = example_run("learning", stack)
    analytics = pod_spec(run, "analytics-service")
    (term,) = analytics["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"] == [{"key": SPOT, "operator": "In", "values": ["true"]}]
    tutor = pod_spec(run, "ai-tutor-service")
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in tutor["affinity"]["nodeAffinity"]
    (preferred,) = tutor["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred["preference"]["matchExpressions"] == [{"key": SPOT, "operator": "In", "values": ["true"]}]
    for service in ("analytics-service", "ai-tutor-service"):
        assert {t["key"] for t in pod_spec(run, service)["tolerations"]} == {SPOT}
    for service in LEARNING_SERVICES - {"analytics-service", "ai-tutor-service"}:
        assert "tolerations" not in pod_spec(run, service)
    pools = run.of_type("gcp:container/nodePool:NodePool")
    assert sorted(bool(pool.inputs["nodeConfig"].get("spot")) for pool in pools) == [False, True]


# --------------------------------------------------------------------------- seed 002: single-service


@pytest.mark.parametrize("stack", STACKS["single-service"])
def test_single_service_probes_have_the_seeds_exact_timings(stack: str) -> None:
    run = example_run("single-service", stack)
    assert probe(run, "example-service", "startup") == {
        "path": "/api/v1/health/startup",
        "port": "http",
        "initialDelaySeconds": 0,
        "periodSeconds": 5,
        "timeoutSeconds": 3,
        "successThreshold": 1,
        "failureThreshold": 30,
    }
    assert probe(run, "example-service", "liveness") == {
        "path": "/api/v1/health/live",
        "port": "http",
        "initialDelaySeconds": 0,
        "periodSeconds": 10,
        "timeoutSeconds": 3,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert probe(run, "example-service", "readiness") == {
        "path": "/api/v1/health/ready",
        "port": "http",
        "initialDelaySeconds": 0,
        "periodSeconds": 5,
        "timeoutSeconds": 3,
        "successThreshold": 1,
        "failureThreshold": 3,
    }


@pytest.mark.parametrize("stack", STACKS["single-service"])
def test_single_service_shuts_down_gracefully_under_a_restricted_context(stack: str) -> None:
    run = example_run("single-service", stack)
    app, pod = container(run, "example-service"), pod_spec(run, "example-service")
    assert app["lifecycle"] == {"preStop": {"sleep": {"seconds": 15.0}}}
    assert int(pod["terminationGracePeriodSeconds"]) == 30
    assert pod["securityContext"]["runAsNonRoot"] is True
    # The seed's UID 1000 raised to 10001, clear of the node's own users.
    assert int(pod["securityContext"]["runAsUser"]) == 10001
    assert app["securityContext"]["readOnlyRootFilesystem"] is True
    assert app["securityContext"]["allowPrivilegeEscalation"] is False
    assert app["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert namespace_label(run, "example-service", "pod-security.kubernetes.io/enforce") == "restricted"


@pytest.mark.parametrize("stack", STACKS["single-service"])
def test_single_service_scales_3_to_10_on_cpu_and_memory_with_the_seeds_sizes(stack: str) -> None:
    run = example_run("single-service", stack)
    assert bounds(run, "example-service") == (3, 10)
    assert metric_targets(run, "example-service") == {"cpu": 70, "memory": 80}
    assert resources(run, "example-service") == ({"cpu": "250m", "memory": "256Mi"}, {"cpu": "500m", "memory": "512Mi"})
    # The seed's production checklist: a PodDisruptionBudget and a default-deny namespace.
    assert pdb(run, "example-service") == {"maxUnavailable": 1}
    assert "default-deny-all" in network_policies(run, "example-service")
    assert one(run, "ConfigMap", "example-service-config")["data"] == {
        "REDIS_URL": "redis://redis.example-service.internal:6379/0",
        "LOG_LEVEL": "INFO",
        "ENABLE_METRICS": "true",
    }
    assert env(run, "example-service") == {
        "DATABASE_URL": {"secretKeyRef": {"name": "example-service-secrets", "key": "database-url"}},
        "JWT_SECRET": {"secretKeyRef": {"name": "example-service-secrets", "key": "jwt-secret"}},
    }


# --------------------------------------------------------------------------- seed 003: projections

PROJECTIONS_CONFIG = {
    "REPLICA_SET": "main-projections",
    "HEARTBEAT_INTERVAL": "5s",
    "STALE_WORKER_TIMEOUT": "30s",
    "COORDINATION_TIMEOUT": "60s",
    "BATCH_SIZE": "100",
    "LOG_LEVEL": "info",
}


@pytest.mark.parametrize("stack", STACKS["projections"])
def test_projections_has_no_public_http(stack: str) -> None:
    run = example_run("projections", stack)
    assert run.k8s("Ingress") == []
    charts = {r.inputs["chart"] for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    assert "ingress-nginx" not in charts
    assert run.of_type("gcp:compute/address:Address") == []


@pytest.mark.parametrize("stack", STACKS["projections"])
def test_projections_ports_env_and_config(stack: str) -> None:
    run = example_run("projections", stack)
    worker = container(run, "projections")
    assert {p["name"]: int(p["containerPort"]) for p in worker["ports"]} == {"metrics": 9090, "health": 8080}
    assert worker["envFrom"] == [{"configMapRef": {"name": "projections-config"}}]
    assert one(run, "ConfigMap", "projections-config")["data"] == PROJECTIONS_CONFIG
    assert env(run, "projections") == {
        "DATABASE_URL": {"secretKeyRef": {"name": "database-credentials", "key": "url"}},
        "POD_NAME": {"fieldRef": {"fieldPath": "metadata.name"}},
        "POD_NAMESPACE": {"fieldRef": {"fieldPath": "metadata.namespace"}},
    }
    assert resources(run, "projections") == ({"cpu": "500m", "memory": "512Mi"}, {"cpu": "1000m", "memory": "1Gi"})


@pytest.mark.parametrize("stack", STACKS["projections"])
def test_projections_probes_shutdown_and_rollout(stack: str) -> None:
    run = example_run("projections", stack)
    liveness, readiness = probe(run, "projections", "liveness"), probe(run, "projections", "readiness")
    assert liveness == {
        "path": "/health",
        "port": "health",
        "initialDelaySeconds": 30,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert readiness == {
        "path": "/ready",
        "port": "health",
        "initialDelaySeconds": 10,
        "periodSeconds": 5,
        "timeoutSeconds": 3,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    deployment = one(run, "Deployment", "projections")
    assert int(deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]) == 60
    # The app drains itself on SIGTERM; no preStop sleep eats into the 60 s.
    assert "lifecycle" not in container(run, "projections")
    strategy = deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert {key: int(value) for key, value in strategy["rollingUpdate"].items()} == {"maxSurge": 1, "maxUnavailable": 0}
    security = deployment["spec"]["template"]["spec"]["securityContext"]
    assert (security["runAsNonRoot"], int(security["runAsUser"]), int(security["fsGroup"])) == (True, 10001, 10001)


@pytest.mark.parametrize("stack", STACKS["projections"])
def test_projections_hpa_is_the_seeds_conservative_one(stack: str) -> None:
    run = example_run("projections", stack)
    assert bounds(run, "projections") == (2, 10)
    assert metric_targets(run, "projections") == {"cpu": 70}
    assert scaling(run, "projections", "scaleUp") == (300, "Min", [("Pods", 1, 60)])
    assert scaling(run, "projections", "scaleDown") == (600, "Min", [("Pods", 1, 180)])


@pytest.mark.parametrize("stack", STACKS["projections"])
def test_projections_are_scraped_by_a_service_monitor_where_monitoring_runs(stack: str) -> None:
    run = example_run("projections", stack)
    monitors = run.k8s("ServiceMonitor", namespace="projections")
    if stack == "dev":
        assert monitors == []
        return
    (monitor,) = monitors
    assert monitor.manifest["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    annotations = one(run, "Deployment", "projections")["spec"]["template"]["metadata"]["annotations"]
    assert [key for key in annotations if key.startswith("prometheus.io/")] == []


def _readme_block(example: str, heading: str) -> dict[str, Any]:
    """The first ```yaml block after `heading` in the example's README."""
    readme = (EXAMPLES / example / "README.md").read_text()
    section = readme[readme.index(heading) :]
    match = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert match is not None
    block: dict[str, Any] = yaml.safe_load(match.group(1))
    return block


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_projections_custom_metric_variant_from_the_readme(stack: str) -> None:
    config = {**example_config("projections", stack), **_readme_block("projections", "## The custom-metric HPA")}
    run = run_example("projections", stack, config)
    assert bounds(run, "projections") == (2, 10)
    assert metric_targets(run, "projections") == {"projection_lag_events": "10000"}
    assert scaling(run, "projections", "scaleUp") == (300, "Max", [("Pods", 2, 120)])
    assert scaling(run, "projections", "scaleDown") == (900, "Max", [("Pods", 1, 300)])


# --------------------------------------------------------------------------- seed 004: code-review

TRACKS = {
    "platform-v2-stable": None,
    "platform-v1-exp": "experimental",
    "platform-v3-quarantine": "quarantine",
    "platform-infrastructure": None,
    "platform-monitoring": None,
}


@pytest.mark.parametrize("stack", STACKS["code-review"])
def test_code_review_has_the_five_namespaces(stack: str) -> None:
    run = example_run("code-review", stack)
    assert names(run, "Namespace") >= set(TRACKS)
    for namespace, environment in TRACKS.items():
        assert namespace_label(run, namespace, "environment") == (environment or stack)
    assert (
        one(run, "Namespace", "platform-infrastructure")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        == "baseline"
    )
    infrastructure = run.one("kubernetes:core/v1:Namespace", "coderev-namespaces-platform-infrastructure")
    assert (infrastructure.protect, infrastructure.retain_on_delete) == (True, True)


@pytest.mark.parametrize("stack", STACKS["code-review"])
def test_code_review_network_policy_modes(stack: str) -> None:
    run = example_run("code-review", stack)
    stable = network_policies(run, "platform-v2-stable")
    experimental = network_policies(run, "platform-v1-exp")
    quarantine = network_policies(run, "platform-v3-quarantine")
    infrastructure = network_policies(run, "platform-infrastructure")
    monitoring = network_policies(run, "platform-monitoring")
    for policies in (stable, experimental, quarantine, infrastructure, monitoring):
        assert policies["default-deny-all"]["policyTypes"] == ["Ingress", "Egress"]

    def egress_namespaces(policies: dict[str, dict[str, Any]]) -> list[str]:
        (rule,) = policies["allow-declared-egress"]["egress"]
        return [name for peer in rule["to"] for name in selected_namespaces(peer)]

    # V2 stable, strict: egress only to the data namespace, and there only to pods the catalog does not
    # run (its stores and OPA are reached through their clients and allowFrom), and no traffic among its
    # own pods: its services do not call one another.
    assert egress_namespaces(stable) == ["platform-infrastructure"]
    (rule,) = stable["allow-declared-egress"]["egress"]
    # Production's PostgreSQL, Redis, Kafka and MinIO are managed services, not pods here.
    catalog = ["neo4j", "opa"] if stack == "production" else ["kafka", "minio", "neo4j", "opa", "postgres", "redis"]
    assert [peer["podSelector"] for peer in rule["to"]] == [
        {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": catalog}]}
    ]
    assert "allow-same-namespace" not in stable
    # V1 experimentation, relaxed: one empty rule, egress anywhere, and free traffic among its pods.
    assert experimental["allow-declared-egress"]["egress"] == [{}]
    assert experimental["allow-same-namespace"]["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert monitoring["allow-declared-egress"]["egress"] == [{}]
    # V3 quarantine, read-only: no traffic even within the namespace; egress to the data namespace.
    assert "allow-same-namespace" not in quarantine
    assert egress_namespaces(quarantine) == ["platform-infrastructure"]
    # Every track reaches the data namespace because each declares it, and so do the data stores
    # themselves ("allow all internal"); nothing else does.
    (rule,) = infrastructure["allow-from-declared-clients"]["ingress"]
    assert [name for peer in rule["from"] for name in selected_namespaces(peer)] == [
        "platform-infrastructure",
        "platform-v1-exp",
        "platform-v2-stable",
        "platform-v3-quarantine",
    ]
    assert egress_namespaces(infrastructure) == ["platform-infrastructure"]
    assert "allow-same-namespace" not in infrastructure
    # Ingress to the tracks comes from the edge, per service, on the routed port: on GKE's Gateway,
    # Google's front ends and health checkers.
    google_front_ends = [{"ipBlock": {"cidr": "35.191.0.0/16"}}, {"ipBlock": {"cidr": "130.211.0.0/22"}}]
    for namespace, policies in (
        ("platform-v2-stable", stable),
        ("platform-v1-exp", experimental),
        ("platform-v3-quarantine", quarantine),
    ):
        assert "allow-from-ingress-controller" not in policies
        for service in names(run, "Deployment", namespace):
            edge_rule = policies[service]["ingress"][0]
            assert edge_rule["from"] == google_front_ends
            assert edge_rule["ports"] == [{"port": "http", "protocol": "TCP"}]


@pytest.mark.parametrize("stack", STACKS["code-review"])
def test_code_review_services_are_sized_as_the_seed_says(stack: str) -> None:
    run = example_run("code-review", stack)
    assert names(run, "Deployment", "platform-v2-stable") == {"auth-service", "analysis-service", "ai-orchestrator"}
    assert names(run, "Deployment", "platform-v1-exp") == {"v1-api"}
    assert names(run, "Deployment", "platform-v3-quarantine") == {"v3-api"}
    assert resources(run, "auth-service") == ({"cpu": "250m", "memory": "512Mi"}, {"cpu": "1000m", "memory": "2Gi"})
    assert resources(run, "analysis-service") == ({"cpu": "500m", "memory": "1Gi"}, {"cpu": "2000m", "memory": "4Gi"})
    assert resources(run, "ai-orchestrator") == ({"cpu": "1000m", "memory": "2Gi"}, {"cpu": "4000m", "memory": "8Gi"})
    assert pod_spec(run, "ai-orchestrator")["nodeSelector"] == {"workload-type": "compute"}
    for service in ("auth-service", "analysis-service", "ai-orchestrator", "v1-api", "v3-api"):
        assert probe(run, service, "liveness")["initialDelaySeconds"] == 30
        assert probe(run, service, "readiness")["initialDelaySeconds"] == 10
        # Only readiness follows /health (it may check dependencies); liveness checks the process.
        assert (probe(run, service, "liveness")["tcpSocket"], probe(run, service, "readiness")["path"]) == (
            "http",
            "/health",
        )
    pools = {
        r.inputs["nodeConfig"].get("labels", {}).get("workload-type")
        for r in run.of_type("gcp:container/nodePool:NodePool")
    }
    assert "compute" in pools


@pytest.mark.parametrize("stack", STACKS["code-review"])
def test_code_review_hpas(stack: str) -> None:
    run = example_run("code-review", stack)
    assert bounds(run, "auth-service") == (3, 20)
    assert bounds(run, "analysis-service") == (3, 50)
    # A routed production service keeps 3 replicas; staging keeps the seed's floor of 2.
    assert bounds(run, "ai-orchestrator") == ((3, 30) if stack == "production" else (2, 30))
    assert metric_targets(run, "auth-service") == {"cpu": 70, "memory": 80}
    assert metric_targets(run, "analysis-service") == {"cpu": 70, "memory": 80}
    assert metric_targets(run, "ai-orchestrator") == {"cpu": 75, "memory": 80}
    assert scaling(run, "auth-service", "scaleUp") == (0, "Max", [("Percent", 100, 15)])
    assert scaling(run, "analysis-service", "scaleUp") == (0, "Max", [("Percent", 100, 15), ("Pods", 4, 15)])
    assert scaling(run, "ai-orchestrator", "scaleUp") == (0, "Max", [("Percent", 100, 15), ("Pods", 2, 15)])
    for service in ("auth-service", "analysis-service", "ai-orchestrator"):
        assert scaling(run, service, "scaleDown") == (300, "Max", [("Percent", 50, 60)])
    # The tracks' own replica counts: 1-2 for the experiment, 1 for the archive.
    assert bounds(run, "v1-api") == (1, 2)
    assert int(one(run, "Deployment", "v3-api")["spec"]["replicas"]) == 1
    assert pdb(run, "auth-service") == {"minAvailable": 2}
    assert pdb(run, "analysis-service") == {"minAvailable": 2}
    assert pdb(run, "ai-orchestrator") == {"maxUnavailable": 1}
    assert pdb(run, "opa") == {"maxUnavailable": 1}
    # Production keeps every in-cluster store's primary through drains; staging lets drains through.
    # (PostgreSQL, Redis, Kafka and MinIO are managed services there, with no pods to budget.)
    stores = {"neo4j"} if stack == "production" else set()
    assert names(run, "PodDisruptionBudget") == {"auth-service", "analysis-service", "ai-orchestrator", "opa"} | stores
    if stack == "production":
        assert pdb(run, "neo4j") == {"minAvailable": 1}


@pytest.mark.parametrize("stack", STACKS["code-review"])
def test_code_review_ingress_host_per_track_with_tls_and_rate_limit(stack: str) -> None:
    run = example_run("code-review", stack)
    zone = domain("code-review", stack)
    assert http_routes(run) == {
        ("platform-v2-stable", f"api.{zone}"): {
            "/api/auth": ("auth-service", 80),
            "/health": ("auth-service", 80),
            "/api/analyze": ("analysis-service", 80),
            "/api/orchestrate": ("ai-orchestrator", 80),
        },
        ("platform-v1-exp", f"v1.{zone}"): {"/": ("v1-api", 80)},
        ("platform-v3-quarantine", f"v3.{zone}"): {"/": ("v3-api", 80)},
    }
    routed = {"auth-service", "analysis-service", "ai-orchestrator", "v1-api", "v3-api"}
    assert_https_and_rate_limited(run, stack, [f"api.{zone}", f"v1.{zone}", f"v3.{zone}"], routed)


# --------------------------------------------------------------------------- the model changes the seeds needed


def test_a_routed_service_in_a_production_namespace_still_needs_three_replicas() -> None:
    config = example_config("code-review", "production")
    config["platform:overrides"]["services"]["auth-service"] = {
        "autoscaling": {"minReplicas": 2},
        "disruptionBudget": {"minAvailable": 1},
    }
    assert_rejected(
        "production",
        config,
        (
            "stack 'production': platform:overrides.services.auth-service.autoscaling.minReplicas: user-facing services need at least "
            "3 replicas in production, got 2"
        ),
        config_dir=EXAMPLES / "code-review",
    )


def test_a_relaxed_namespace_still_refuses_egress_cidrs() -> None:
    config = example_config("code-review", "production")
    config["platform:namespaces"][1]["egress"]["cidrs"] = ["10.0.0.0/8"]
    assert_rejected(
        "production",
        config,
        (
            "stack 'production': platform:namespaces[platform-v1-exp].egress.cidrs: a 'relaxed' namespace already allows egress to "
            "every address; remove cidrs or use policy 'strict'"
        ),
        config_dir=EXAMPLES / "code-review",
    )


@pytest.mark.parametrize(
    "declaration",
    [{"type": "string", "value": "shop"}, {"default": "shop"}, {"value": "shop", "default": "shop"}],
)
def test_the_harness_refuses_project_config_pulumi_refuses(tmp_path: Path, declaration: dict[str, str]) -> None:
    # So the examples' Pulumi.yaml files, read by the harness, are ones a real `pulumi` loads.
    project = {"name": "platform-fixture", "runtime": "python", "config": {"platform:app": declaration}}
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    with pytest.raises(AssertionError, match="platform:app"):
        stack_config("dev", tmp_path)


# --------------------------------------------------------------------------- observability (issue 17)


@pytest.mark.parametrize("stack", ("staging", "production"))
def test_code_review_stable_track_has_the_seeds_slo_alerts_and_10_percent_tracing(stack: str) -> None:
    run = example_run("code-review", stack)
    for service in ("auth-service", "analysis-service", "ai-orchestrator"):
        [rule] = run.k8s("PrometheusRule", name=f"{service}-rules", namespace="platform-v2-stable")
        groups = {group["name"]: group["rules"] for group in rule.manifest["spec"]["groups"]}
        availability = groups[f"{service}-slo-availability"]
        latency = groups[f"{service}-slo-latency"]
        # error rate < 2 %: budget 0.02; p95 < 3 s: 5 % of requests may be slower than 3 s.
        assert all("* 0.02)" in r["expr"] for r in availability if "alert" in r)
        assert all("* 0.05)" in r["expr"] for r in latency if "alert" in r)
        assert any('le=~"3|3\\\\.0+"' in r.get("expr", "") for r in latency)
        assert {r["labels"]["severity"] for r in availability if "alert" in r} == {"page", "ticket"}
        assert run.k8s("ConfigMap", name=f"dashboard-platform-v2-stable-{service}", namespace="platform-monitoring")
        assert env(run, service) is not None
        [deployment] = run.k8s("Deployment", name=service)
        values = {
            e["name"]: e.get("value") for e in deployment.manifest["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert values["OTEL_TRACES_SAMPLER_ARG"] == "0.1"


@pytest.mark.parametrize("stack", STACKS["learning"])
def test_learning_ships_the_seeds_dashboard_map_to_grafanas_sidecar(stack: str) -> None:
    run = example_run("learning", stack)
    [config_map] = run.k8s("ConfigMap", name="grafana-dashboards", namespace="dreamseed-monitoring")
    assert config_map.manifest["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = yaml.safe_load(config_map.manifest["data"]["assessment-service.json"])
    assert [panel["title"] for panel in board["panels"]] == ["Request Rate", "Error Rate"]
    # Every service also gets the platform's dashboard and health rules.
    namespace = f"dreamseed-{stack}"
    assert run.k8s("ConfigMap", name=f"dashboard-{namespace}-assessment-service", namespace="dreamseed-monitoring")
    assert run.k8s("PrometheusRule", name="assessment-service-rules", namespace=namespace)


@pytest.mark.parametrize("stack", ("staging", "production"))
def test_projections_get_health_alerts_and_a_dashboard(stack: str) -> None:
    run = example_run("projections", stack)
    [rule] = run.k8s("PrometheusRule", name="projections-rules", namespace="projections")
    alerts = {r["alert"] for group in rule.manifest["spec"]["groups"] for r in group["rules"]}
    assert {"ServicePodCrashLooping", "ServicePodsNotReady", "ServiceAutoscalerAtMax"} <= alerts
    assert run.k8s("ConfigMap", name="dashboard-projections-projections")


# The seeds' data stores: names and client ports as the seeds give them, run as data services.
SEED_STORES = {
    "streaming": {"redis": 6379, "mongodb": 27017},
    "learning": {"postgres": 5432, "redis": 6379, "kafka": 9092, "minio": 9000},
    "code-review": {"postgres": 5432, "redis": 6379, "neo4j": 7687, "minio": 9000, "kafka": 9092},
}


READ_ONLY_CLIENTS = {("code-review", "v3-api"): "database-readonly-credentials"}
_MANAGED = {
    "postgres": "gcp:sql/databaseInstance:DatabaseInstance",
    "redis": "gcp:redis/instance:Instance",
    "minio": "gcp:storage/bucket:Bucket",
    "kafka": "gcp:managedkafka/cluster:Cluster",
}
# The stores each example runs on Google's managed services, per stack.
MANAGED_STORES = {("learning", "production"): _MANAGED, ("code-review", "production"): _MANAGED}


def _role(resource_type: str) -> str:
    if resource_type.startswith("gcp:storage"):
        return "bucket"
    return "cluster" if resource_type.startswith("gcp:managedkafka") else "instance"


@pytest.mark.parametrize(
    ("example", "stack"), [(example, stack) for example in SEED_STORES for stack in STACKS[example]]
)
def test_the_seeds_data_stores_run_on_persistent_volumes(example: str, stack: str) -> None:
    run = example_run(example, stack)
    managed = MANAGED_STORES.get((example, stack), {})
    for name, port in SEED_STORES[example].items():
        if name in managed:
            # On Google's managed service instead: no pods, the resource protected, the same Secret.
            assert not run.k8s("StatefulSet", name)
            (resource,) = [r for r in run.of_type(managed[name]) if r.name.endswith(f"-{name}-{_role(managed[name])}")]
            assert resource.protect
            assert run.k8s("Secret", f"{name}-credentials")
            continue
        (workload,) = run.k8s("StatefulSet", name)
        spec = workload.manifest["spec"]
        assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
        assert spec["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"].endswith("Gi")
        (service,) = run.k8s("Service", name)
        assert int(service.manifest["spec"]["ports"][0]["port"]) == port
        assert workload.protect == (stack == "production")
        # Every client reads the store's url from its own credentials Secret.
        (policy,) = run.k8s("NetworkPolicy", name)
        clients = [
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for peer in policy.manifest["spec"]["ingress"][0]["from"]
        ]
        for client in clients:
            refs = {
                value["secretKeyRef"]["name"]
                for value in env(run, client).values()
                if isinstance(value, dict) and "secretKeyRef" in value
            }
            # The quarantine track's read-only role keeps the seed's Secret name.
            expected = READ_ONLY_CLIENTS.get((example, client), f"{name}-{client}")
            assert expected in refs, (client, name)


def test_opa_runs_as_a_stateless_service_in_the_data_namespace() -> None:
    run = example_run("code-review", "staging")
    assert run.k8s("Deployment", "opa", "platform-infrastructure")
    assert not run.k8s("StatefulSet", "opa")
