"""Every stack's Kubernetes objects through a real API server's server-side dry run.

    e2e/dry-run --kubeconfig KUBECONFIG --context CONTEXT [--out DIR]   (e2e/run calls it)
    e2e/dry-run --render-only --out DIR                                 (no API server: render and list)

For every stack the tests know (dev, and every `Pulumi.<stack>.yaml`, at the root and in each example), the
program runs under the tests' mocks and its Kubernetes objects are written as `tools.plan --out` writes them
(one YAML per object, secret values redacted), with the add-on charts' objects as `helm template` renders
them from the program's values (tools/addon_charts.py; a chart it cannot render is listed with the reason).
Then, against the API server:

1. the CRDs the objects use are installed for real: Gateway API and Envoy Gateway (the gateway-helm chart),
   GKE's networking.gke.io policies, prometheus-operator's and cert-manager's (their charts' CRD templates
   with the Helm directives stripped), all from ../shared/e2e-vendor, and GKE's ComputeClass from the
   repository's schema fixture (tests/crd/fixtures; GKE installs the real one);
2. per stack, what admission needs to judge a pod is created for real: the stack's Namespaces with the
   program's labels (so Pod Security Admission enforces what the program asks for), its ResourceQuotas,
   LimitRanges, ServiceAccounts and PriorityClasses;
3. every other object is applied with server-side apply, `dryRun=All` and strict field validation: the API
   server runs its validation, defaulting, CRD schemas with their CEL rules and admission, and stores
   nothing. A warning (Pod Security on a Deployment's template, a deprecated field) counts as a rejection;
4. each workload's pod template becomes a Pod created with `dryRun=All`: PSA enforces on Pods only (on
   Deployments it only warns), and LimitRange and ResourceQuota admission judge it;
5. what step 2 created is deleted again before the next stack, but the Namespaces: the next stack that
   declares one relabels it, and all are deleted at the end (with the CRDs step 1 added).

It prints every rejection (stack, object, the API server's message), and what the API server accepted but
cannot judge off GKE, with the reason. Exits non-zero on any rejection.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from checks import vendor_dir  # noqa: E402  (e2e/checks.py: one way to find ../shared/e2e-vendor)

VENDOR = vendor_dir(ROOT)
# The CRDs every stack may use, as (what, folder, files). Chart templates carry Helm directives on lines of
# their own. GKE's ComputeClass CRD is not vendored (GKE installs it): the repository's schema fixture, written
# from GKE's CRD reference, stands for it, as in tests/test_crd_schemas.py and e2e/compute.py.
CRD_SOURCES = (
    (
        "Gateway API and Envoy Gateway (gateway-helm v1.9.0)",
        VENDOR,
        "charts/gateway-helm-v1.9.0/charts/crds/crds/**/*.yaml",
    ),
    ("GKE networking.gke.io", VENDOR, "crds/gke/*.yaml"),
    (
        "prometheus-operator (prometheus-operator-crds 31.0.1)",
        VENDOR,
        "charts/prometheus-operator-crds-31.0.1/charts/crds/templates/crd-*.yaml",
    ),
    ("cert-manager (v1.21.1)", VENDOR, "charts/cert-manager-v1.21.1/templates/crd-*.yaml"),
    ("GKE ComputeClass (the schema fixture)", ROOT, "tests/crd/fixtures/computeclass.cloud.google.com.yaml"),
)

# API groups GKE serves itself; a kind of theirs without a vendored CRD cannot be judged here.
GKE_GROUPS = ("cloud.google.com", "gke.io")
HELM_DIRECTIVE = re.compile(r"^\s*\{\{.*\}\}\s*$")
FIELD_MANAGER = "platform-dry-run"
# Created for real, because admission looks them up when it judges a pod.
ADMISSION_INPUTS = ("Namespace", "ResourceQuota", "LimitRange", "ServiceAccount", "PriorityClass")
# Workload kind -> where its pod template sits.
POD_TEMPLATES = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
REDACTED_MARK = "<secret: set by pulumi up"


# --------------------------------------------------------------------------- rendering


@dataclass
class Stack:
    case: str
    directory: Path
    stack: str
    objects: list[dict[str, Any]] = field(default_factory=list)
    # The add-on charts helm could not render here, each with the reason.
    charts: list[str] = field(default_factory=list)


def cases() -> list[tuple[str, Path, str]]:
    from harness import discover_stacks

    return [
        (stack if directory == ROOT else f"{directory.name}/{stack}", directory, stack)
        for directory, stack in discover_stacks()
    ]


def render(out: Path, only: list[str] | None = None) -> list[Stack]:
    """Run the program for every stack under the mocks and write its objects as `tools.plan --out` does."""
    from gates import is_kubernetes_object
    from harness import run_program, stack_config, stand_in_secrets

    from tools.addon_charts import cluster_scoped_kinds, placed, render_all
    from tools.manifests import write_manifests

    stacks = []
    for case, directory, name in cases():
        if only and case not in only:
            continue
        values = stack_config(name, directory)
        supplied = stand_in_secrets(values)
        run = run_program(name, {**values, **supplied}, secret_keys=list(supplied), config_dir=directory)
        folder = out / case.replace("/", "--")
        write_manifests(run, folder)
        stack = Stack(case, directory, name)
        stack.objects = [yaml.safe_load(p.read_text()) for p in sorted(folder.rglob("*.yaml"))]
        assert len(stack.objects) == sum(is_kubernetes_object(r) for r in run.resources)
        program = len(stack.objects)
        # The add-on charts, as `tools.plan --out` renders them: `helm template` with the program's values.
        _helm, renderings = render_all(run)
        scoped = cluster_scoped_kinds(obj for rendering in renderings for obj in rendering.objects)
        for rendering in renderings:
            if rendering.not_rendered is not None:
                stack.charts.append(f"{rendering.release.label}: {rendering.not_rendered}")
            stack.objects += [placed(obj, rendering.release.namespace, scoped) for obj in rendering.objects]
        stacks.append(stack)
        print(
            f"rendered {case}: {program} objects, {len(stack.objects) - program} from "
            f"{len(renderings) - len(stack.charts)} of its {len(renderings)} charts",
            flush=True,
        )
    return stacks


def crd_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    # PyYAML's safe loader without the `=` value tag, which a CRD's enum of operators trips over.
    from tools.manifests import ManifestLoader

    for what, base, pattern in CRD_SOURCES:
        folder, glob = pattern.split("/**/") if "/**/" in pattern else pattern.rsplit("/", 1)
        paths = sorted((base / folder).rglob(glob) if "/**/" in pattern else (base / folder).glob(glob))
        if not paths:
            raise FileNotFoundError(f"no CRDs at {base / pattern}")
        for path in paths:
            text = "\n".join(line for line in path.read_text().splitlines() if not HELM_DIRECTIVE.match(line))
            for document in yaml.load_all(text, Loader=ManifestLoader):
                if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                    meta = document["metadata"]
                    # A stripped `labels:`/`annotations:` whose template filled it is left empty.
                    document["metadata"] = {k: v for k, v in meta.items() if v is not None}
                    yield what, document


# --------------------------------------------------------------------------- what only GKE can judge


def gke_only(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(why, detail) for each part of `obj` whose acceptance here says nothing, off GKE."""
    kind, meta, spec = obj["kind"], obj.get("metadata") or {}, obj.get("spec") or {}
    annotations = meta.get("annotations") or {}
    notes = []
    if kind == "Gateway" and str(spec.get("gatewayClassName", "")).startswith("gke-"):
        notes.append(
            ("the GatewayClass is GKE's own; only GKE's Gateway controller programs it", spec["gatewayClassName"])
        )
        for address in spec.get("addresses") or []:
            if address.get("type") == "NamedAddress":
                notes.append(("a NamedAddress names a reserved GCP address", address["value"]))
    for key, value in annotations.items():
        if key == "networking.gke.io/certmap":
            notes.append(("networking.gke.io/certmap names a Certificate Manager map in GCP", value))
        elif key == "iam.gke.io/gcp-service-account":
            notes.append(("iam.gke.io/gcp-service-account names a Google service account (Workload Identity)", value))
        elif key.startswith(("cloud.google.com/", "networking.gke.io/")):
            notes.append((f"annotation {key} is read only by GKE", str(value)))
    if kind == "GCPBackendPolicy" and (spec.get("default") or {}).get("securityPolicy"):
        notes.append(("securityPolicy names a Cloud Armor policy in GCP", spec["default"]["securityPolicy"]))
    if kind in ("GCPBackendPolicy", "HealthCheckPolicy", "GCPGatewayPolicy"):
        notes.append((f"{kind}: schema and CEL rules judged; only GKE's Gateway controller acts on it", ""))
    if REDACTED_MARK in json.dumps(obj.get("stringData") or obj.get("data") or {}):
        notes.append(("Secret values are redacted in the rendering; their keys are judged, their content is not", ""))
    return notes


