"""The generated config reference and JSON Schemas: fresh, complete, and true to the files they describe."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from harness import ROOT_DIR
from pydantic import BaseModel

from components.config.loader import CATALOGS, TOP_LEVEL_KEYS
from components.tenancy.config import GENERATORS
from tools import reference

STACK_SCHEMA = json.loads(reference.SCHEMA.read_text())
PROJECT_SCHEMA = json.loads(reference.PROJECT_SCHEMA.read_text())
SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def _rows() -> dict[str, list[str]]:
    """key path -> [type, default, description] of docs/reference.md's table."""
    table = {}
    for line in reference.REFERENCE.read_text().splitlines():
        if line.startswith("| `"):
            cells = re.split(r"(?<!\\) \| ", line.removeprefix("| ").removesuffix(" |"))
            table[cells[0].strip("`")] = cells[1:]
    return table


@pytest.mark.parametrize("path", list(reference.outputs()), ids=lambda p: p.name)
def test_generated_file_is_fresh(path: Path) -> None:
    assert path.read_text() == reference.outputs()[path], (
        f"{path.name} is stale: run `venv/bin/python -m tools.reference`"
    )


def test_every_user_model_field_has_a_description() -> None:
    models: list[type[BaseModel]] = []
    for key in reference.documented_keys():
        for field in key.fields:
            models += [m for m in reference.models_in(field.annotation) if m not in models]
    missing = [
        f"{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if name not in reference.INTERNAL_FIELDS and not field.description
    ]
    top = [name for name, f in reference.PlatformConfig.model_fields.items() if name not in reference.INTERNAL_FIELDS]
    missing += [name for name in top if not reference.PlatformConfig.model_fields[name].description]
    assert missing == []


def test_every_row_has_type_default_and_description() -> None:
    rows = _rows()
    assert len(rows) == len(reference.documented_keys()) + 1  # + overrides, which the loader applies before the models
    assert [path for path, (kind, default, description) in rows.items() if not (kind and default and description)] == []


def test_reference_covers_every_top_level_key() -> None:
    assert [key for key in TOP_LEVEL_KEYS if key not in _rows()] == []


def test_overrides_row_names_every_catalog_including_data_services() -> None:
    description = _rows()["overrides"][2]
    assert [catalog for catalog in CATALOGS if f"`{catalog}`" not in description] == []
    assert "dataServices" in CATALOGS


def test_secret_key_type_lists_every_generator() -> None:
    kind = _rows()["secrets.keys.type"][0]
    assert kind == " \\| ".join(f"`{generator}`" for generator in GENERATORS)


def test_a_default_object_gives_its_required_keys_their_values() -> None:
    rows = _rows()
    assert rows["namespaces.limits.defaultRequest"][1] == "see below"
    assert rows["namespaces.limits.defaultRequest.cpu"][1] == (
        "required; `100m` when `namespaces.limits.defaultRequest` is left out"
    )
    assert rows["namespaces.limits.defaultRequest.memory"][1] == (
        "required; `128Mi` when `namespaces.limits.defaultRequest` is left out"
    )


def _config_files() -> list[Path]:
    directories = [ROOT_DIR, *sorted(p for p in (ROOT_DIR / "examples").iterdir() if p.is_dir())]
    return [path for directory in directories for path in sorted(directory.glob("Pulumi*.yaml"))]


def _schema_for(path: Path) -> dict[str, Any]:
    return PROJECT_SCHEMA if path.name == "Pulumi.yaml" else STACK_SCHEMA


def _errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize("path", _config_files(), ids=lambda p: str(p.relative_to(ROOT_DIR)))
def test_project_and_stack_files_validate_against_their_schema(path: Path) -> None:
    assert _errors(_schema_for(path), yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", _config_files(), ids=lambda p: str(p.relative_to(ROOT_DIR)))
def test_project_and_stack_files_name_their_schema_for_the_editor(path: Path) -> None:
    match = SCHEMA_LINE.match(path.read_text().splitlines()[0])
    assert match, f"{path.name}: first line must be the yaml-language-server $schema comment"
    target = (path.parent / match.group(1)).resolve()
    expected = reference.PROJECT_SCHEMA if path.name == "Pulumi.yaml" else reference.SCHEMA
    assert target == expected.resolve()


def _production() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT_DIR / "tests/fixtures/shop/Pulumi.production.yaml").read_text())
    return document


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda c: c["platform:cluster"].update(mod="gke"), "['config', 'platform:cluster']"),
        (
            lambda c: c["platform:nodePools"][0].update(machineType=4),
            "['config', 'platform:nodePools', 0, 'machineType']",
        ),
        (lambda c: c.update({"platform:dataService": []}), "['config', 'platform:dataService']"),
        (
            lambda c: c["platform:overrides"]["services"]["checkout"]["autoscaling"].update(minReplica=3),
            "['config', 'platform:overrides', 'services', 'checkout', 'autoscaling']",
        ),
        (lambda c: c["platform:overrides"].update(jobs={}), "['config', 'platform:overrides']"),
        (lambda c: c.update({"platform:environment": "prod"}), "['config', 'platform:environment']"),
    ],
    ids=["misspelt-key", "wrong-type", "unknown-platform-key", "misspelt-override", "unknown-catalog", "bad-enum"],
)
def test_stack_schema_rejects_what_the_program_rejects(change: Any, where: str) -> None:
    document = _production()
    assert _errors(STACK_SCHEMA, document) == []
    broken = copy.deepcopy(document)
    change(broken["config"])
    errors = _errors(STACK_SCHEMA, broken)
    assert errors and all(error.startswith(where) for error in errors), errors


def test_stack_schema_accepts_a_supplied_secret_and_other_providers_keys() -> None:
    document = _production()
    document["config"]["platform:apiToken"] = {"secure": "AAABAB..."}
    document["config"]["gcp:zone"] = "europe-west1-b"
    document["config"]["platform:overrides"]["dataServices"] = {"orders-db": {"mode": "managed"}}
    assert _errors(STACK_SCHEMA, document) == []
    document["config"]["platform:apiToken"] = "plain"
    assert _errors(STACK_SCHEMA, document) != []


def test_project_schema_checks_a_declared_value() -> None:
    document = yaml.safe_load((ROOT_DIR / "Pulumi.yaml").read_text())
    document["config"]["services"]["value"][0]["replicaz"] = 2
    errors = _errors(PROJECT_SCHEMA, document)
    assert errors and all(e.startswith("['config', 'services', 'value', 0]") for e in errors), errors
