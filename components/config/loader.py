"""Loading the stack's config: read, merge overrides, substitute, validate, report.

Everything the program reads lives under the ``platform:`` namespace of Pulumi config.
``load_config()`` gathers it, appends the items of the ``catalogFiles`` (project YAML files, read
strictly by ``components/yaml_files.py``), applies the per-stack ``overrides`` to the shared catalog,
substitutes ``${environment}`` and ``${domain}``, and validates the result in two passes:

1. shape: each domain's pydantic models with ``extra="forbid"``, so a misspelt key is an error;
2. meaning: each domain's own rules, then the rules across domains (``checks.py``).

Every problem becomes one line naming the stack, the key path and what is allowed, raised as
``ConfigError`` (``components/errors.py``). Paths name list items by their ``name`` (``services[checkout]``),
and a value an override set is reported at the stack-file key it came from
(``overrides.services.checkout.autoscaling.maxReplicas``); both translations happen once, here, so
every domain's checks keep yielding plain index paths.

Deliberately out of scope: reading files other than Pulumi config and its catalog files, and any
resource logic.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

from components.config.checks import semantic_problems
from components.config.root import PlatformConfig, placed
from components.data.history import deployed_data_services
from components.errors import NAMESPACE, Problem, Problems, config_error
from components.tenancy.config import GENERATORS
from components.yaml_files import StackFileError, load_yaml

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
    "dataServices",
    "dataTls",
    "backup",
    "timing",
    "overrides",
    "catalogFiles",
)
STRUCTURED_KEYS = frozenset(TOP_LEVEL_KEYS) - {"environment", "app", "domain"}
CATALOGS = ("services", "namespaces", "secrets", "configMaps", "dataServices")


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


def _set_paths(base: Any, overlay: Any, path: str) -> Iterator[str]:
    """The key paths `_merge(base, overlay)` replaced: mapping keys recursed into, anything else whole."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        for key, value in overlay.items():
            yield from _set_paths(base.get(key), value, f"{path}.{key}")
    else:
        yield path