# --------------------------------------------------------------------------- the API server


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Api:
    """Just enough of a Kubernetes client: server-side apply, create, delete, get, with warnings."""

    def __init__(self, kubeconfig: Path, context: str) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        ctx = next(c["context"] for c in config["contexts"] if c["name"] == context)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == ctx["user"])
        self.server = cluster["server"].rstrip("/")
        self.token = user["token"]
        # e2e/run's API server certificate is self-signed at start, on loopback only.
        self.tls = ssl.create_default_context()
        if cluster.get("insecure-skip-tls-verify"):
            self.tls.check_hostname = False
            self.tls.verify_mode = ssl.CERT_NONE
        elif cluster.get("certificate-authority-data"):
            self.tls.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        self.resources: dict[tuple[str, str], tuple[str, bool]] = {}

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json", **query: str
    ) -> tuple[Any, list[str]]:
        url = self.server + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, context=self.tls, timeout=60) as response:
                warnings = response.headers.get_all("Warning") or []
                return json.loads(response.read() or b"null"), [clean_warning(w) for w in warnings]
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                message = json.loads(text).get("message", text)
            except json.JSONDecodeError:
                message = text
            raise ApiError(error.code, message) from None

    def discover(self) -> None:
        """kind -> (collection path template, namespaced), for the preferred version of every group."""
        self.resources.clear()
        versions = [("", "v1", "/api/v1")]
        groups, _ = self.request("GET", "/apis")
        for group in groups["groups"]:
            for version in group["versions"]:
                versions.append((group["name"], version["version"], f"/apis/{version['groupVersion']}"))
        for group, version, prefix in versions:
            listing, _ = self.request("GET", prefix)
            for resource in listing["resources"]:
                if "/" in resource["name"]:
                    continue
                api_version = f"{group}/{version}" if group else version
                self.resources[(api_version, resource["kind"])] = (
                    f"{prefix}/{{ns}}{resource['name']}",
                    resource["namespaced"],
                )

    def path(self, obj: dict[str, Any], named: bool = True) -> str:
        key = (obj["apiVersion"], obj["kind"])
        if key not in self.resources:
            raise ApiError(404, f"the API server serves no {obj['kind']} in {obj['apiVersion']} (CRD missing?)")
        template, namespaced = self.resources[key]
        meta = obj["metadata"]
        ns = f"namespaces/{meta['namespace']}/" if namespaced and meta.get("namespace") else ""
        return template.format(ns=ns) + (f"/{meta['name']}" if named else "")

    def apply(self, obj: dict[str, Any], dry_run: bool) -> list[str]:
        query = {"fieldManager": FIELD_MANAGER, "fieldValidation": "Strict", "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        _, warnings = self.request("PATCH", self.path(obj), obj, "application/apply-patch+yaml", **query)
        return warnings

    def create(self, obj: dict[str, Any], dry_run: bool) -> list[str]:
        query = {"fieldValidation": "Strict", **({"dryRun": "All"} if dry_run else {})}
        _, warnings = self.request("POST", self.path(obj, named=False), obj, **query)
        return warnings

    def delete(self, obj: dict[str, Any]) -> None:
        try:
            self.request("DELETE", self.path(obj))
        except ApiError as error:
            if error.code != 404:
                raise

    def get(self, obj: dict[str, Any]) -> dict[str, Any]:
        found, _ = self.request("GET", self.path(obj))
        return dict(found)

    def exists(self, obj: dict[str, Any]) -> bool:
        try:
            self.request("GET", self.path(obj))
            return True
        except ApiError as error:
            if error.code == 404:
                return False
            raise


def clean_warning(header: str) -> str:
    # RFC 7234 form: `299 - "text"`.
    match = re.match(r'^\d{3} \S+ "(.*)"', header)
    return match[1].replace('\\"', '"') if match else header


def wait(what: str, ready: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:.0f} s")
        time.sleep(0.5)


# --------------------------------------------------------------------------- the dry run


def name_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']} {where}{meta.get('name')}"


def install_crds(api: Api, installed: list[str]) -> None:
    """Install every CRD of CRD_SOURCES; `installed` collects those that were not there before, as it goes."""
    listing, _ = api.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    present = {item["metadata"]["name"] for item in listing["items"]}
    for what, crd in crd_documents():
        if crd["metadata"]["name"] in present:
            continue
        try:
            api.request(
                "PATCH",
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}",
                crd,
                "application/apply-patch+yaml",
                fieldManager=FIELD_MANAGER,
                force="true",
            )
        except ApiError as error:
            raise RuntimeError(f"CRD {crd['metadata']['name']} from {what} refused: {error}") from None
        installed.append(crd["metadata"]["name"])

    def established() -> bool:
        for name in installed:
            crd, _ = api.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conditions = (crd.get("status") or {}).get("conditions") or []
            if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return False
        return True

    wait("CRDs established", established)
    api.discover()


