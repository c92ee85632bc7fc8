"""The program against a real engine: runs the Pulumi CLI on an `e2e` stack of the program, pointed at the
control plane that e2e/run started, and checks what the engine, the kubernetes provider and the API server
made of it. Prints the summary (build, time per step, objects created, each check PASS/FAIL) and exits
non-zero when anything failed.

It works on a copy of the program in the work directory, so the stack file, the state and the venv never
touch the repository while other people use it.

Left out on purpose: the add-ons whose Helm charts need the internet (ingress-nginx, tracing, cert-manager,
monitoring) are switched off, and routes go through Ingresses, since the Gateway path always installs a chart
(e2e/README.md, "Add-ons that are off, and routing"); GKE mode needs GCP and is not run.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STACK = "e2e"
PROJECT_NAMESPACE = "platform"
# Copied into the work directory: the program, not its tests, examples, benchmarks or this harness.
PROGRAM_EXCLUDES = {
    ".git",
    "venv",
    ".venv",
    "tests",
    "examples",
    "benchmarks",
    "tools",
    "e2e",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".venv-checkov",
    ".pulumi",
}
# Each add-on's charts as ../shared/e2e-vendor/charts holds them: {key prefix: chart folder}. The stack points
# `<prefix>Source` at the folder and `<prefix>Version` at the folder's Chart.yaml version (the provider
# installs a local chart as it is), and the run prints each pin that differs from the copy it installs.
VENDORED_CHARTS = {
    "envoyGateway": {"chart": "gateway-helm-v1.9.0"},
    "tracing": {"chart": "opentelemetry-collector-0.170.0"},
    "monitoring": {
        "chart": "kube-prometheus-stack-88.5.3",
        "crdsChart": "prometheus-operator-crds-31.0.1",
        "adapterChart": "prometheus-adapter-5.3.0",
    },
    "certManager": {"chart": "cert-manager-v1.21.1"},
    "ingressNginx": {"chart": "ingress-nginx-4.15.1"},
}
# The dev configuration's add-ons, switched on where the project config leaves them off (monitoring).
ADDONS_ON = {"monitoring": True, "tracing": True}
# PLATFORM_E2E_ADDONS=0: the reduced run without any chart, routes through Ingresses (as before the charts
# were vendored).
OFFLINE_ADDONS = {"ingressNginx": False, "certManager": False, "monitoring": False, "tracing": False}
OFFLINE_ROUTING = {"controller": "ingress-nginx"}
COMMAND_TIMEOUT = 20 * 60
AWAIT_TIMEOUT = 120
# The state of these kinds is checked for "awaited" (the provider waits for them during up).
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
# Custom resources the add-ons' CRDs define, which only the API server with those CRDs (and their CEL rules) accepts.
ADDON_KINDS = (
    "GatewayClass",
    "Gateway",
    "HTTPRoute",
    "EnvoyProxy",
    "BackendTrafficPolicy",
    "ClientTrafficPolicy",
    "PrometheusRule",
    "ServiceMonitor",
    "AlertmanagerConfig",
)
# Every kind that a platform could create: the control plane is clean after destroy when none is left over.
INVENTORY_KINDS = (
    "namespaces,configmaps,secrets,serviceaccounts,services,deployments,statefulsets,daemonsets,jobs,cronjobs,"
    "replicasets,pods,persistentvolumeclaims,resourcequotas,limitranges,networkpolicies,poddisruptionbudgets,"
    "horizontalpodautoscalers,ingresses,ingressclasses,roles,rolebindings,clusterroles,clusterrolebindings,"
    "priorityclasses,storageclasses,persistentvolumes"
)
# Created by the control plane itself in every namespace: not the program's.
CONTROL_PLANE_OBJECTS = re.compile(r"^(configmap/kube-root-ca\.crt|serviceaccount/default)$")
# How a Pulumi state marks a secret value: {SECRET_KEY: SECRET_SIG, "plaintext"|"ciphertext": ...}.
SECRET_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
# The engines whose clients get their own database user, made by the store's role Job.
ROLE_ENGINES = ("postgres", "redis", "mongodb")
# The label the program derives from a service's image tag, on each of the service's objects.
VERSION_LABEL = 'metadata.labels["app.kubernetes.io/version"]'


@dataclass
class Report:
    steps: list[tuple[str, float]] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    objects: Counter[str] = field(default_factory=Counter)
    # What the harness did in a controller's place (no controller pod runs under kwok).
    substitutions: list[str] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((name, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'}  {name}{': ' + detail if detail else ''}", flush=True)
        return ok


class Harness:
    def __init__(self, args: argparse.Namespace, report: Report) -> None:
        self.work = Path(args.work)
        self.cache = Path(args.cache)
        self.repo = Path(args.repo)
        self.kubeconfig = args.kubeconfig
        self.context = args.context
        self.report = report
        self.program = self.work / "program"
        self.addons_on = os.environ.get("PLATFORM_E2E_ADDONS", "1") != "0"
        self.vendor = vendor_dir(self.repo)
        self.env = dict(os.environ)
        # The machine's own plugins, when e2e/build-plugins linked them (PLATFORM_E2E_PLUGINS=system), come first.
        system_plugins = self.cache / "system-plugins"
        path = [str(system_plugins)] if system_plugins.is_dir() else []
        self.env.update(
            {
                "PATH": ":".join([*path, str(self.cache / "bin"), os.environ["PATH"]]),
                "PULUMI_HOME": str(self.work / "pulumi-home"),
                "PULUMI_CONFIG_PASSPHRASE": secrets.token_hex(16),
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "KUBECONFIG": self.kubeconfig,
            }
        )

    # --- running things ---------------------------------------------------------------------------------

    def pulumi(
        self, *args: str, log: str | None = None, check: bool = False, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI on the e2e stack; `env` adds variables for this one command."""
        cmd = ["pulumi", *args, "--non-interactive"]
        if args[0] not in ("login", "stack") or args[:2] in (("stack", "export"), ("stack", "output")):
            cmd += ["--stack", STACK]
        result = subprocess.run(
            cmd,
            cwd=self.program,
            env={**self.env, **(env or {})},
            text=True,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if log:
            shown = " ".join([*(f"{k}={v}" for k, v in (env or {}).items()), *cmd])
            (self.work / "logs" / f"{log}.log").write_text(f"$ {shown}\n{result.stdout}\n{result.stderr}")
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def kubectl(self, *args: str, stdin: str | None = None) -> Any:
        out = subprocess.run(
            ["kubectl", "--context", self.context, *args],
            env=self.env,
            text=True,
            input=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if out.returncode != 0:
            raise LookupError(out.stderr.strip())
        return json.loads(out.stdout) if "json" in args else out.stdout

    def play_controllers(self, stop: threading.Event) -> None:
        """Play, openly, the parts of the controllers that kwok cannot run which the engine or the API server
        wait for: an address in each Ingress's status (the provider awaits it); removing a webhook that fails
        closed (its pods never serve, so it would reject what it guards); removing an aggregated APIService
        that stays unavailable (it makes discovery fail, which holds up namespace deletion)."""
        patch = json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}})
        while not stop.wait(2):
            try:
                for item in self.kubectl("get", "ingresses", "-A", "-o", "json")["items"]:
                    if not item.get("status", {}).get("loadBalancer", {}).get("ingress"):
                        meta = item["metadata"]
                        self.kubectl(
                            "patch",
                            "ingress",
                            meta["name"],
                            "-n",
                            meta["namespace"],
                            "--subresource=status",
                            "--type=merge",
                            "-p",
                            patch,
                        )
                        self.substitute(f"published 127.0.0.1 in Ingress {meta['namespace']}/{meta['name']}'s status")
                for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
                    for item in self.kubectl("get", kind, "-o", "json")["items"]:
                        closed = [
                            w["name"] for w in item.get("webhooks", []) if w.get("failurePolicy", "Fail") == "Fail"
                        ]
                        if closed:
                            self.kubectl("delete", kind, item["metadata"]["name"], "--ignore-not-found")
                            self.substitute(
                                f"removed {item['kind']} {item['metadata']['name']} (fails closed: {', '.join(closed)})"
                            )
                for item in self.kubectl("get", "apiservices", "-o", "json")["items"]:
                    if item["spec"].get("service") and not any(
                        c["type"] == "Available" and c["status"] == "True"
                        for c in item.get("status", {}).get("conditions", [])
                    ):
                        self.kubectl("delete", "apiservice", item["metadata"]["name"], "--ignore-not-found")
                        self.substitute(
                            f"removed APIService {item['metadata']['name']} (unavailable: no pod serves it)"
                        )
            except (LookupError, subprocess.TimeoutExpired, KeyError):
                continue

    def substitute(self, what: str) -> None:
        if what not in self.report.substitutions:
            self.report.substitutions.append(what)
            print(f"harness substitution: {what}", flush=True)

    def timed(self, name: str, action: Callable[[], Any]) -> Any:
        start = time.monotonic()
        try:
            return action()
        finally:
            self.report.steps.append((name, time.monotonic() - start))

    # --- the stack ------------------------------------------------------------------------------------------

    def prepare(self) -> None:
        shutil.copytree(self.repo, self.program, ignore=shutil.ignore_patterns(*PROGRAM_EXCLUDES))
        # The language host runs the program with Pulumi.yaml's `virtualenv: venv`, relative to the program.
        (self.program / "venv").symlink_to(self.cache / "venv")
        (self.work / "state").mkdir()
        self.pulumi("login", f"file://{self.work / 'state'}", check=True)
        self.pulumi("stack", "init", STACK, "--secrets-provider", "passphrase", check=True)
        self.set_config(overrides=self.job_overrides())

    def job_overrides(self) -> dict[str, Any]:
        """Jobs must be seen completing under kwok: when no catalog service has a migration, give the last
        Deployment service one (the first stays free for the image bump, which would re-run it)."""
        services = [s for s in self.catalog().get("services", []) if not s.get("stateful")]
        if any(s.get("migration") for s in services) or len(services) < 2:
            return {}
        return {"services": {services[-1]["name"]: {"migration": {"command": ["migrate", "--e2e"]}}}}

    def set_config(self, overrides: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
        """Write the e2e stack's config: existing-cluster mode on the e2e control plane, the add-ons from
        the vendored charts (or off), the overrides, and any `extra` stack keys (such as nodePools)."""
        path = self.program / f"Pulumi.{STACK}.yaml"
        stack = yaml.safe_load(path.read_text()) or {}
        addons = self.addons()
        stack["config"] = {
            f"{PROJECT_NAMESPACE}:environment": "dev",
            f"{PROJECT_NAMESPACE}:cluster": {
                "mode": "existing",
                "kubeconfig": self.kubeconfig,
                "context": self.context,
            },
            f"{PROJECT_NAMESPACE}:addons": addons,
            f"{PROJECT_NAMESPACE}:ingress": {
                **(self.catalog().get("ingress") or {}),
                **({} if self.addons_on else OFFLINE_ROUTING),
            },
            f"{PROJECT_NAMESPACE}:overrides": overrides,
            # Store TLS off here only: the run builds its plugins from source, and the Go module proxy refuses
            # pulumi-tls's provider module (403), so no TLS resource may be registered (docs/data-access.md, "TLS").
            f"{PROJECT_NAMESPACE}:dataTls": {"enabled": False},
            **{f"{PROJECT_NAMESPACE}:{key}": value for key, value in (extra or {}).items()},
        }
        path.write_text(yaml.safe_dump(stack, sort_keys=False))

    def addons(self) -> dict[str, Any]:
        """The project's add-ons, with the dev add-ons on and every chart from the vendored copies."""
        if not self.addons_on:
            return {name: {"enabled": on} for name, on in OFFLINE_ADDONS.items()}
        addons: dict[str, Any] = {k: dict(v) for k, v in (self.catalog().get("addons") or {}).items()}
        pins = self.pinned_addons()
        for addon, charts in VENDORED_CHARTS.items():
            settings = addons.setdefault(addon, {})
            if addon in ADDONS_ON:
                settings["enabled"] = ADDONS_ON[addon]
            if addon == "monitoring" and os.environ.get("PLATFORM_E2E_MONITORING") == "0":
                # The vendored kube-prometheus-stack lacks the subcharts its Chart.yaml declares (Helm refuses
                # it, and its templates include them): PLATFORM_E2E_MONITORING=0 runs everything else.
                settings["enabled"] = False
                self.substitute("monitoring off (PLATFORM_E2E_MONITORING=0): the vendored chart is incomplete")
            for prefix, folder in charts.items():
                path = self.vendor / "charts" / folder
                version = str(yaml.safe_load((path / "Chart.yaml").read_text())["version"])
                settings[f"{prefix}Source"] = {"path": str(path)}
                settings[f"{prefix}Version"] = version
                pinned = pins.get(addon, {}).get(f"{prefix}Version")
                if pinned != version and (settings.get("enabled", pins.get(addon, {}).get("enabled", True))):
                    self.substitute(f"addons.{addon}.{prefix}Version: pinned {pinned}, installs the vendored {version}")
        return addons

    def pinned_addons(self) -> dict[str, Any]:
        """The add-ons' settings as the program reads the project config (defaults filled in: the pins)."""
        sys.path.insert(0, str(self.program))
        from components.config.root import AddonsConfig

        pins: dict[str, Any] = AddonsConfig.model_validate(self.catalog().get("addons") or {}).model_dump(by_alias=True)
        return pins

    def catalog(self) -> dict[str, Any]:
        """The project's shared catalogs (secrets, services, ...) as Pulumi.yaml declares them."""
        project = yaml.safe_load((self.program / "Pulumi.yaml").read_text())
        config = project.get("config", {})
        return {k: v["value"] for k, v in config.items() if isinstance(v, dict) and "value" in v}

    def export(self, show_secrets: bool = False) -> dict[str, Any]:
        """The stack's state; with show_secrets, every secret value unwrapped to its plaintext."""
        args = ["stack", "export"] + (["--show-secrets"] if show_secrets else [])
        state: dict[str, Any] = json.loads(self.pulumi(*args, check=True).stdout)
        return reveal(state) if show_secrets else state

    def kubernetes_resources(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            r
            for r in state["deployment"].get("resources", [])
            # A Helm release is the provider's record of `helm install`, not an object of the API server.
            if r["type"].startswith("kubernetes:")
            and r["type"] != "kubernetes:helm.sh/v3:Release"
            and r.get("custom")
            and "outputs" in r
        ]

    def live(self, resource: dict[str, Any]) -> dict[str, Any]:
        outputs = resource["outputs"]
        meta = outputs["metadata"]
        group, version = group_of(outputs["apiVersion"]), outputs["apiVersion"].split("/")[-1]
        target = f"{outputs['kind']}.{version}.{group}" if group else outputs["kind"]
        args = ["get", target, meta["name"], "-o", "json"]
        if meta.get("namespace"):
            args += ["-n", meta["namespace"]]
        live: dict[str, Any] = self.kubectl(*args)
        return live

    def inventory(self) -> set[str]:
        listing = self.kubectl("get", INVENTORY_KINDS, "-A", "-o", "json")
        names = set()
        for item in listing["items"]:
            kind, meta = item["kind"].lower(), item["metadata"]
            if CONTROL_PLANE_OBJECTS.match(f"{kind}/{meta['name']}"):
                continue
            names.add(f"{kind}/{meta.get('namespace', '')}/{meta['name']}")
        return names


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, read from /proc: the Pulumi CLI starts its plugins in process groups
    of their own, so only the process tree finds them all."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def vendor_dir(repo: Path) -> Path:
    """../shared/e2e-vendor beside the repository, or beside its main checkout for a git worktree."""
    common = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--path-format=absolute", "--git-common-dir"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    candidates = [repo.parent / "shared" / "e2e-vendor"]
    if common:
        candidates.append(Path(common).parent.parent / "shared" / "e2e-vendor")
    if os.environ.get("PLATFORM_E2E_VENDOR"):
        candidates.insert(0, Path(os.environ["PLATFORM_E2E_VENDOR"]))
    return next((c for c in candidates if c.is_dir()), candidates[0])


def reveal(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_KEY) == SECRET_SIG and "plaintext" in value:
            return reveal(json.loads(value["plaintext"]))
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def group_of(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


# --- comparing what was asked with what the API server holds ---------------------------------------------

QUANTITY = re.compile(r"^([0-9.]+)(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
SCALE = {
    None: 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def same_scalar(want: Any, got: Any) -> bool:
    if want == got:
        return True
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return float(want) == float(got)
    a, b = QUANTITY.match(str(want)), QUANTITY.match(str(got))
    if a and b:
        return abs(float(a[1]) * SCALE[a[2]] - float(b[1]) * SCALE[b[2]]) < 1e-9
    return str(want) == str(got)


def missing(want: Any, got: Any, path: str = "") -> list[str]:
    """Where `got` (the live object) lacks or differs from `want` (the program's inputs)."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected an object, got {got!r}"]
        return [m for k, v in want.items() for m in missing(v, got.get(k), f"{path}.{k}")]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{path}: expected {len(want)} items, got {got!r}"[:300]]
        return [m for i, (w, g) in enumerate(zip(want, got, strict=True)) for m in missing(w, g, f"{path}[{i}]")]
    return [] if same_scalar(want, got) else [f"{path}: expected {want!r}, got {got!r}"[:300]]


def expected_fields(resource: dict[str, Any]) -> dict[str, Any]:
    inputs = {k: v for k, v in resource.get("inputs", {}).items() if k not in ("apiVersion", "kind")}
    # Secrets: the API server stores stringData base64-encoded under data.
    string_data = inputs.pop("stringData", None)
    if isinstance(string_data, dict):
        inputs.setdefault("data", {}).update(
            {k: base64.b64encode(str(v).encode()).decode() for k, v in string_data.items()}
        )
    # The provider adds metadata.name for auto-named objects; the program names every addressed object.
    return inputs


# --- the checks --------------------------------------------------------------------------------------------


def check_objects(h: Harness, state: dict[str, Any]) -> None:
    problems: list[str] = []
    count: Counter[str] = Counter()
    for resource in h.kubernetes_resources(state):
        kind = resource["outputs"].get("kind", resource["type"])
        count[kind] += 1
        try:
            live = h.live(resource)
        except LookupError as error:
            problems.append(f"{resource['urn'].split('::')[-1]}: not in the API server ({error})")
            continue
        problems += [f"{kind}/{live['metadata']['name']}{m}" for m in missing(expected_fields(resource), live)]
    h.report.objects = count
    total = sum(count.values())
    h.report.check(
        "objects exist with the expected fields",
        total > 0 and not problems,
        f"{total} objects" + ("; " + "; ".join(problems[:8]) if problems else ""),
    )


def workload_state(h: Harness) -> list[str]:
    pending = []
    for kind in WORKLOAD_KINDS:
        for item in h.kubectl("get", kind.lower() + "s", "-A", "-o", "json")["items"]:
            name, spec, status = (
                f"{kind}/{item['metadata']['namespace']}/{item['metadata']['name']}",
                item["spec"],
                item.get("status", {}),
            )
            if kind == "Job":
                done = any(c["type"] == "Complete" and c["status"] == "True" for c in status.get("conditions", []))
            elif kind == "DaemonSet":
                done = status.get("numberReady", -1) == status.get("desiredNumberScheduled", 0) and status.get(
                    "updatedNumberScheduled", 0
                ) == status.get("desiredNumberScheduled", 0)
            elif kind == "Deployment":
                done = (
                    status.get("updatedReplicas", 0) == status.get("availableReplicas", -1) == spec.get("replicas", 1)
                    and status.get("observedGeneration") == item["metadata"]["generation"]
                )
            else:
                done = status.get("readyReplicas", 0) == spec.get("replicas", 1)
            if not done:
                pending.append(name)
    return pending


def check_awaited(h: Harness, label: str) -> None:
    deadline = time.monotonic() + AWAIT_TIMEOUT
    while (pending := workload_state(h)) and time.monotonic() < deadline:
        time.sleep(3)
    counts = Counter(k for k in WORKLOAD_KINDS for _ in h.kubectl("get", k.lower() + "s", "-A", "-o", "json")["items"])
    h.report.check(
        label,
        not pending,
        ", ".join(f"{n} {k}" for k, n in counts.items()) + (f"; not ready: {pending}" if pending else ""),
    )


def check_addons(h: Harness, state: dict[str, Any]) -> None:
    """Every Helm release deployed (its workloads are in check_awaited); the add-ons' custom resources and
    the dashboards accepted by the API server (created, and read back by check_objects)."""
    releases = [r for r in state["deployment"].get("resources", []) if r["type"] == "kubernetes:helm.sh/v3:Release"]
    status = {r["outputs"].get("name", r["urn"]): (r["outputs"].get("status") or {}).get("status") for r in releases}
    charts = [
        f"{(r['outputs'].get('status') or {}).get('chart')} {(r['outputs'].get('status') or {}).get('version')}"
        for r in releases
    ]
    if h.addons_on:
        h.report.check(
            "every Helm release is deployed",
            bool(releases) and all(v == "deployed" for v in status.values()),
            f"{status}; charts: {charts}",
        )
    kinds: Counter[str] = Counter()
    for r in h.kubernetes_resources(state):
        kind = r["outputs"].get("kind", "")
        if kind in ADDON_KINDS:
            kinds[kind] += 1
        elif kind == "ConfigMap" and "grafana_dashboard" in (r["outputs"]["metadata"].get("labels") or {}):
            kinds["dashboard ConfigMap"] += 1
    if h.addons_on:
        wanted = {"Gateway", "HTTPRoute", "EnvoyProxy"}
        if os.environ.get("PLATFORM_E2E_MONITORING") != "0":
            wanted |= {"PrometheusRule", "ServiceMonitor"}
        h.report.check(
            "the API server accepted the Gateway API, Envoy Gateway and prometheus-operator objects",
            wanted <= set(kinds),
            ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + f"; missing: {sorted(wanted - set(kinds))}",
        )


def check_admission(h: Harness, when: str) -> None:
    events = h.kubectl("get", "events", "-A", "-o", "json")["items"]
    failed = [
        f"{e['involvedObject']['kind']}/{e['involvedObject'].get('namespace')}/{e['involvedObject']['name']}: {e['message']}"
        for e in events
        if e.get("reason") == "FailedCreate"
    ]
    pods = h.kubectl("get", "pods", "-A", "-o", "json")["items"]
    unscheduled = [p["metadata"]["name"] for p in pods if not p["spec"].get("nodeName")]
    h.report.check(
        f"admission (PSA restricted, ResourceQuota, LimitRange) admits every pod {when}",
        not failed,
        f"{len(pods)} pods, no FailedCreate" if not failed else "; ".join(sorted(set(failed))[:5]),
    )
    h.report.check(
        f"every pod is scheduled on a fake node {when}",
        not unscheduled,
        f"unscheduled: {unscheduled}"
        if unscheduled
        else f"{len(pods)} pods on {len({p['spec']['nodeName'] for p in pods})} nodes",
    )


def check_nodes_stayed_ready(h: Harness) -> None:
    """kwok must keep the fake nodes alive (leases) for the whole run, or pods turn unready under us."""
    events = h.kubectl("get", "events", "-A", "-o", "json")["items"]
    flapped = sorted(
        {e["involvedObject"]["name"] for e in events if e.get("reason") in ("NodeNotReady", "NodeUnreachable")}
    )
    h.report.check("the fake nodes stayed Ready throughout", not flapped, f"NotReady: {flapped}" if flapped else "")


def check_admission_is_live(h: Harness, namespace: str) -> None:
    """A negative control: the admission checks above mean something only if PSA really enforces. A pod
    with no security context at all breaks `restricted` (and nothing else: no privileged flag, which the
    API server refuses on its own, and LimitRange fills in resources)."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "e2e-unrestricted", "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    try:
        h.kubectl("create", "--dry-run=server", "-f", "-", stdin=json.dumps(pod))
        rejected = ""
    except LookupError as error:
        rejected = str(error)
    h.report.check(
        f"PSA is enforced: a pod without a security context is rejected in {namespace}",
        "PodSecurity" in rejected,
        rejected.splitlines()[0][:200] if rejected else "admitted",
    )


def generated_values(state: dict[str, Any]) -> dict[str, str]:
    """URN -> each value a random resource generated, from an export with --show-secrets."""
    values = {}
    for r in state["deployment"].get("resources", []):
        if r["type"].startswith("random:"):
            for key in ("result", "hex", "base64"):
                value = r.get("outputs", {}).get(key)
                if isinstance(value, str) and len(value) >= 8:
                    values[f"{r['urn']}#{key}"] = value
    return values


def check_secrecy(h: Harness) -> None:
    state = h.export()
    plain = json.dumps(state)
    ids = {r.get("id") for r in state["deployment"].get("resources", [])}
    values = generated_values(h.export(show_secrets=True))
    leaked = [
        urn + (" (also as the resource ID)" if v in ids else "")
        for urn, v in values.items()
        if v in plain or base64.b64encode(v.encode()).decode() in plain
    ]
    h.report.check(
        "stack export holds no generated secret in plaintext",
        bool(values) and not leaked,
        f"{len(values)} generated values, all encrypted" if not leaked else f"plaintext: {leaked}",
    )


def pod_template_annotations(h: Harness) -> dict[str, dict[str, str]]:
    out = {}
    for kind in ("deployments", "statefulsets"):
        for item in h.kubectl("get", kind, "-A", "-o", "json")["items"]:
            annotations = item["spec"]["template"]["metadata"].get("annotations", {})
            out[f"{item['kind']}/{item['metadata']['namespace']}/{item['metadata']['name']}"] = {
                k: v for k, v in annotations.items() if "checksum" in k
            }
    return out


def preview_steps(h: Harness, log: str) -> list[dict[str, Any]]:
    """The steps of a preview that would touch a resource (not the stack itself)."""
    result = h.pulumi("preview", "--json", "--diff", log=log, check=True)
    return [
        s
        for s in json.loads(result.stdout).get("steps", [])
        if s["op"] != "same" and not s["urn"].split("::")[-2].endswith("pulumi:pulumi:Stack")
    ]


def check_rotation(h: Harness, secret: str, overrides: dict[str, Any]) -> None:
    before_values = generated_values(h.export(show_secrets=True))
    before_checksums = pod_template_annotations(h)
    rotation = overrides.setdefault("secrets", {}).setdefault(secret, {})
    rotation["rotation"] = 2
    h.set_config(overrides)
    up = h.timed("up (rotation)", lambda: h.pulumi("up", "--yes", "--skip-preview", log="up-rotation"))
    if not h.report.check(f"up after bumping {secret}.rotation succeeds", up.returncode == 0, tail(up)):
        return
    after_values = generated_values(h.export(show_secrets=True))
    after_checksums = pod_template_annotations(h)
    own = [k for k in before_values if f"-{secret}/" in k.split("::")[-1]]
    others = [k for k in before_values if k not in own]
    replaced = [k for k in own if after_values.get(k) not in (None, before_values[k])]
    kept = [k for k in others if after_values.get(k) == before_values[k]]
    h.report.check(
        f"rotation replaces {secret}'s random values and keeps the others",
        bool(own) and len(replaced) == len(own) and len(kept) == len(others),
        f"{len(replaced)}/{len(own)} replaced, {len(kept)}/{len(others)} others kept",
    )
    key = f"checksum/secret-{secret}"
    consumers = [w for w, a in before_checksums.items() if key in a]
    rolled = [w for w in consumers if after_checksums.get(w, {}).get(key) != before_checksums[w][key]]
    h.report.check(
        f"rotation changes the pod-template checksum of {secret}'s consumers",
        bool(consumers) and rolled == consumers,
        f"{len(rolled)}/{len(consumers)} rolled: {rolled}",
    )
    check_awaited(h, "workloads roll out after the rotation")


def check_client_rotation(h: Harness, store: dict[str, Any], client: str, overrides: dict[str, Any]) -> None:
    """Rotating one store client's password changes that client's password, its Secret, the store's
    `<store>-clients` and the role Job (which runs again under a new name), and rolls that client's pods
    only: no other workload, and not the store."""
    name = store["name"]
    before = pod_template_annotations(h)
    clients = [c if isinstance(c, dict) else {"name": c} for c in store.get("clients", [])]
    rotated = [{**c, "rotation": 2} if c["name"] == client else c for c in clients]
    overrides.setdefault("dataServices", {}).setdefault(name, {})["clients"] = rotated
    h.set_config(overrides)
    steps = preview_steps(h, "preview-client-rotation")
    changes = {s["urn"].split("::")[-1]: s["op"] for s in steps}
    # The resource names' endings (the Secrets component prefixes its own name): the client's password,
    # its Secret, the store's `<store>-clients`, the role Job.
    endings = (f"-{name}-{client}/password", f"/{name}-{client}", f"/{name}-clients", f"{name}-roles-job")
    own = {n for n in changes if n.endswith(endings)}
    stray = sorted(f"{n}: {op}" for n, op in changes.items() if n not in own and not n.startswith(f"{client}-"))
    h.report.check(
        f"rotating {name}'s client {client} changes only its password, its Secret, {name}-clients, "
        f"the role Job and {client}'s own objects",
        all(any(n.endswith(e) for n in own) for e in endings) and not stray,
        f"changes: {sorted(f'{n}: {op}' for n, op in changes.items())}" + (f"; unexpected: {stray}" if stray else ""),
    )
    up = h.timed("up (client rotation)", lambda: h.pulumi("up", "--yes", "--skip-preview", log="up-client-rotation"))
    if not h.report.check(f"up after rotating {name}'s client {client} succeeds", up.returncode == 0, tail(up)):
        return
    after = pod_template_annotations(h)
    rolled = sorted(w for w in before if after.get(w) != before[w])
    h.report.check(
        f"only {client}'s pods roll after its rotation",
        bool(rolled) and all(w.split("/")[-1] == client for w in rolled),
        f"rolled: {rolled}",
    )
    check_awaited(h, "the role Job runs again and the client rolls out after its rotation")


def check_image_bump(h: Harness, service: str, overrides: dict[str, Any]) -> None:
    deployments = [
        d for d in h.kubectl("get", "deployments", "-A", "-o", "json")["items"] if d["metadata"]["name"] == service
    ]
    if not h.report.check(f"{service} Deployment exists for the image-tag bump", len(deployments) == 1):
        return
    image = deployments[0]["spec"]["template"]["spec"]["containers"][0]["image"]
    bumped = f"{image}-e2e"
    overrides.setdefault("services", {}).setdefault(service, {})["image"] = bumped
    h.set_config(overrides)
    steps = preview_steps(h, "preview-image-bump")
    changes = {s["urn"].split("::")[-1]: (s["op"], sorted(s.get("detailedDiff") or {})) for s in steps}
    deployment = [n for n, (op, diff) in changes.items() if "spec.template.spec.containers[0].image" in diff]
    # Allowed: the service's own Deployment rolls to the new image; its other objects (Service,
    # ServiceAccount, HPA, NetworkPolicy) change in place only in the version label.
    stray = [
        f"{n}: {op} {diff}"
        for n, (op, diff) in changes.items()
        if not n.startswith(service) or op != "update" or (n not in deployment and diff != [VERSION_LABEL])
    ]
    h.report.check(
        f"an image-tag bump of {service} changes only its own objects, in place",
        len(deployment) == 1 and not stray,
        f"{deployment} rolls; {sorted(set(changes) - set(deployment))} change only app.kubernetes.io/version"
        + (f"; unexpected: {stray}" if stray else ""),
    )
    up = h.timed("up (image bump)", lambda: h.pulumi("up", "--yes", "--skip-preview", log="up-image-bump"))
    live = h.kubectl("get", "deployment", service, "-n", deployments[0]["metadata"]["namespace"], "-o", "json")
    h.report.check(
        f"up rolls {service} to the new image",
        up.returncode == 0 and live["spec"]["template"]["spec"]["containers"][0]["image"] == bumped,
        tail(up),
    )


def tail(result: subprocess.CompletedProcess[str], lines: int = 12) -> str:
    if result.returncode == 0:
        return ""
    text = (result.stdout + "\n" + result.stderr).strip().splitlines()
    return "\n        " + "\n        ".join(text[-lines:])


def run(h: Harness) -> None:
    stop = threading.Event()
    threading.Thread(target=h.play_controllers, args=(stop,), daemon=True).start()
    try:
        run_steps(h)
    finally:
        stop.set()


def run_steps(h: Harness) -> None:
    h.timed("stack init", h.prepare)
    baseline = h.inventory()

    preview = h.timed("preview", lambda: h.pulumi("preview", log="preview"))
    h.report.check("preview succeeds", preview.returncode == 0, tail(preview))
    up = h.timed("up", lambda: h.pulumi("up", "--yes", "--skip-preview", log="up"))
    if not h.report.check("up --yes succeeds", up.returncode == 0, tail(up, 30)):
        destroy(h, baseline)
        return

    try:
        check_deployed(h)
    except Exception as error:  # still destroy, so the control plane is left as found
        h.report.check("harness ran to the end", False, f"{type(error).__name__}: {error}"[:2000])
    finally:
        destroy(h, baseline)


def check_deployed(h: Harness) -> None:
    state = h.export(show_secrets=True)
    h.timed("objects", lambda: check_objects(h, state))
    check_addons(h, state)
    h.timed("await", lambda: check_awaited(h, "Deployments, StatefulSets and Jobs reach their awaited state"))
    check_admission(h, "after up")
    check_admission_is_live(h, "shop")

    second = h.timed(
        "second up", lambda: h.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes", log="up-second")
    )
    h.report.check("second up reports no changes", second.returncode == 0, tail(second))
    check_secrecy(h)

    # The first catalog secret that a workload consumes, and the first catalog service run as a Deployment.
    overrides = h.job_overrides()
    catalog = h.catalog()
    consumed = {k.removeprefix("checksum/secret-") for a in pod_template_annotations(h).values() for k in a}
    rotatable = [s["name"] for s in catalog.get("secrets", []) if s["name"] in consumed]
    deployments = {d["metadata"]["name"] for d in h.kubectl("get", "deployments", "-A", "-o", "json")["items"]}
    bumpable = [s["name"] for s in catalog.get("services", []) if s["name"] in deployments]
    if h.report.check("the catalog has a consumed secret to rotate", bool(rotatable), f"{rotatable}"):
        check_rotation(h, rotatable[0], overrides)
    if h.report.check("the catalog has a Deployment service for an image bump", bool(bumpable), f"{bumpable}"):
        check_image_bump(h, bumpable[0], overrides)
    stores = [s for s in catalog.get("dataServices", []) if s.get("clients") and s.get("type") in ROLE_ENGINES]
    if h.report.check("the catalog has a store whose clients have their own roles", bool(stores)):
        first = stores[0]["clients"][0]
        check_client_rotation(h, stores[0], first if isinstance(first, str) else first["name"], overrides)
    check_admission(h, "after the rollouts")
    check_nodes_stayed_ready(h)


def destroy(h: Harness, baseline: set[str]) -> None:
    result = h.timed("destroy", lambda: h.pulumi("destroy", "--yes", "--skip-preview", log="destroy"))
    h.report.check("destroy succeeds", result.returncode == 0, tail(result))
    left = sorted(h.inventory() - baseline)
    h.report.check(
        "destroy leaves the control plane as it found it", not left, f"left over: {left[:10]}" if left else ""
    )


def summary(report: Report, args: argparse.Namespace) -> None:
    print("\n========== e2e summary ==========")
    build = Path(args.cache, "build-summary.txt")
    print("build:")
    for line in build.read_text().splitlines() if build.exists() else []:
        print(f"  {line}")
    print("time per step:")
    shell_steps = [line.split("\t") for line in Path(args.timings).read_text().splitlines()]
    for name, seconds in [(n, float(s)) for n, s in shell_steps] + report.steps:
        print(f"  {name:<28} {seconds:>5.0f}s")
    print("objects created (kind: count):")
    for kind, n in sorted(report.objects.items()):
        print(f"  {kind:<28} {n:>5}")
    print("harness substitutions (a controller's part played under kwok):")
    for what in report.substitutions or ["none"]:
        print(f"  {what}")
    print("checks:")
    for name, ok, detail in report.checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}" + ("" if ok or not detail else f"\n        {detail[:600]}"))
    failed = sum(not ok for _, ok, _ in report.checks)
    print(f"{len(report.checks) - failed} passed, {failed} failed")


def main(
    doc: str | None, name: str, make: Callable[[argparse.Namespace, Report], Any], run: Callable[[Any], None]
) -> None:
    """What every e2e script shares: the run's arguments, `run(make(args, report))`, the summary printed
    even when the run dies (its failure in it), exit 1 on any failed check or none at all."""
    parser = argparse.ArgumentParser(description=(doc or name).splitlines()[0])
    for flag in ("--repo", "--work", "--cache", "--kubeconfig", "--context", "--timings"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    report = Report()
    try:
        run(make(args, report))
    except Exception as error:  # the summary must still be printed, with the failure in it
        report.check(f"{name} ran to the end", False, f"{type(error).__name__}: {error}"[:2000])
    summary(report, args)
    sys.exit(1 if any(not ok for _, ok, _ in report.checks) or not report.checks else 0)


if __name__ == "__main__":
    main(__doc__, "harness", Harness, run)
