"""Runs the real `__main__.py` under Pulumi mocks for one stack and records what it registered.

Built to avoid the known mock pitfalls:
- `set_mocks` is called before the program runs, with a fresh event loop and `ROOT` reset per run,
  so exports and resources never leak between stacks;
- `additionalSecretOutputs` are honoured (stock mocks ignore them), so `RandomPassword.result`
  and Kubernetes Secret data are secret exactly as under the real engine;
- `preview=False`, and computed outputs (cluster IP and DNS endpoints, masterAuth, node pool names, random
  results, addresses, Cloud SQL's private IP, DNS name and CA, Memorystore's host, AUTH string and CA,
  Managed Kafka's bootstrap address, bucket URLs, HMAC keys, the TLS provider's keys and certificates)
  are returned, so apply callbacks really run;
- every registration is recorded with its parent, provider, protect flag, dependencies and
  replacement trigger, and URNs are checked for uniqueness, which mocks do not enforce;
- config is fed exactly as the engine does: structured values JSON-encoded, secrets marked.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import runpy
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import wait_for_rpcs

from components.yaml_files import load_yaml

ROOT_DIR = Path(__file__).resolve().parent.parent
# The platform tests' own catalog (dev, staging, production), independent of the root stack files.
FIXTURE_DIR = ROOT_DIR / "tests" / "fixtures" / "shop"
SECRET_SIG = rpc._special_sig_key
SECRET_VALUE = rpc._special_secret_sig


# --------------------------------------------------------------------------- config files


def project_name(config_dir: Path = ROOT_DIR) -> str:
    """The project name in `config_dir`'s Pulumi.yaml: the engine namespaces bare config keys and
    builds every URN with it."""
    name: str = load_yaml(config_dir / "Pulumi.yaml")["name"]
    return name


# The root project's name (the examples each have their own; see `project_name`).
PROJECT = project_name()


def _project_config(project_file: Path) -> dict[str, Any]:
    """Project-level values from a Pulumi.yaml: `value`, else `default`, else the plain value.

    Keeps the engine's own rules for the file (pulumi/sdk/go/common/workspace/project.go,
    `Project.Validate`), so a file these tests accept is one a real `pulumi` loads: a bare key is
    the project's own (`<project>:key`); a key in another namespace (`platform:app` in an
    example's project) takes only a `value`, never a `type` or a `default`; no key has both."""
    document = load_yaml(project_file)
    project = document["name"]
    values: dict[str, Any] = {}
    for key, declaration in (document.get("config") or {}).items():
        own = ":" not in key or key.startswith(f"{project}:")
        full_key = f"{project}:{key}" if ":" not in key else key
        if isinstance(declaration, dict) and (
            "value" in declaration or "default" in declaration or "type" in declaration
        ):
            assert not ("value" in declaration and "default" in declaration), (
                f"{project_file}: project config '{key}' cannot have both a 'default' and 'value' attribute"
            )
            if not own:
                assert "type" not in declaration and "default" not in declaration, (
                    f"{project_file}: configuration key '{key}' is not namespaced by the project "
                    "and should not define a type or a default"
                )
            if "value" in declaration:
                values[full_key] = declaration["value"]
            elif "default" in declaration:
                values[full_key] = declaration["default"]
        else:
            values[full_key] = declaration
    return values


def stack_config(stack: str, config_dir: Path = FIXTURE_DIR) -> dict[str, Any]:
    """The merged project + stack config as the engine would hand it over (values not encoded)."""
    values = _project_config(config_dir / "Pulumi.yaml")
    stack_file = config_dir / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        document = load_yaml(stack_file) or {}
        values.update(document.get("config") or {})
    return values


# dev needs no stack file; these examples document that they have no dev stack (their READMEs say why).
NO_DEV_STACK = {"code-review"}


def discover_stacks() -> list[tuple[Path, str]]:
    """(project directory, stack) for every stack that exists: dev, which needs no file, and every
    `Pulumi.<stack>.yaml`, at the root and in each example."""
    found = []
    for directory in [ROOT_DIR, *sorted(p for p in (ROOT_DIR / "examples").iterdir() if p.is_dir())]:
        if directory.name not in NO_DEV_STACK:
            found.append((directory, "dev"))
        found += [(directory, path.name.split(".")[1]) for path in sorted(directory.glob("Pulumi.*.yaml"))]
    return found