def remove_crds(api: Api, names: list[str]) -> None:
    """Leave the control plane as found: the add-ons' own charts install these CRDs in a real run."""
    for name in names:
        try:
            api.request("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        except ApiError as error:
            if error.code != 404:
                raise


def pod_of(workload: dict[str, Any]) -> dict[str, Any] | None:
    """The Pod a workload's controller would create from its template (dry-run only)."""
    if workload["kind"] not in POD_TEMPLATES:
        return None
    template: Any = workload
    for key in POD_TEMPLATES[workload["kind"]]:
        template = (template or {}).get(key)
    if not isinstance(template, dict):
        return None
    meta, spec = template.get("metadata") or {}, dict(template.get("spec") or {})
    name = workload["metadata"]["name"]
    if workload["kind"] == "StatefulSet":
        # The controller adds one volume per claim template, named after it, bound to `<claim>-<set>-<ordinal>`.
        claims = workload["spec"].get("volumeClaimTemplates") or []
        spec["volumes"] = [
            *(spec.get("volumes") or []),
            *(
                {
                    "name": c["metadata"]["name"],
                    "persistentVolumeClaim": {"claimName": f"{c['metadata']['name']}-{name}-0"},
                }
                for c in claims
            ),
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-dry-run"[:63],
            "namespace": workload["metadata"].get("namespace"),
            "labels": meta.get("labels") or {},
            "annotations": meta.get("annotations") or {},
        },
        "spec": spec,
    }


