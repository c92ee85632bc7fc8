"""The configuration reference and the stack-file JSON Schema, generated from the config models.

    venv/bin/python -m tools.reference            # writes docs/reference.md and docs/stack.schema.json
    venv/bin/python -m tools.reference --check    # exits 1 when either file is stale

Every key a user can write is one row of `docs/reference.md`: its type (with the values allowed),
its default and a one-line description taken from the field's own metadata (a docstring under the
field, or `Field(description=...)`). Each model is documented once, at the first path it appears.
The JSON Schema describes `Pulumi.<stack>.yaml` (and the `value:` of each key in `Pulumi.yaml`) so
an editor validates a stack file as it is typed. tests/test_reference.py fails when either file
differs from what this module generates, and when a field has no description.

Deliberately out of scope: rules that relate two values (those are checked by the program, with
one-line errors; a schema cannot express them).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.config import PlatformConfig  # noqa: E402
from components.config.loader import CATALOGS  # noqa: E402
from components.data.catalog import credentials_secret  # noqa: E402
from components.data.config import ENGINES, DataServiceConfig  # noqa: E402
from components.tenancy.config import ProvidedKey, UnknownGenerator  # noqa: E402
from components.workloads.config import DEFAULT_STORAGE_CLASS, ServiceConfig  # noqa: E402

REFERENCE = ROOT / "docs" / "reference.md"
SCHEMA = ROOT / "docs" / "stack.schema.json"
PROJECT_SCHEMA = ROOT / "docs" / "project.schema.json"
SCHEMA_URL = "https://json-schema.org/draft/2020-12/schema"
# Fields the program fills in itself (from the stack name, gcp:project, the engine); never written by a user.
INTERNAL_FIELDS = frozenset({"stack", "project", "supplied_secret_keys", "deployed_data"})
# Union members the platform uses internally: a computed secret key, and the catch-all for a misspelt generator.
INTERNAL_MODELS: frozenset[type[BaseModel]] = frozenset({ProvidedKey, UnknownGenerator})


@dataclass(frozen=True)
class Key:
    """One documented key: its path under `platform:`, the model fields found there, and what the parent's default gives it."""

    path: str
    fields: tuple[FieldInfo, ...]
    # The value this key has in its parent's default object (`namespaces.limits.defaultRequest.cpu`: `100m`).
    parent_default: Any = None

    @property
    def field(self) -> FieldInfo:
        return self.fields[0]

    @property
    def description(self) -> str | None:
        return next((f.description for f in self.fields if f.description), None)


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _union_args(annotation: Any) -> tuple[Any, ...] | None:
    annotation = _strip(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(_strip(arg) for arg in typing.get_args(annotation))
    return None


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The user-facing models an annotation holds, in order (through lists, maps, unions, Annotated)."""
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [] if annotation in INTERNAL_MODELS else [annotation]
    return [m for arg in typing.get_args(annotation) for m in models_in(arg)]


def documented_keys() -> list[Key]:
    """Every key a user can write, depth first, each model documented once, at the first path it appears.

    Members of one union (the secret generators) share a path: their fields at the same name merge
    into one key (`secrets.keys.type` is `password` | `token` | ...).
    """
    found: list[Key] = []
    documented: set[type[BaseModel]] = set()

    def walk(models: list[type[BaseModel]], prefix: str, defaults: BaseModel | None) -> None:
        at: dict[str, list[FieldInfo]] = {}
        names: dict[str, str] = {}
        for model in models:
            for name, field in model.model_fields.items():
                if name in INTERNAL_FIELDS:
                    continue
                path = f"{prefix}.{field.alias or name}" if prefix else (field.alias or name)
                at.setdefault(path, []).append(field)
                names[path] = name
        for path, fields in at.items():
            inherited = getattr(defaults, names[path], None) if defaults is not None else None
            found.append(Key(path, tuple(fields), inherited))
            subs = [sub for field in fields for sub in models_in(field.annotation) if sub not in documented]
            documented.update(subs)
            if subs:
                default = None if fields[0].is_required() else fields[0].get_default(call_default_factory=True)
                walk(list(dict.fromkeys(subs)), path, default if isinstance(default, BaseModel) else inherited)

    walk([PlatformConfig], "", None)
    return found


# --------------------------------------------------------------------------- the type column


def _type_text(annotation: Any) -> str:
    annotation = _strip(annotation)
    union = _union_args(annotation)
    if union is not None:
        rest = [arg for arg in union if arg is not type(None)]
        if all(isinstance(arg, type) and issubclass(arg, BaseModel) for arg in rest):
            text = "object"
        else:
            text = " or ".join(dict.fromkeys(_type_text(arg) for arg in rest))
        return f"{text} (optional)" if len(rest) < len(union) else text
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        return f"list of {_type_text(typing.get_args(annotation)[0])}"
    if origin is dict:
        return f"map of {_type_text(typing.get_args(annotation)[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    return names.get(annotation, "any") if isinstance(annotation, type) else "any"


def _bounds(field: FieldInfo) -> str:
    """A numeric field's allowed range, from its constraints (`Field(ge=..., le=...)`)."""
    metadata = list(field.metadata)
    annotation = field.annotation
    while typing.get_origin(annotation) is typing.Annotated:
        metadata += typing.get_args(annotation)[1:]
        annotation = typing.get_args(annotation)[0]
    low = high = None
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = f">= {item.ge}"
        elif isinstance(item, annotated_types.Gt):
            low = f"> {item.gt}"
        elif isinstance(item, annotated_types.Le):
            high = f"<= {item.le}"
        elif isinstance(item, annotated_types.Lt):
            high = f"< {item.lt}"
    return ", ".join(part for part in (low, high) if part)


def type_cell(key: Key) -> str:
    literals = [
        value
        for field in key.fields
        if typing.get_origin(_strip(field.annotation)) is Literal
        for value in typing.get_args(_strip(field.annotation))
    ]
    if len(key.fields) > 1 and literals:
        text = " \\| ".join(f"`{value}`" for value in dict.fromkeys(literals))
    else:
        text = _type_text(key.field.annotation)
    bounds = _bounds(key.field)
    return f"{text}, {bounds}" if bounds else text


# --------------------------------------------------------------------------- the default column


def cell(value: Any) -> str:
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


def project_defaults(project_file: Path = ROOT / "Pulumi.yaml") -> dict[str, Any]:
    """Top-level keys whose `default` Pulumi.yaml declares (a typed scalar such as `app`)."""
    declared = yaml.safe_load(project_file.read_text())["config"]
    return {key: spec["default"] for key, spec in declared.items() if isinstance(spec, dict) and "default" in spec}


def _pull_policy_default() -> str:
    service = ServiceConfig.model_construct(image_pull_policy=None)  # type: ignore[call-arg]
    return f"`{service.pull_policy('dev')}` on dev, `{service.pull_policy('production')}` elsewhere"


def _per_engine(attribute: str) -> Callable[[], str]:
    def text() -> str:
        return "per type: " + ", ".join(f"`{getattr(engine, attribute)}` {kind}" for kind, engine in ENGINES.items())

    return text


def _storage_class_default() -> str:
    gke, kind = DEFAULT_STORAGE_CLASS["gke"], DEFAULT_STORAGE_CLASS["existing"]
    return f"`{gke}` on GKE; " + ("the cluster's default on kind" if kind is None else f"`{kind}` on kind")


def _database_default() -> str:
    store = DataServiceConfig.model_validate({"name": "orders", "type": "postgres", "namespace": "data"})
    database = credentials_secret(store, tls_on=True).keys["database"]
    return "the store's name" if getattr(database, "template", None) == store.name else "?"


def _cloud_sql_tier_default() -> str:
    store = DataServiceConfig.model_validate({"name": "db", "type": "postgres", "namespace": "data"})
    return f"`{store.cloud_sql_tier(True)}` in production, `{store.cloud_sql_tier(False)}` elsewhere"


def _high_availability_default() -> str:
    store = DataServiceConfig.model_validate({"name": "db", "type": "postgres", "namespace": "data"})
    return "on in production only" if store.high_availability(True) and not store.high_availability(False) else "?"


def _bucket_default() -> str:
    store = DataServiceConfig.model_validate({"name": "assets", "type": "object-store", "namespace": "data"})
    return "`<project>-<name>`" if store.bucket_name("acme") == "acme-assets" else "?"


def _memory_default() -> str:
    redis = DataServiceConfig.model_validate({"name": "cache", "type": "redis", "namespace": "data"})
    kafka = DataServiceConfig.model_validate({"name": "events", "type": "kafka", "namespace": "data"})
    derived = redis.memory_gib == 1 and kafka.memory_gib == 4 * kafka.managed.vcpus
    return "1 for Redis, 4 per vCPU for Kafka" if derived else "?"


# Unset (None) means "derived": the reference states what the program derives, computed from the code.
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


def default_cell(key: Key, project: dict[str, Any]) -> str:
    if key.path in DERIVED_DEFAULTS:
        return DERIVED_DEFAULTS[key.path]()
    if key.path in project:
        return cell(project[key.path])
    if key.field.is_required():
        if key.parent_default is not None and not isinstance(key.parent_default, BaseModel):
            parent = key.path.rsplit(".", 1)[0]
            return f"required; {cell(key.parent_default)} when `{parent}` is left out"
        return "required"
    return cell(key.field.get_default(call_default_factory=True))


# --------------------------------------------------------------------------- docs/reference.md

OVERRIDES_DESCRIPTION = (
    "Per-stack changes to the shared catalogs: `{<catalog>: {<item name>: <the keys that change>}}`, "
    "deep-merged into the item of that name (mappings merge key by key, lists and scalars replace; "
    "`enabled: false` removes the item from the stack). Catalogs: "
    + ", ".join(f"`{catalog}`" for catalog in CATALOGS)
    + ". See [configuration](configuration.md#overrides)."
)

HEADER = """\
# Configuration reference

<!-- GENERATED by `venv/bin/python -m tools.reference` from the config models; do not edit by hand.
     tests/test_reference.py fails when this file is stale. -->

Every key below lives under the `platform:` namespace of Pulumi config (`platform:services`,
`platform:cluster`, ...). Paths use `.` for nesting; list items are written without an index
(`services.ports.name` is the `name` of each entry of a service's `ports`). "required" means
required within its parent object; "see below" means an object whose keys follow. The default is
what a stack gets when it leaves the key out: the model's default, or, for `environment`, `app`
and `domain`, the `default` that `Pulumi.yaml` declares. How stack files, `overrides` and
`${environment}`/`${domain}` substitution combine is in [configuration](configuration.md); the
stack-file JSON Schema generated beside this page is [stack.schema.json](stack.schema.json).

| key | type | default | description |
|---|---|---|---|
"""


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows(project: dict[str, Any] | None = None) -> list[tuple[str, str, str, str]]:
    project = project_defaults() if project is None else project
    table = [
        (key.path, type_cell(key), default_cell(key, project), _escape(key.description or ""))
        for key in documented_keys()
    ]
    table.append(("overrides", "map of map of object", "empty", _escape(OVERRIDES_DESCRIPTION)))
    return table


def reference_markdown() -> str:
    lines = [f"| `{path}` | {kind} | {default} | {description} |" for path, kind, default, description in rows()]
    return HEADER + "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- docs/stack.schema.json


def _without_internal(schema: dict[str, Any], defs: dict[str, Any]) -> None:
    """Drop the internal union members from every union that names them, and their definitions."""
    internal = {f"#/$defs/{model.__name__}" for model in INTERNAL_MODELS}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for keyword in ("oneOf", "anyOf"):
                if keyword in node:
                    node[keyword] = [item for item in node[keyword] if item.get("$ref") not in internal]
            node.pop("discriminator", None)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    for model in INTERNAL_MODELS:
        defs.pop(model.__name__, None)


def _partial(name: str, defs: dict[str, Any]) -> str:
    """A copy of definition `name` with nothing required, through nested objects (an override's item)."""
    partial_name = f"{name}Override"
    if partial_name in defs:
        return partial_name
    item = copy.deepcopy(defs[name])
    item.pop("required", None)
    defs[partial_name] = item
    for prop in item.get("properties", {}).values():
        for option in [prop, *prop.get("anyOf", [])]:
            ref = option.get("$ref", "")
            if ref.startswith("#/$defs/") and defs[ref.removeprefix("#/$defs/")].get("type") == "object":
                option["$ref"] = f"#/$defs/{_partial(ref.removeprefix('#/$defs/'), defs)}"
    return partial_name


def _overrides_schema(properties: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    catalogs = {}
    for catalog in CATALOGS:
        item_ref = properties[catalog]["items"]["$ref"].removeprefix("#/$defs/")
        catalogs[catalog] = {
            "type": "object",
            "description": f"`<{catalog} item name>: <the keys that change>`, deep-merged into that item.",
            "additionalProperties": {"$ref": f"#/$defs/{_partial(item_ref, defs)}"},
        }
    return {
        "type": "object",
        "description": OVERRIDES_DESCRIPTION,
        "properties": catalogs,
        "additionalProperties": False,
    }


def key_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """(schema per top-level key, shared definitions), from the models, with `overrides` added."""
    generated = PlatformConfig.model_json_schema(by_alias=True)
    defs: dict[str, Any] = generated.pop("$defs")
    properties = {key: value for key, value in generated["properties"].items() if key not in INTERNAL_FIELDS}
    _without_internal(properties, defs)
    _without_internal(defs, defs)
    properties["overrides"] = _overrides_schema(properties, defs)
    for definition in defs.values():
        # A model's class docstring is written for the code's readers; the editor shows the fields' descriptions.
        definition.pop("description", None)
    for definition in [*properties.values(), *defs.values()]:
        definition.pop("title", None)
        for prop in definition.get("properties", {}).values():
            prop.pop("title", None)
    # Each key's schema is a definition of its own, so both schemas and both spellings share it.
    defs.update({f"platform:{key}": value for key, value in properties.items()})
    return {key: {"$ref": f"#/$defs/platform:{key}"} for key in properties}, dict(sorted(defs.items()))


def _document(title: str, config: dict[str, Any], extra: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_URL,
        "title": title,
        "description": "Generated by `venv/bin/python -m tools.reference` from the config models; see reference.md.",
        "type": "object",
        "properties": {"config": config, **extra},
        "$defs": defs,
    }


def stack_schema() -> dict[str, Any]:
    """`Pulumi.<stack>.yaml`: `config:` holds `platform:<key>: <value>`, plus other providers' keys."""
    properties, defs = key_schemas()
    known = "|".join(properties)
    config = {
        "type": "object",
        "properties": {f"platform:{key}": value for key, value in properties.items()},
        "patternProperties": {
            # Any other platform: key is a supplied secret (`pulumi config set --secret platform:<key>`).
            f"^platform:(?!({known})$)": {
                "type": "object",
                "properties": {"secure": {"type": "string"}},
                "required": ["secure"],
                "additionalProperties": False,
            }
        },
    }
    extra = {key: {"type": "string"} for key in ("encryptionsalt", "encryptedkey", "secretsprovider")}
    return _document("Pulumi.<stack>.yaml of the GKE microservice platform", config, extra, defs)


def project_schema() -> dict[str, Any]:
    """`Pulumi.yaml`: each key is declared as `{description, value}` (structured) or `{type, description, default}`.

    The root project names keys bare (`cluster`); the examples, whose project names differ, write
    `platform:cluster`. Both forms are described.
    """
    properties, defs = key_schemas()
    declared = {}
    for key, value in properties.items():
        declaration = {
            "type": "object",
            "properties": {
                "description": {"type": "string"},
                "type": {"enum": ["string", "integer", "boolean", "array"]},
                "default": value,
                "value": value,
                "secret": {"type": "boolean"},
            },
            "additionalProperties": False,
        }
        declared[key] = declared[f"platform:{key}"] = declaration
    config = {"type": "object", "properties": declared}
    return _document("Pulumi.yaml of the GKE microservice platform", config, {}, defs)


def _json(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- command line


def outputs() -> dict[Path, str]:
    return {REFERENCE: reference_markdown(), SCHEMA: _json(stack_schema()), PROJECT_SCHEMA: _json(project_schema())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT))
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale: {', '.join(map(str, stale))}; run `venv/bin/python -m tools.reference`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
