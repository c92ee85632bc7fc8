"""Loading the stack's config: read, merge overrides, substitute, validate, report.

Everything the program reads lives under the ``platform:`` namespace of Pulumi config.
``load_config()`` gathers it, applies the per-stack ``overrides`` to the shared catalog,
substitutes ``${environment}`` and ``${domain}``, and validates the result in two passes:

1. shape: each domain's pydantic models with ``extra="forbid"``, so a misspelt key is an error;
2. meaning: each domain's own rules, then the rules across domains (``checks.py``).

Every problem becomes one line naming the stack, the key path and what is allowed, raised as
``ConfigError`` (``errors.py``).

Deliberately out of scope: reading files other than Pulumi config, and any resource logic.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

from components.config.checks import semantic_problems
from components.config.errors import NAMESPACE, Problem, Problems, config_error
from components.config.root import PlatformConfig
from components.tenancy.config import GENERATORS

# Top-level keys under ``platform:``; each is one Pulumi config key.
TOP_LEVEL_KEYS = (
    "environment",
    "app",
    "domain",
    "cluster",
    "network",
    "nodePools",
    "namespaces",
    "configMaps",
    "secrets",
    "services",
    "ingress",
    "addons",
    "overrides",
)
STRUCTURED_KEYS = frozenset(TOP_LEVEL_KEYS) - {"environment", "app", "domain"}
CATALOGS = ("services", "namespaces", "secrets", "configMaps")


def _all_config() -> dict[str, Any]:
    """Every config value the engine handed the program, keyed 'namespace:key'."""
    from pulumi.runtime import config as runtime_config

    values = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return values


def _decode(key: str, raw: Any) -> Any:
    if key in STRUCTURED_KEYS and isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise Problems([(key, f"is not valid structured config: {exc.msg}")]) from exc
    return raw


def _merge(base: Any, overlay: Any) -> Any:
    """Mappings merge key by key, recursively; lists and scalars replace whole."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = _merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(overlay)


def _apply_overrides(raw: dict[str, Any]) -> dict[str, Any]:
    overrides = raw.pop("overrides", None) or {}
    if not isinstance(overrides, dict):
        raise Problems([("overrides", "must be a mapping of catalog name to {item name: partial item}")])
    problems = []
    for catalog, changes in overrides.items():
        path = f"overrides.{catalog}"
        if catalog not in CATALOGS:
            problems.append((path, f"unknown catalog '{catalog}'; allowed: {', '.join(CATALOGS)}"))
            continue
        if not isinstance(changes, dict):
            problems.append((path, "must be a mapping of item name to the keys that change"))
            continue
        items = raw.get(catalog, [])
        if not isinstance(items, list):
            continue  # the catalog's own type error is reported by validation
        by_name = {
            item["name"]: i
            for i, item in enumerate(items)
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        }
        merged = list(items)
        for name, change in changes.items():
            if name not in by_name:
                known = ", ".join(str(n) for n in by_name) or "none"
                problems.append((f"{path}.{name}", f"no item named '{name}' in platform:{catalog}; known: {known}"))
            elif not isinstance(change, dict) or "name" in change:
                problems.append((f"{path}.{name}", "must be a mapping of the keys that change (not including 'name')"))
            else:
                index = by_name[name]
                merged[index] = _merge(merged[index], change)
        raw[catalog] = merged
    if problems:
        raise Problems(problems)
    return raw


