"""docs/deploy.md is enough to deploy: every Google Cloud resource type the program can register has its
API enabled and a role that creates it (deploy) and one that reads it (preview), and the commands the
page gives enable and grant exactly what its table lists.

The resource types come from two places that must agree: the code (every `pulumi_gcp` class that
`components/` constructs, through `gcp.<module>.<Class>(` or a module alias such as
`kafka = gcp.managedkafka`), and the registrations of every stack under the harness.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from pathlib import Path

import pulumi
import pytest
from harness import ROOT_DIR
from test_stacks import STACKS, stack_run

DEPLOY = (ROOT_DIR / "docs" / "deploy.md").read_text()
TYPE_ROW = re.compile(
    r"^\| `(?P<type>[a-z]+\.[A-Z]\w*)` \| `(?P<api>[a-z]+\.googleapis\.com)` \| (?P<deploy>.+?) \| (?P<preview>.+?) \|$"
)
ROLE = re.compile(r"`(roles/[\w.]+)`")


@functools.cache
def documented() -> dict[str, tuple[str, set[str], set[str]]]:
    """resource type (`compute.Network`) -> (API, deploy roles, preview roles), from docs/deploy.md's table."""
    rows = {}
    for line in DEPLOY.splitlines():
        match = TYPE_ROW.match(line)
        if match:
            deploy, preview = set(ROLE.findall(match["deploy"])), set(ROLE.findall(match["preview"]))
            rows[match["type"]] = (match["api"], deploy, preview)
    return rows


def _code_block_after(marker: str) -> str:
    return DEPLOY.split(marker, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]


@functools.cache
def constructed_in_code() -> dict[str, list[str]]:
    """resource type -> the files under components/ that construct it."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT_DIR / "components").rglob("*.py")):
        text = path.read_text()
        aliases = {
            f"{prefix}.{module}": module for prefix, module in re.findall(r"\b(gcp|pulumi_gcp)\.([a-z]\w*)", text)
        }
        aliases |= {alias: module for alias, module in re.findall(r"\b(\w+) = (?:gcp|pulumi_gcp)\.([a-z]\w*)\b", text)}
        for alias, module in aliases.items():
            for name in re.findall(rf"(?<![\w.]){re.escape(alias)}\.([A-Z]\w*)\(", text):
                cls = getattr(importlib.import_module(f"pulumi_gcp.{module}"), name, None)
                if inspect.isclass(cls) and issubclass(cls, pulumi.CustomResource):
                    found.setdefault(f"{module}.{name}", []).append(str(path.relative_to(ROOT_DIR)))
    return found


def _registered_type(token: str) -> str:
    """'gcp:compute/network:Network' -> 'compute.Network'."""
    module, _, name = token.removeprefix("gcp:").partition("/")
    return f"{module}.{name.split(':')[1]}"


def test_the_code_scan_finds_the_resources_it_must() -> None:
    # The scan sees direct calls and module aliases alike; were it blind, every check below would pass vacuously.
    types = constructed_in_code()
    for expected in ("compute.Network", "container.NodePool", "managedkafka.Cluster", "compute.RegionSecurityPolicy"):
        assert expected in types, expected
    assert "compute.NetworkArgs" not in types  # Args classes are not resources


@pytest.mark.parametrize("stack", STACKS, ids=[f"{'root' if d == ROOT_DIR else d.name}-{s}" for d, s in STACKS])
def test_every_type_a_stack_registers_is_found_by_the_code_scan(stack: tuple[Path, str]) -> None:
    registered = {_registered_type(r.type) for r in stack_run(*stack).resources if r.type.startswith("gcp:")}
    assert registered - set(constructed_in_code()) == set()


def test_every_gcp_resource_type_has_an_api_and_both_roles() -> None:
    rows = documented()
    missing = sorted(set(constructed_in_code()) - set(rows))
    assert missing == [], f"add a row to docs/deploy.md for: {missing}"
    incomplete = [kind for kind, (api, deploy, preview) in rows.items() if not (api and deploy and preview)]
    assert incomplete == []


def test_the_table_names_no_type_the_program_never_creates() -> None:
    assert sorted(set(documented()) - set(constructed_in_code())) == []


def test_the_enable_command_enables_every_api_the_table_names() -> None:
    command = _code_block_after("Enable them all in one go:")
    enabled = set(re.findall(r"([a-z]+\.googleapis\.com)", command))
    needed = {api for api, _, _ in documented().values()}
    assert needed - enabled == set()
    # Cloud Certificate Manager, Cloud Trace and the managed stores' APIs were once missing from the list.
    for api in ("certificatemanager", "cloudtrace", "sqladmin", "redis", "servicenetworking", "managedkafka", "dns"):
        assert f"{api}.googleapis.com" in enabled, api


def test_the_deploy_account_is_granted_every_deploy_role() -> None:
    granted = set(re.findall(r"(roles/[\w.]+)", _code_block_after("The deploy account's roles")))
    needed = {role for _, deploy, _ in documented().values() for role in deploy}
    assert granted == needed


def test_the_preview_account_is_granted_every_preview_role_and_only_read_roles() -> None:
    granted = set(re.findall(r"(roles/[\w.]+)", _code_block_after("The preview account's roles")))
    needed = {role for _, _, preview in documented().values() for role in preview}
    assert granted == needed
    read_only = re.compile(r"\.(viewer|reader|securityReviewer|serviceAccountViewer|bucketViewer)$|^roles/viewer$")
    assert [role for role in granted if not read_only.search(role)] == []


def test_the_production_state_backend_is_a_versioned_uniform_bucket_with_a_kms_key() -> None:
    setup = _code_block_after("## State and secrets")
    for needed in (
        "--uniform-bucket-level-access",
        "--public-access-prevention",
        "--versioning",
        "gcloud kms keys create",
        "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "roles/storage.objectAdmin",
    ):
        assert needed in setup, needed
    assert 'pulumi stack init production --secrets-provider="$KEY"' in DEPLOY
    assert "KEY=gcpkms://projects/" in DEPLOY
