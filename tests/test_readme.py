"""The README stays true: it documents every config key, and its test command is the one CI runs."""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Iterator
from typing import Any

import yaml
from harness import ROOT_DIR
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from components.config import PlatformConfig
from components.data.catalog import credentials_secret
from components.data.config import ENGINES, DataServiceConfig
from components.tenancy.config import ProvidedKey, UnknownGenerator
from components.workloads.config import DEFAULT_STORAGE_CLASS, ServiceConfig

README = (ROOT_DIR / "README.md").read_text()
TEST_COMMAND = "python3 -m venv venv && venv/bin/pip install -r requirements.txt && venv/bin/python -m pytest"
INTERNAL_FIELDS = {"stack", "project", "supplied_secret_keys", "deployed_data"}


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        # Neither is a key a user writes: a misspelt generator, and the platform-only `provided`.
        return [] if annotation in (UnknownGenerator, ProvidedKey) else [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _key_paths() -> Iterator[str]:
    """Every key a user can write, each model documented once, at the first path it appears."""
    return (path for path, _ in _fields())


def test_readme_documents_every_config_key() -> None:
    missing = [path for path in _key_paths() if f"| `{path}` |" not in README]
    assert missing == []


def test_readme_test_command_is_the_one_ci_runs() -> None:
    assert TEST_COMMAND in README
    assert TEST_COMMAND in (ROOT_DIR / ".ci" / "run").read_text()


def test_readme_gives_the_deploy_commands() -> None:
    for command in (
        "pulumi login --local",
        "pulumi stack init dev",
        "pulumi stack init production",
        "export PULUMI_CONFIG_PASSPHRASE=",
        "gcloud auth login",
        "gcloud auth application-default login",
        "gcloud components install gke-gcloud-auth-plugin",
        "pulumi config set gcp:project",
        "pulumi preview --stack dev",
        "pulumi stack output gatewayIp",
    ):
        assert command in _deploy_section(), command
    assert "pulumi up --stack production" in README


def _deploy_section() -> str:
    return README.split("## Deploy\n", 1)[1].split("\n## ", 1)[0]


def test_readme_minimum_pulumi_cli_is_the_pinned_sdk() -> None:
    # The CLI and the Python SDK are released together under one version: the CLI must be at least the SDK's floor.
    requirements = (ROOT_DIR / "requirements.txt").read_text()
    floor = re.search(r"^pulumi>=([0-9.]+)", requirements, re.M)
    assert floor is not None
    assert f"**v{floor.group(1)} or later**" in _deploy_section()


def test_readme_enables_every_gcp_api_the_stacks_use() -> None:
    apis = set(re.findall(r"([a-z]+)\.googleapis\.com", _deploy_section()))
    assert {"compute", "container", "iam", "cloudresourcemanager", "logging", "monitoring"} <= apis
    # Binary Authorization is needed exactly where a stack enforces it.
    enforced = [
        path.name
        for path in sorted(ROOT_DIR.glob("Pulumi.*.yaml"))
        if (yaml.safe_load(path.read_text())["config"].get("platform:cluster") or {}).get("binaryAuthorization")
    ]
    assert not enforced or "binaryauthorization" in apis, enforced


# --------------------------------------------------------------------------- documented defaults are the real ones


def _documented_defaults() -> dict[str, str]:
    """key path -> the default cell of the README's configuration reference table."""
    reference = README.split("## Configuration reference", 1)[1]
    rows = (line.split(" | ") for line in reference.splitlines() if line.startswith("| `"))
    return {cells[0].removeprefix("| ").strip("`"): cells[2].strip() for cells in rows}


def _fields() -> Iterator[tuple[str, FieldInfo]]:
    """(key path, field) for every key, each model once, at the first path it appears (as documented)."""
    documented: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo]]:
        for name, field in model.model_fields.items():
            if name in INTERNAL_FIELDS:
                continue
            path = f"{prefix}.{field.alias or name}" if prefix else (field.alias or name)
            yield path, field
            for sub in _models_in(field.annotation):
                if sub not in documented:
                    documented.add(sub)
                    yield from walk(sub, path)

    yield from walk(PlatformConfig, "")