def _include_catalog_files(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Append the items of each `catalogFiles` file (a glob under `base`, the project directory) to its catalogs."""
    patterns = raw.get("catalogFiles")
    if patterns is None:
        return raw
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise Problems([("catalogFiles", "must be a list of project-relative file paths or glob patterns")])
    problems: list[Problem] = []
    for pattern in patterns:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            problems.append(("catalogFiles", f"'{pattern}' must be a path inside the project directory"))
            continue
        matches = sorted(path for path in base.glob(pattern) if path.is_file())
        if not matches:
            problems.append(("catalogFiles", f"'{pattern}' matches no file in {base}"))
        for path in matches:
            try:
                document = load_yaml(path)
            except StackFileError as error:
                problems.append(("catalogFiles", str(error)))
                continue
            where = path.relative_to(base)
            if not isinstance(document, dict):
                problems.append(("catalogFiles", f"{where}: must be a mapping of catalog name to a list of items"))
                continue
            for catalog, items in document.items():
                if catalog not in CATALOGS:
                    problems.append(
                        ("catalogFiles", f"{where}: unknown catalog '{catalog}'; allowed: {', '.join(CATALOGS)}")
                    )
                elif not isinstance(items, list) or not isinstance(raw.get(catalog, []), list):
                    problems.append(("catalogFiles", f"{where}: '{catalog}' must be a list of items"))
                else:
                    raw[catalog] = [*raw.get(catalog, []), *items]
    if problems:
        raise Problems(problems)
    return raw


def _apply_overrides(raw: dict[str, Any], origins: dict[str, str]) -> dict[str, Any]:
    """Merge `overrides` into the catalogs; `origins` gets each replaced path -> its override key."""
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
                for set_path in _set_paths(merged[index], change, f"{catalog}[{index}]"):
                    origins[set_path] = f"{path}.{name}"
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
        return _unknown_key(str(error["loc"][-1]), _allowed_keys(tuple(error["loc"])))
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


def _unknown_key(key: str, allowed: list[str] | tuple[str, ...], also: str = "") -> str:
    """'unknown key; did you mean 'minReplicas'? allowed: ...' - the suggestion only when one is close."""
    message = "unknown key"
    close = difflib.get_close_matches(key, allowed, n=1) or difflib.get_close_matches(
        key.lower(), [a.lower() for a in allowed], n=1
    )
    if close:
        suggestion = next(a for a in allowed if a.lower() == close[0].lower())
        message += f"; did you mean '{suggestion}'?"
    if allowed:
        message += ("" if close else ";") + f" allowed: {', '.join(allowed)}{also}"
    return message


def _shape_problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        problems.append((_format_loc(tuple(error["loc"])), _describe(error)))
    return problems


def parse(
    stack: str,
    raw_values: Mapping[str, Any],
    project: str | None = None,
    deployed_data: Mapping[str, Any] | None = None,
    base: Path | None = None,
) -> PlatformConfig:
    """Validate raw `platform:*` config (already keyed without the namespace) for one stack; `base` is the
    project directory `catalogFiles` are relative to (the working directory, where Pulumi runs the program)."""
    origins: dict[str, str] = {}
    raw: dict[str, Any] = {}
    try:
        raw = {key: _decode(key, value) for key, value in raw_values.items()}
        raw = _include_catalog_files(raw, base or Path.cwd())
        raw = _apply_overrides(raw, origins)
        environment = raw.get("environment", "dev")
        substitutions = {"environment": str(environment), "domain": str(raw.get("domain") or "")}
        raw = _substitute(raw, substitutions)
        supplied = _config_secret_keys(raw)
        unknown = [key for key in raw if key not in TOP_LEVEL_KEYS and key not in supplied]
        if unknown:
            also = " or a key named by a 'config' secret"
            raise Problems([(key, _unknown_key(key, TOP_LEVEL_KEYS, also)) for key in unknown])
        document = {key: value for key, value in raw.items() if key in TOP_LEVEL_KEYS}
        document.update(
            stack=stack,
            project=project,
            suppliedSecretKeys=tuple(k for k in supplied if k in raw),
            deployedData=dict(deployed_data or {}),
        )
        document.setdefault("environment", "dev")
        try:
            config = PlatformConfig.model_validate(document).with_derived_defaults()
        except ValidationError as exc:
            raise Problems(_shape_problems(exc)) from None
        problems = list(semantic_problems(config))
        if problems:
            raise Problems(problems)
    except Problems as found:
        named = [(_reported_path(path, raw, origins), message) for path, message in found.problems]
        raise config_error(stack, named) from None
    return _without_disabled(config)


# --------------------------------------------------------------------------- how a path is reported

# `services[2].ports[0].name` -> ("services", 2, "ports", 0, "name"); a key holding dots
# (`data.app.properties`) splits into several parts, and is joined back unchanged.
_PATH_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_CATALOG_ITEM = re.compile(r"^(?P<catalog>[A-Za-z]+)\[\d+\]")


def _reported_path(path: str, document: Mapping[str, Any], origins: Mapping[str, str]) -> str:
    """The path as the user wrote the value: list items by name, and an overridden value at its
    `overrides.<catalog>.<item>...` key in the stack file."""
    item = _CATALOG_ITEM.match(path)
    if item is not None:
        for set_path, override in origins.items():
            # The problem lies at or below a replaced value, or inside an object an override changed.
            below = path == set_path or path.startswith((set_path + ".", set_path + "["))
            inside = path != item.group(0) and set_path.startswith((path + ".", path + "["))
            if below or inside:
                rest = path[item.end() :]
                node = _at(document, path[: item.end()])
                return override + _named(rest, node)
    return _named(path, document)


def _at(document: Any, path: str) -> Any:
    node = document
    for index, key in _PATH_PART.findall(path):
        node = _child(node, int(index) if index else key)
    return node


def _child(node: Any, part: int | str) -> Any:
    if isinstance(part, int):
        return node[part] if isinstance(node, list) and 0 <= part < len(node) else None
    return node.get(part) if isinstance(node, dict) else None


def _named(path: str, node: Any) -> str:
    """Each `[i]` whose list item has a unique, plain `name` becomes `[name]`; the rest is unchanged."""
    out = ""
    for index, key in _PATH_PART.findall(path):
        if not index:
            out += f".{key}" if out or path.startswith(".") else key
            node = _child(node, key)
            continue
        position = int(index)
        out += f"[{_item_label(node, position)}]"
        node = _child(node, position)
    return out


def _item_label(items: Any, position: int) -> str:
    if not isinstance(items, list) or not 0 <= position < len(items) or not isinstance(items[position], dict):
        return str(position)
    name = items[position].get("name")
    names = [item.get("name") for item in items if isinstance(item, dict)]
    if isinstance(name, str) and name and re.fullmatch(r"[^\s.\[\]]+", name) and names.count(name) == 1:
        return name
    return str(position)


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
    # Only a stack that declares data services needs its previous deploy's versions and sizes.
    deployed = deployed_data_services() if raw.get("dataServices") else {}
    return parse(pulumi.get_stack(), raw, project, deployed)


def _without_disabled(config: PlatformConfig) -> PlatformConfig:
    """The enabled items, each service with its placement resolved (root.py `placed`)."""
    return config.model_copy(
        update={
            "services": [placed(s, config.node_pools, config.creates_cluster) for s in config.services if s.enabled],
            "namespaces": [n for n in config.namespaces if n.enabled],
            "secrets": [s for s in config.secrets if s.enabled],
            "config_maps": [c for c in config.config_maps if c.enabled],
            "data_services": [d for d in config.data_services if d.enabled],
        }
    )