def _substitute(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in values.items():
            value = value.replace("${" + name + "}", replacement)
        return value
    if isinstance(value, list):
        return [_substitute(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, values) for key, item in value.items()}
    return value


_UNION_TAGS = frozenset(GENERATORS) | {"unknown", "number", "name", "plain", "ref"}


def _format_loc(loc: tuple[Any, ...]) -> str:
    """('services', 2, 'autoscaling', 'maxReplicas') -> 'services[2].autoscaling.maxReplicas'."""
    path = ""
    for index, part in enumerate(loc):
        # Discriminated unions add their tag to the location; the user never wrote it.
        after_map_key = index >= 2 and loc[index - 2] in ("keys", "env", "port")
        if part in _UNION_TAGS and (after_map_key or loc[index - 1] == "port"):
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at the parent of `loc`, for 'unknown key' messages."""
    model: Any = PlatformConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        field = fields.get(str(part))
        if field is None:
            return []
        model = _model_in(field.annotation)
    if model is None:
        return []
    return sorted(
        f.alias or n for n, f in model.model_fields.items() if n not in ("stack", "project", "supplied_secret_keys")
    )


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _describe(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(tuple(error["loc"]))
        return "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "union_tag_invalid":
        return f"unknown type; allowed: {', '.join(GENERATORS)}"
    shown = json.dumps(value) if isinstance(value, (str, int, float, bool)) else type(value).__name__
    message = error["msg"]
    message = message[0].lower() + message[1:]
    return f"{message} (got {shown})"


def _shape_problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        problems.append((_format_loc(tuple(error["loc"])), _describe(error)))
    return problems


def parse(stack: str, raw_values: Mapping[str, Any], project: str | None = None) -> PlatformConfig:
    """Validate raw `platform:*` config (already keyed without the namespace) for one stack."""
    try:
        raw = {key: _decode(key, value) for key, value in raw_values.items()}
        raw = _apply_overrides(raw)
        environment = raw.get("environment", "dev")
        substitutions = {"environment": str(environment), "domain": str(raw.get("domain") or "")}
        raw = _substitute(raw, substitutions)
        supplied = _config_secret_keys(raw)
        unknown = [key for key in raw if key not in TOP_LEVEL_KEYS and key not in supplied]
        if unknown:
            raise Problems(
                [
                    (key, f"unknown key; allowed: {', '.join(TOP_LEVEL_KEYS)} or a key named by a 'config' secret")
                    for key in unknown
                ]
            )
        document = {key: value for key, value in raw.items() if key in TOP_LEVEL_KEYS}
        document.update(stack=stack, project=project, suppliedSecretKeys=tuple(k for k in supplied if k in raw))
        document.setdefault("environment", "dev")
        try:
            config = PlatformConfig.model_validate(document)
        except ValidationError as exc:
            raise Problems(_shape_problems(exc)) from None
        problems = list(semantic_problems(config))
        if problems:
            raise Problems(problems)
    except Problems as found:
        raise config_error(stack, found.problems) from None
    return _without_disabled(config)


def _config_secret_keys(raw: Mapping[str, Any]) -> list[str]:
    """Keys named by `type: config` secret keys. Read from config not yet validated, so any shape is possible."""
    secrets = raw.get("secrets")
    found: set[str] = set()
    for secret in secrets if isinstance(secrets, list) else []:
        keys = secret.get("keys") if isinstance(secret, dict) else None
        for spec in keys.values() if isinstance(keys, dict) else []:
            if isinstance(spec, dict) and spec.get("type") == "config" and isinstance(spec.get("key"), str):
                found.add(spec["key"])
    return sorted(found)


def load_config() -> PlatformConfig:
    """Read and validate this stack's `platform:*` config. Raises ConfigError on any problem."""
    prefix = NAMESPACE + ":"
    raw = {key[len(prefix) :]: value for key, value in _all_config().items() if key.startswith(prefix)}
    project = pulumi.Config("gcp").get("project")
    return parse(pulumi.get_stack(), raw, project)


def _without_disabled(config: PlatformConfig) -> PlatformConfig:
    return config.model_copy(
        update={
            "services": [s for s in config.services if s.enabled],
            "namespaces": [n for n in config.namespaces if n.enabled],
            "secrets": [s for s in config.secrets if s.enabled],
            "config_maps": [c for c in config.config_maps if c.enabled],
        }
    )
