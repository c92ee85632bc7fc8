"""The docs stay true: the front page is short and gives the test command CI runs; docs/ documents every
config key with its real default, the deploy steps, and an "Add a service" that works pasted as written.

(These checks read README.md until the docs split; they were moved, none loosened.)
"""

from __future__ import annotations

import re
import shutil
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import FIXTURE_DIR, ROOT_DIR, run_program, stack_config, stand_in_secrets
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from components.config import PlatformConfig
from components.tenancy.config import ProvidedKey, UnknownGenerator
from tools.reference import DERIVED_DEFAULTS, cell, project_defaults

README = (ROOT_DIR / "README.md").read_text()
DOCS = ROOT_DIR / "docs"
REFERENCE = (DOCS / "reference.md").read_text()
DEPLOY = (DOCS / "deploy.md").read_text()
SERVICES = (DOCS / "services.md").read_text()
TEST_COMMAND = "python3 -m venv venv && venv/bin/pip install -r requirements.txt && venv/bin/python -m pytest"
INTERNAL_FIELDS = {"stack", "project", "supplied_secret_keys", "deployed_data"}
# Pages other engineers write; the table of contents links them before they land.
RESERVED_PAGES = {"data-access.md", "compute.md", "operations.md", "versions.md", "chart-sources.md"}
PAGES = [
    "getting-started.md",
    "deploy.md",
    "configuration.md",
    "reference.md",
    "services.md",
    "cluster.md",
    "tenancy.md",
    "traffic.md",
    "data.md",
    "observability.md",
    "planning.md",
    "addons.md",
    "examples.md",
    "development.md",
]


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        # Neither is a key a user writes: a misspelt generator, and the platform-only `provided`.
        return [] if annotation in (UnknownGenerator, ProvidedKey) else [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _key_paths() -> Iterator[str]:
    """Every key a user can write, each model documented once, at the first path it appears."""
    return (path for path, _, _ in _fields())


# --------------------------------------------------------------------------- the front page


def test_readme_test_command_is_the_one_ci_runs() -> None:
    assert TEST_COMMAND in README
    assert TEST_COMMAND in (ROOT_DIR / ".ci" / "run").read_text()


def test_readme_is_a_short_front_page() -> None:
    assert len(README.splitlines()) < 300
    for command in ("venv/bin/python -m tools.plan --stack production", "pulumi up --stack production"):
        assert command in README, command
    assert "(docs/README.md)" in README


def _links(text: str) -> list[str]:
    return [target for target in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in target]


def _anchors(page: Path) -> set[str]:
    """The heading anchors GitHub gives a page: lowercase, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", page.read_text(), flags=re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def _user_pages() -> list[Path]:
    """The pages a user reads: the front page, docs/ and each example's README."""
    return [ROOT_DIR / "README.md", *sorted(DOCS.glob("*.md")), *sorted(ROOT_DIR.glob("examples/*/README.md"))]


def test_every_relative_link_resolves() -> None:
    broken = []
    for page in _user_pages():
        for link in _links(page.read_text()):
            target, _, anchor = link.partition("#")
            path = page.parent / target if target else page
            if Path(target).name in RESERVED_PAGES:
                continue
            if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
                broken.append(f"{page.relative_to(ROOT_DIR)} -> {link}")
    assert broken == []


def test_the_table_of_contents_links_every_page() -> None:
    toc = {link.partition("#")[0] for link in _links((DOCS / "README.md").read_text())}
    assert [page for page in [*PAGES, *sorted(RESERVED_PAGES)] if page not in toc] == []
    assert [page.name for page in DOCS.glob("*.md") if page.name != "README.md" and page.name not in toc] == []


def test_user_facing_docs_say_guide_not_seed_and_cite_no_issue_numbers() -> None:
    found = []
    for page in _user_pages():
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if re.search(r"\bseeds?\b|(?<![\w/&])#\d+\b|\bissue \d+", line, re.I):
                found.append(f"{page.relative_to(ROOT_DIR)}:{number}: {line.strip()[:80]}")
    assert found == []


# --------------------------------------------------------------------------- deploy


def test_deploy_page_gives_the_deploy_commands() -> None:
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
        "pulumi up --stack production",
    ):
        assert command in DEPLOY, command
    assert "pulumi up --stack production" in README