def stand_in_secrets(values: dict[str, Any]) -> dict[str, str]:
    """A stand-in for every `type: config` secret key the config names, as an operator would supply it."""
    supplied = {}
    secrets = values.get("platform:secrets")
    for secret in secrets if isinstance(secrets, list) else []:
        keys = secret.get("keys") if isinstance(secret, dict) else None
        for spec in keys.values() if isinstance(keys, dict) else []:
            if isinstance(spec, dict) and spec.get("type") == "config":
                supplied[f"platform:{spec['key']}"] = f"stand-in-for-{spec['key']}-0123456789"
    return supplied


def encode_config(values: dict[str, Any]) -> dict[str, str]:
    """The engine passes every config value as a string; structured ones as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


# --------------------------------------------------------------------------- secrets in recorded values


def is_secret_value(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def unwrap(value: Any) -> Any:
    """Strip secret markers, recursively, to get the plain manifest the engine would send."""
    if is_secret_value(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def plain_strings(value: Any) -> list[str]:
    """Every string in `value` that is *not* inside a secret marker."""
    if is_secret_value(value):
        return []
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [key, *plain_strings(item)]]
    if isinstance(value, list):
        return [s for item in value for s in plain_strings(item)]
    return [value] if isinstance(value, str) else []


# --------------------------------------------------------------------------- mocks

# What the mocks give every Cloud SQL instance: its DNS name (private services access) and its CA bundle.
MOCK_SQL_DNS = "1a2b3c4d5e6f.europe-west1.sql.goog"
MOCK_SQL_CA = "-----BEGIN CERTIFICATE-----\nMOCK-SQL-CA\n-----END CERTIFICATE-----\n"


def _fake_hex(seed: str, length: int) -> str:
    digest = b""
    counter = 0
    while len(digest) * 2 < length:
        digest += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return digest.hex()[:length]


class PlatformMocks(pulumi.runtime.Mocks):
    """Computed outputs for the resource types the platform creates; deterministic per name.

    `stack_outputs` stands in for what the stack exported on its previous deploy: the program reads
    it back (its own StackReference, or the engine's readStackOutputs invoke); None is a first deploy."""

    def __init__(self, stack_outputs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.stack_outputs = stack_outputs or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        typ, name = args.typ, args.name
        seed = f"{typ}:{name}:{json.dumps(inputs.get('keepers'), sort_keys=True, default=str)}"
        outputs = dict(inputs)
        if typ == "gcp:container/cluster:Cluster":
            # GKE gives every cluster a DNS endpoint (gke-<id>.<region>.gke.goog), used or not.
            endpoints = dict(inputs.get("controlPlaneEndpointsConfig") or {})
            region = str(inputs.get("location", "europe-west1"))
            region = region if region.count("-") == 1 else region.rsplit("-", 1)[0]
            endpoints["dnsEndpointConfig"] = {
                **(endpoints.get("dnsEndpointConfig") or {}),
                "endpoint": f"gke-{_fake_hex(seed, 32)}.{region}.gke.goog",
            }
            outputs.update(
                name=inputs.get("name", name),
                endpoint="203.0.113.10",
                controlPlaneEndpointsConfig=endpoints,
                masterAuth={
                    "clusterCaCertificate": base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMOCK\n").decode(),
                    "clientCertificateConfig": {"issueClientCertificate": False},
                },
                selfLink=f"https://container.googleapis.com/v1/projects/mock/locations/x/clusters/{name}",
            )
        elif typ == "gcp:container/nodePool:NodePool":
            outputs["name"] = inputs.get("name") or f"{inputs.get('namePrefix', name)}{_fake_hex(seed, 8)}"
        elif typ == "gcp:serviceaccount/account:Account":
            project = inputs.get("project", "mock-project")
            outputs["email"] = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
            outputs["name"] = f"projects/{project}/serviceAccounts/{outputs['email']}"
            outputs["member"] = f"serviceAccount:{outputs['email']}"
        elif typ == "gcp:compute/address:Address":
            outputs["address"] = "203.0.113.20"
        elif typ in ("gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork"):
            outputs.setdefault("name", name)
            outputs["selfLink"] = f"https://compute.googleapis.com/v1/projects/mock/{typ.split(':')[-1].lower()}/{name}"
        elif typ == "gcp:sql/databaseInstance:DatabaseInstance":
            # Cloud SQL takes its private address from the reserved peering range; the shared CA names the
            # instance's DNS name in its certificate and publishes its chain.
            outputs["privateIpAddress"] = "10.200.0.3"
            outputs["connectionName"] = f"mock-project:europe-west1:{inputs.get('name', name)}"
            outputs["dnsNames"] = [
                {"connectionType": "PRIVATE_SERVICES_ACCESS", "dnsScope": "INSTANCE", "name": MOCK_SQL_DNS + "."}
            ]
            outputs["serverCaCerts"] = [{"cert": MOCK_SQL_CA}]
        elif typ == "gcp:redis/instance:Instance":
            outputs.update(
                host="10.200.0.12",
                port=6378,
                authString="A" + _fake_hex(seed, 35),
                serverCaCerts=[{"cert": "-----BEGIN CERTIFICATE-----\nMOCK-REDIS-CA\n-----END CERTIFICATE-----\n"}],
            )
        elif typ == "gcp:storage/bucket:Bucket":
            outputs["url"] = f"gs://{inputs.get('name', name)}"
            outputs["selfLink"] = f"https://www.googleapis.com/storage/v1/b/{inputs.get('name', name)}"
        elif typ == "gcp:managedkafka/cluster:Cluster":
            cluster_id = inputs.get("clusterId", name)
            outputs["bootstrapAddress"] = (
                f"bootstrap.{cluster_id}.{inputs.get('location')}.managedkafka.{inputs.get('project')}.cloud.goog:9092"
            )
            outputs["name"] = (
                f"projects/{inputs.get('project')}/locations/{inputs.get('location')}/clusters/{cluster_id}"
            )
        elif typ == "gcp:storage/hmacKey:HmacKey":
            outputs.update(accessId="GOOG1E" + _fake_hex(seed, 40).upper(), secret=_fake_hex(seed + "s", 40))
        elif typ == "gcp:compute/globalAddress:GlobalAddress":
            outputs.setdefault("name", name)
        elif typ == "tls:index/privateKey:PrivateKey":
            body = _fake_hex(f"{seed}:{args.name}", 64)
            outputs.update(
                privateKeyPem=f"-----BEGIN EC PRIVATE KEY-----\nMOCK-{body}\n-----END EC PRIVATE KEY-----\n",
                privateKeyPemPkcs8=f"-----BEGIN PRIVATE KEY-----\nMOCK-{body}\n-----END PRIVATE KEY-----\n",
                publicKeyPem=f"-----BEGIN PUBLIC KEY-----\nMOCK-{body[:16]}\n-----END PUBLIC KEY-----\n",
            )
        elif typ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
            outputs["certPem"] = f"-----BEGIN CERTIFICATE-----\nMOCK-{name}\n-----END CERTIFICATE-----\n"
            outputs["readyForRenewal"] = False
        elif typ == "tls:index/certRequest:CertRequest":
            outputs["certRequestPem"] = (
                f"-----BEGIN CERTIFICATE REQUEST-----\nMOCK-{name}\n-----END CERTIFICATE REQUEST-----\n"
            )
        elif typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = ("P" + _fake_hex(seed, 255))[: int(inputs.get("length", 16))]
            outputs["bcryptHash"] = "$2a$10$" + _fake_hex(seed + "b", 53)
        elif typ == "random:index/randomBytes:RandomBytes":
            raw = bytes.fromhex(_fake_hex(seed, int(inputs["length"]) * 2))
            outputs["hex"] = raw.hex()
            outputs["base64"] = base64.b64encode(raw).decode()
        elif typ == "random:index/randomId:RandomId":
            raw = bytes.fromhex(_fake_hex(seed, int(inputs["byteLength"]) * 2))
            outputs["hex"] = raw.hex()
            outputs["b64Std"] = base64.b64encode(raw).decode()
            outputs["b64Url"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
            outputs["dec"] = str(int.from_bytes(raw, "big"))
        elif typ == "random:index/randomUuid:RandomUuid":
            h = _fake_hex(seed, 32)
            outputs["result"] = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"
        elif typ == "pulumi:pulumi:StackReference":
            outputs.update(outputs=self.stack_outputs, secretOutputNames=[])
        elif typ.startswith("kubernetes:helm.sh/v3:Release"):
            outputs["status"] = {
                "name": inputs.get("name", name),
                "namespace": inputs.get("namespace"),
                "status": "deployed",
            }
        return f"{name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "gcp:organizations/getProject:getProject":
            return {"projectId": args.args.get("projectId", "mock-project"), "number": "123456789012"}
        if args.token == "pulumi:pulumi:readStackOutputs":
            return {"name": args.args.get("name"), "outputs": self.stack_outputs, "secretOutputNames": []}
        if args.token == "gcp:organizations/getClientConfig:getClientConfig":
            return {"project": "mock-project", "region": "europe-west1", "accessToken": "mock"}
        return {}


@dataclass(frozen=True)
class Registration:
    """One resource the program registered, with the options that matter for review."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    parent: str
    provider: str
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    dependencies: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...]
    ignore_changes: tuple[str, ...]
    replace_on_changes: tuple[str, ...]
    custom: bool
    # The `replacement_trigger` option's value (None when unset): a change replaces the resource.
    replacement_trigger: Any = None

    @property
    def manifest(self) -> dict[str, Any]:
        """A Kubernetes object's manifest as it would be sent to the API server."""
        return unwrap(self.inputs)


class RecordingMonitor(mocks.MockMonitor):
    """A mock monitor that honours additionalSecretOutputs and records registration options."""

    def __init__(self, mocks_: PlatformMocks):
        super().__init__(mocks_)
        self.lock = threading.Lock()
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        secret_outputs = tuple(request.additionalSecretOutputs)
        original = self.mocks.new_resource

        def new_resource(args: Any) -> tuple[str, dict[str, Any]]:
            id_, state = original(args)
            state = {
                k: ({SECRET_SIG: SECRET_VALUE, "value": v} if k in secret_outputs else v) for k, v in state.items()
            }
            return id_, state

        with self.lock:
            # new_resource is called on several threads; swap the hook and register atomically.
            self.mocks.new_resource = new_resource  # type: ignore[method-assign]
            try:
                response = super().RegisterResource(request)
            finally:
                self.mocks.new_resource = original  # type: ignore[method-assign]
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=_deserialize(request.object),
                    parent=request.parent,
                    provider=request.provider,
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    dependencies=tuple(request.dependencies),
                    additional_secret_outputs=secret_outputs,
                    ignore_changes=tuple(request.ignoreChanges),
                    replace_on_changes=tuple(request.replaceOnChanges),
                    custom=bool(request.custom),
                    replacement_trigger=(
                        json_format.MessageToDict(request.replacement_trigger)
                        if request.HasField("replacement_trigger")
                        else None
                    ),
                )
            )
        return response


def _deserialize(struct: Any) -> dict[str, Any]:
    """Inputs with secrets kept as their marker dicts, so tests can see what is secret."""
    return json_format.MessageToDict(struct)


# --------------------------------------------------------------------------- running the program


@dataclass
class ProgramRun:
    stack: str
    resources: list[Registration]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    logs: list[tuple[str, str]] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} named {name!r}, found {[r.name for r in found]}"
        return found[0]

    def k8s(self, kind: str, name: str | None = None, namespace: str | None = None) -> list[Registration]:
        """Kubernetes objects by kind, optionally by metadata.name and metadata.namespace."""
        found = []
        for r in self.resources:
            if (
                not r.type.startswith("kubernetes:")
                or r.type.startswith("kubernetes:helm")
                or r.type == "pulumi:providers:kubernetes"
            ):
                continue
            manifest = r.manifest
            if manifest.get("kind") != kind:
                continue
            meta = manifest.get("metadata", {})
            if name is not None and meta.get("name") != name:
                continue
            if namespace is not None and meta.get("namespace") != namespace:
                continue
            found.append(r)
        return found

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    @property
    def warnings(self) -> list[str]:
        return [message for level, message in self.logs if level == "WARNING"]


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname, record.getMessage()))