@dataclass
class Outcome:
    judged: int = 0
    pods: int = 0
    rejected: list[str] = field(default_factory=list)
    # The Namespaces created for real, deleted at the end.
    namespaces: set[str] = field(default_factory=set)
    # why -> the objects (stack: object (detail)) it applies to
    unjudged: dict[str, list[str]] = field(default_factory=dict)

    def note(self, stack: Stack) -> None:
        for obj in stack.objects:
            for why, detail in gke_only(obj):
                what = f"{stack.case}: {name_of(obj)}" + (f" ({detail})" if detail else "")
                self.unjudged.setdefault(why, []).append(what)
        for chart in stack.charts:
            why = "add-on charts helm could not render here (the provider renders them at up)"
            self.unjudged.setdefault(why, []).append(f"{stack.case}: {chart}")


def judge(api: Api, stack: Stack, outcome: Outcome) -> None:
    def refused(obj: dict[str, Any], message: str) -> None:
        outcome.rejected.append(f"{stack.case}: {name_of(obj)}: {message}")

    enforced = {
        o["metadata"]["name"]: (o["metadata"].get("labels") or {}).get(
            "pod-security.kubernetes.io/enforce", "restricted"
        )
        for o in stack.objects
        if o["kind"] == "Namespace"
    }

    def warned(obj: dict[str, Any], warning: str, what: str = "") -> None:
        # Namespaces warn at `restricted` above a laxer enforced level on purpose: that is a note, not a refusal.
        level = re.search(r'PodSecurity "(\w+):', warning)
        namespace = obj["metadata"].get("namespace")
        if level and namespace in enforced and level[1] != enforced[namespace]:
            why = "PSA warns at restricted in namespaces that enforce a laxer level (by design); enforced level passed"
            outcome.unjudged.setdefault(why, []).append(f"{stack.case}: {name_of(obj)}")
        else:
            refused(obj, f"{what}warning: {warning}")

    real = sorted(
        (o for o in stack.objects if o["kind"] in ADMISSION_INPUTS), key=lambda o: ADMISSION_INPUTS.index(o["kind"])
    )
    created = []
    try:
        for obj in real:
            try:
                for warning in api.apply(obj, dry_run=False):
                    warned(obj, warning)
                created.append(obj)
            except ApiError as error:
                refused(obj, str(error))
            outcome.judged += 1
        # Quota admission refuses every pod while a quota's usage is unknown: wait for the quota controller.
        for quota in (o for o in created if o["kind"] == "ResourceQuota"):
            wait(f"{name_of(quota)} counted", lambda q=quota: bool((api.get(q).get("status") or {}).get("hard")))
        for obj in stack.objects:
            if obj["kind"] in ADMISSION_INPUTS:
                continue
            try:
                for warning in api.apply(obj, dry_run=True):
                    warned(obj, warning)
            except ApiError as error:
                if error.code == 404 and obj["apiVersion"].split("/")[0].endswith(GKE_GROUPS):
                    why = "a kind whose CRD only GKE installs (not vendored here): not judged at all"
                    outcome.unjudged.setdefault(why, []).append(f"{stack.case}: {name_of(obj)} ({obj['apiVersion']})")
                else:
                    refused(obj, str(error))
            outcome.judged += 1
            pod = pod_of(obj)
            if pod is None:
                continue
            try:
                for warning in api.create(pod, dry_run=True):
                    warned(obj, warning, "its pod, ")
            except ApiError as error:
                refused(obj, f"its pod: {error}")
            outcome.pods += 1
    finally:
        cleanup(api, created, outcome.namespaces)
    outcome.note(stack)