def _cell(value: Any) -> str:
    """How the table writes a default value."""
    if value is None:
        return "—"
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, (list, dict, tuple)) and not value:
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _project_defaults() -> dict[str, Any]:
    """Top-level keys whose `default` Pulumi.yaml declares (a typed scalar such as `app`)."""
    declared = yaml.safe_load((ROOT_DIR / "Pulumi.yaml").read_text())["config"]
    return {key: spec["default"] for key, spec in declared.items() if isinstance(spec, dict) and "default" in spec}


def _pull_policy_default() -> str:
    service = ServiceConfig.model_construct(image_pull_policy=None)
    return f"`{service.pull_policy('dev')}` on dev, `{service.pull_policy('production')}` elsewhere"


def _per_engine(attribute: str) -> Callable[[], str]:
    def cell() -> str:
        return "per type: " + ", ".join(f"`{getattr(engine, attribute)}` {kind}" for kind, engine in ENGINES.items())

    return cell


def _storage_class_default() -> str:
    gke, kind = DEFAULT_STORAGE_CLASS["gke"], DEFAULT_STORAGE_CLASS["existing"]
    return f"`{gke}` on GKE; " + ("the cluster's default on kind" if kind is None else f"`{kind}` on kind")


def _database_default() -> str:
    store = DataServiceConfig.model_validate({"name": "orders", "type": "postgres", "namespace": "data"})
    database = credentials_secret(store).keys["database"]
    return "the store's name" if getattr(database, "template", None) == store.name else "?"


# Unset (None) means "derived": the table states what the program derives, computed here from the code.
def _cloud_sql_tier_default() -> str:
    store = DataServiceConfig.model_validate({"name": "db", "type": "postgres", "namespace": "data"})
    return f"`{store.cloud_sql_tier(True)}` in production, `{store.cloud_sql_tier(False)}` elsewhere"


def _high_availability_default() -> str:
    store = DataServiceConfig.model_validate({"name": "db", "type": "postgres", "namespace": "data"})
    assert store.high_availability(True) and not store.high_availability(False)
    return "on in production only"


def _bucket_default() -> str:
    store = DataServiceConfig.model_validate({"name": "assets", "type": "object-store", "namespace": "data"})
    assert store.bucket_name("acme") == "acme-assets"
    return "`<project>-<name>`"


def _memory_default() -> str:
    redis = DataServiceConfig.model_validate({"name": "cache", "type": "redis", "namespace": "data"})
    kafka = DataServiceConfig.model_validate({"name": "events", "type": "kafka", "namespace": "data"})
    assert redis.memory_gib == 1 and kafka.memory_gib == 4 * kafka.managed.vcpus
    return "1 for Redis, 4 per vCPU for Kafka"


DERIVED_DEFAULTS: dict[str, Callable[[], str]] = {
    "dataServices.managed.memoryGib": _memory_default,
    "dataServices.managed.tier": _cloud_sql_tier_default,
    "dataServices.managed.highAvailability": _high_availability_default,
    "dataServices.managed.bucket": _bucket_default,
    "services.imagePullPolicy": _pull_policy_default,
    "services.stateful.volumes.storageClass": _storage_class_default,
    "dataServices.storage.storageClass": _storage_class_default,
    "dataServices.version": _per_engine("default_version"),
    "dataServices.size": _per_engine("default_size"),
    "dataServices.storage.size": _per_engine("default_storage"),
    "dataServices.database": _database_default,
}


def test_readme_defaults_are_the_real_defaults() -> None:
    """Each documented default is the value a stack gets when it leaves the key out.

    That is the model's default (its field default, or "required" when it has none), except for a
    top-level key whose *default* Pulumi.yaml declares (`environment`, `app`, `domain`): Pulumi
    hands that value to every stack that does not set the key, so the model's default is never
    seen and the project's is the real one. Keys Pulumi.yaml sets with `value` (the catalogs, dev's
    cluster and add-ons) are dev's settings and the shared catalog, not defaults: a stack file that
    sets such a key replaces it whole, and every key it leaves out takes the model's default.
    """
    documented = _documented_defaults()
    project = _project_defaults()
    expected = {}
    for path, field in _fields():
        if path in DERIVED_DEFAULTS:
            expected[path] = DERIVED_DEFAULTS[path]()
        elif path in project:
            expected[path] = _cell(project[path])
        elif field.is_required():
            expected[path] = "required"
        else:
            expected[path] = _cell(field.get_default(call_default_factory=True))
    wrong = {path: (documented[path], real) for path, real in expected.items() if documented.get(path) != real}
    assert wrong == {}, "README default -> real default"