def test_deploy_page_minimum_pulumi_cli_is_the_pinned_sdk() -> None:
    # The CLI and the Python SDK are released together under one version: the CLI must be at least the SDK's floor.
    requirements = (ROOT_DIR / "requirements.txt").read_text()
    floor = re.search(r"^pulumi>=([0-9.]+)", requirements, re.M)
    assert floor is not None
    assert f"**v{floor.group(1)} or later**" in DEPLOY


def test_deploy_page_enables_every_gcp_api_the_stacks_use() -> None:
    apis = set(re.findall(r"([a-z]+)\.googleapis\.com", DEPLOY.split("Enable them all in one go:", 1)[1]))
    assert {"compute", "container", "iam", "cloudresourcemanager", "logging", "monitoring"} <= apis
    # Binary Authorization is needed exactly where a stack enforces it.
    enforced = [
        path.name
        for path in sorted(ROOT_DIR.glob("Pulumi.*.yaml"))
        if (yaml.safe_load(path.read_text())["config"].get("platform:cluster") or {}).get("binaryAuthorization")
    ]
    assert not enforced or "binaryauthorization" in apis, enforced


def test_kind_walkthrough_says_hpas_need_metrics_server() -> None:
    walkthrough = (DOCS / "getting-started.md").read_text()
    assert "kind has no metrics-server" in walkthrough
    assert "metrics-server/releases/download/v0.8.1/components.yaml" in walkthrough
    assert "--kubelet-insecure-tls" in walkthrough


# --------------------------------------------------------------------------- "Add a service", pasted as written


def _yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


def _paste_after(text: str, anchor: list[str], block: str) -> str:
    """Insert `block` after the line that ends the `anchor` chain (each line found after the previous)."""
    lines = text.splitlines(keepends=True)
    at = 0
    for wanted in anchor:
        at = next(i for i in range(at, len(lines)) if lines[i].rstrip("\n") == wanted) + 1
    return "".join([*lines[:at], block, *lines[at:]])