def cleanup(api: Api, created: list[dict[str, Any]], namespaces: set[str]) -> None:
    """Delete what a stack created for real, but its Namespaces: those are relabelled by the next stack that
    declares them (the same field manager drops the labels it no longer applies) and deleted at the end, so
    that the namespace controller's deletion is waited for only once."""
    for obj in created:
        if obj["kind"] == "Namespace":
            namespaces.add(obj["metadata"]["name"])
        else:
            api.delete(obj)


def delete_namespaces(api: Api, names: set[str]) -> None:
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}} for name in sorted(names)]
    for namespace in namespaces:
        api.delete(namespace)
    wait("namespaces deleted", lambda: not any(api.exists(ns) for ns in namespaces), timeout=300)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path)
    parser.add_argument("--context", default="e2e")
    parser.add_argument("--out", type=Path, default=Path("/tmp/platform-dry-run"))
    parser.add_argument("--render-only", action="store_true", help="render and list, without an API server")
    parser.add_argument("--verbose", action="store_true", help="list every object that is not judged off GKE")
    parser.add_argument("--stack", action="append", help="only this case (e.g. production, learning/staging)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    stacks = render(args.out, args.stack)
    outcome = Outcome()
    if args.render_only:
        for stack in stacks:
            outcome.note(stack)
    else:
        if args.kubeconfig is None:
            parser.error("--kubeconfig is required unless --render-only")
        api = Api(args.kubeconfig, args.context)
        api.discover()
        crds: list[str] = []
        try:
            install_crds(api, crds)
            print(f"installed {len(crds)} CRDs", flush=True)
            for stack in stacks:
                before = len(outcome.rejected)
                judge(api, stack, outcome)
                print(
                    f"judged {stack.case}: {len(stack.objects)} objects, {len(outcome.rejected) - before} rejected",
                    flush=True,
                )
        finally:
            delete_namespaces(api, outcome.namespaces)
            remove_crds(api, crds)

    print("\n== accepted, but not judged off GKE (why: how many objects; the first few)")
    for why, objects in outcome.unjudged.items():
        print(f"  {why}: {len(objects)}")
        for what in objects[: 3 if not args.verbose else None]:
            print(f"      {what}")
    print("\n== rejected by the API server")
    for line in outcome.rejected or ["none"]:
        print(f"  {line}")
    total = sum(len(s.objects) for s in stacks)
    print(
        f"\ndry run: {len(stacks)} stacks, {total} objects, {outcome.pods} pods from templates, "
        f"{len(outcome.rejected)} rejected; {time.monotonic() - started:.0f} s"
    )
    return 1 if outcome.rejected else 0


if __name__ == "__main__":
    sys.exit(main())
