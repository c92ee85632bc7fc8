"""The README stays true: it documents every config key, and its test command is the one CI runs."""

from __future__ import annotations

import typing
from collections.abc import Iterator

from harness import ROOT_DIR
from pydantic import BaseModel

from components.config import PlatformConfig
from components.tenancy.config import UnknownGenerator

README = (ROOT_DIR / "README.md").read_text()
TEST_COMMAND = "python3 -m venv venv && venv/bin/pip install -r requirements.txt && venv/bin/python -m pytest"
INTERNAL_FIELDS = {"stack", "project", "supplied_secret_keys"}


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [] if annotation is UnknownGenerator else [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _key_paths() -> Iterator[str]:
    """Every key a user can write, each model documented once, at the first path it appears."""
    documented: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel], prefix: str) -> Iterator[str]:
        for name, field in model.model_fields.items():
            if name in INTERNAL_FIELDS:
                continue
            path = f"{prefix}.{field.alias or name}" if prefix else (field.alias or name)
            yield path
            for sub in _models_in(field.annotation):
                if sub not in documented:
                    documented.add(sub)
                    yield from walk(sub, path)

    yield from walk(PlatformConfig, "")


def test_readme_documents_every_config_key() -> None:
    missing = [path for path in _key_paths() if f"| `{path}` |" not in README]
    assert missing == []


def test_readme_test_command_is_the_one_ci_runs() -> None:
    assert TEST_COMMAND in README
    assert TEST_COMMAND in (ROOT_DIR / ".ci" / "run").read_text()


def test_readme_gives_the_deploy_commands() -> None:
    for command in (
        "pulumi login --local",
        "pulumi stack init",
        "pulumi config set gcp:project",
        "pulumi preview --stack dev",
    ):
        assert command in README, command
    assert "pulumi up --stack production" in README