def _pasted_project(tmp_path: Path) -> Path:
    """The docs' two blocks pasted as written into copies of the fixture project's files, which have the
    sample's layout; the repository's own files are a team's to edit (a team that has pasted `reviews`
    already must not see this test fail)."""
    service_block, production_block = _yaml_blocks(SERVICES.split("## Add a service", 1)[1])[:2]
    for path in FIXTURE_DIR.glob("Pulumi*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    project = tmp_path / "Pulumi.yaml"
    project.write_text(_paste_after(project.read_text(), ["  platform:services:", "    value:"], service_block))
    production = tmp_path / "Pulumi.production.yaml"
    production.write_text(
        _paste_after(production.read_text(), ["  platform:overrides:", "    services:"], production_block)
    )
    return tmp_path


def test_add_a_service_snippets_keep_the_existing_overrides(tmp_path: Path) -> None:
    before = yaml.safe_load((FIXTURE_DIR / "Pulumi.production.yaml").read_text())["config"]["platform:overrides"]
    after = yaml.safe_load((_pasted_project(tmp_path) / "Pulumi.production.yaml").read_text())["config"]
    overrides = after["platform:overrides"]
    assert overrides["services"]["reviews"]["autoscaling"] == {"minReplicas": 3, "maxReplicas": 8}
    # Nothing the stack already overrode was lost (a second `platform:overrides` key would drop it all).
    assert {
        catalog: {k: v for k, v in items.items() if k != "reviews"} for catalog, items in overrides.items()
    } == before
    project = yaml.safe_load((tmp_path / "Pulumi.yaml").read_text())["config"]
    assert [s["name"] for s in project["platform:services"]["value"]].count("reviews") == 1


@pytest.mark.parametrize("stack", ["dev", "staging", "production"])
def test_add_a_service_snippets_give_a_stack_that_runs(tmp_path: Path, stack: str) -> None:
    directory = _pasted_project(tmp_path)
    values = stack_config(stack, directory)
    values = {**values, **stand_in_secrets(values)}
    run = run_program(stack, values, secret_keys=list(stand_in_secrets(values)), config_dir=directory)
    (deployment,) = run.k8s("Deployment", "reviews", "shop")
    hpa = run.k8s("HorizontalPodAutoscaler", "reviews", "shop")[0].manifest["spec"]
    expected = (3, 8) if stack == "production" else (1, 3)
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == expected
    assert deployment.manifest["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "ghcr.io/stefanprodan/podinfo:6.9.2"
    )


# --------------------------------------------------------------------------- the reference: every key, real defaults


def test_reference_documents_every_config_key() -> None:
    missing = [path for path in _key_paths() if f"| `{path}` |" not in REFERENCE]
    assert missing == []


def _documented_defaults() -> dict[str, str]:
    """key path -> the default cell of docs/reference.md's table."""
    rows = (re.split(r"(?<!\\) \| ", line) for line in REFERENCE.splitlines() if line.startswith("| `"))
    return {cells[0].removeprefix("| ").strip("`"): cells[2].strip() for cells in rows}


def _fields() -> Iterator[tuple[str, FieldInfo, Any]]:
    """(key path, field, the value its parent's default object gives it) for every key, each model
    once, at the first path it appears (as documented)."""
    documented: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel], prefix: str, parent_default: Any) -> Iterator[tuple[str, FieldInfo, Any]]:
        for name, field in model.model_fields.items():
            if name in INTERNAL_FIELDS:
                continue
            path = f"{prefix}.{field.alias or name}" if prefix else (field.alias or name)
            inherited = getattr(parent_default, name, None) if parent_default is not None else None
            yield path, field, inherited
            default = None if field.is_required() else field.get_default(call_default_factory=True)
            for sub in _models_in(field.annotation):
                if sub not in documented:
                    documented.add(sub)
                    yield from walk(sub, path, default if isinstance(default, BaseModel) else inherited)

    yield from walk(PlatformConfig, "", None)


def test_reference_defaults_are_the_real_defaults() -> None:
    """Each documented default is the value a stack gets when it leaves the key out.

    That is the model's default (its field default, or "required" when it has none), except for a
    top-level key whose *default* Pulumi.yaml declares (`environment`, `app`, `domain`): Pulumi
    hands that value to every stack that does not set the key, so the model's default is never
    seen and the project's is the real one. Keys Pulumi.yaml sets with `value` (the catalogs, dev's
    cluster and add-ons) are dev's settings and the shared catalog, not defaults: a stack file that
    sets such a key replaces it whole, and every key it leaves out takes the model's default. A
    required key of an object that itself has a default object takes that object's value when the
    object is left out. Unset (None) means "derived": DERIVED_DEFAULTS computes what the program
    derives from the code itself.
    """
    documented = _documented_defaults()
    project = project_defaults()
    expected = {}
    for path, field, inherited in _fields():
        if path in DERIVED_DEFAULTS:
            expected[path] = DERIVED_DEFAULTS[path]()
        elif path in project:
            expected[path] = cell(project[path])
        elif field.is_required():
            parent = path.rsplit(".", 1)[0]
            given = inherited is not None and not isinstance(inherited, BaseModel)
            expected[path] = f"required; {cell(inherited)} when `{parent}` is left out" if given else "required"
        else:
            expected[path] = cell(field.get_default(call_default_factory=True))
    wrong = {path: (documented[path], real) for path, real in expected.items() if documented.get(path) != real}
    assert wrong == {}, "documented default -> real default"
    assert "?" not in {DERIVED_DEFAULTS[path]() for path in DERIVED_DEFAULTS}