def run_program(
    stack: str,
    config: dict[str, Any] | None = None,
    secret_keys: list[str] | None = None,
    config_dir: Path = FIXTURE_DIR,
    stack_outputs: dict[str, Any] | None = None,
) -> ProgramRun:
    """Run the repo's `__main__.py` as `stack` with `config` (default: the stack files in `config_dir`);
    `stack_outputs` are the outputs of the stack's previous deploy (None: the first deploy)."""
    run, error = _execute(stack, config, secret_keys, config_dir, stack_outputs)
    if error is not None:
        raise error
    return run


# One run per identical input per session (per xdist worker): the mocks are deterministic, so a second
# run of the same stack with the same config and previous outputs registers exactly the same thing.
_SHARED: dict[str, ProgramRun] = {}


def shared_run(
    stack: str,
    config: dict[str, Any] | None = None,
    secret_keys: list[str] | None = None,
    config_dir: Path = FIXTURE_DIR,
    stack_outputs: dict[str, Any] | None = None,
) -> ProgramRun:
    """`run_program`, memoised on its inputs, for tests that only read the run. Not for a test that
    patches the program or the mocks first: it would be handed the unpatched run."""
    values = stack_config(stack, config_dir) if config is None else config
    key = json.dumps(
        [stack, values, sorted(secret_keys or []), str(config_dir.resolve()), stack_outputs],
        sort_keys=True,
        default=str,
    )
    if key not in _SHARED:
        _SHARED[key] = run_program(stack, values, secret_keys, config_dir, stack_outputs)
    return _SHARED[key]


def rejected(
    stack: str,
    config: dict[str, Any],
    secret_keys: list[str] | None = None,
    config_dir: Path = FIXTURE_DIR,
    stack_outputs: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """Run a config the program must refuse: returns the ConfigError message and the number of
    resources registered before it stopped (which must be 0)."""
    from components.config import ConfigError

    run, error = _execute(stack, config, secret_keys, config_dir, stack_outputs)
    assert isinstance(error, ConfigError), f"expected a ConfigError, got {error!r}"
    return str(error), len(run.resources)


def assert_rejected(
    stack: str,
    config: dict[str, Any],
    expected: str,
    secret_keys: list[str] | None = None,
    config_dir: Path = FIXTURE_DIR,
    stack_outputs: dict[str, Any] | None = None,
) -> None:
    """The program refuses `config` with exactly `expected`, before registering any resource."""
    message, registered = rejected(stack, config, secret_keys, config_dir, stack_outputs)
    assert message == expected, f"got: {message}"
    assert registered == 0


def _execute(
    stack: str,
    config: dict[str, Any] | None,
    secret_keys: list[str] | None,
    config_dir: Path,
    stack_outputs: dict[str, Any] | None = None,
) -> tuple[ProgramRun, BaseException | None]:
    values = stack_config(stack, config_dir) if config is None else config
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    settings.ROOT.set(None)
    capture = _LogCapture()
    logger = logging.getLogger(f"pulumi-mock-{stack}-{id(capture)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(capture)
    platform_mocks = PlatformMocks(stack_outputs)
    monitor = RecordingMonitor(platform_mocks)
    pulumi.runtime.set_mocks(
        platform_mocks, project=project_name(config_dir), stack=stack, preview=False, logger=logger, monitor=monitor
    )
    # set_mocks makes a new RPC manager but keeps the tracked outputs; a run that stopped early
    # leaves futures of its closed loop there, which the next run's wait_for_rpcs would await forever.
    settings.SETTINGS.outputs.clear()
    pulumi.runtime.set_all_config(encode_config(values), secret_keys or [])
    root = settings.get_root_resource()
    assert root is not None
    if str(ROOT_DIR) not in sys.path:
        sys.path.insert(0, str(ROOT_DIR))
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    error: BaseException | None = None
    cwd = os.getcwd()
    try:
        os.chdir(config_dir)
        runpy.run_path(str(ROOT_DIR / "__main__.py"), run_name="__main__")
        loop.run_until_complete(wait_for_rpcs())
        for key, value in root.outputs.items():  # type: ignore[attr-defined]
            output = pulumi.Output.from_input(value)
            outputs[key] = loop.run_until_complete(output.future())
            if loop.run_until_complete(output.is_secret()):
                secret_outputs.add(key)
    except Exception as exc:  # handed to the caller, who decides
        error = exc
    finally:
        os.chdir(cwd)
        # A run that stopped early (a ConfigError, a failing component) leaves RPCs pending.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)
    registrations = list(monitor.registrations)
    urns = [r.urn for r in registrations]
    duplicates = sorted(urn for urn, count in Counter(urns).items() if count > 1)
    assert not duplicates, f"duplicate URNs, which the real engine rejects: {duplicates}"
    return ProgramRun(stack, registrations, outputs, secret_outputs, capture.records), error
