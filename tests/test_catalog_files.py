"""`catalogFiles`: catalog items kept in project YAML files rather than in Pulumi config.

Pulumi's Python language host hands the program its whole config in one environment variable
(`PULUMI_CONFIG`), and Linux refuses an exec whose single environment string exceeds 128 KiB
(MAX_ARG_STRLEN): e2e/scale.py's 300-service catalog failed on a real engine with "argument list too
long". Items in catalog files never pass through that variable.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import FIXTURE_DIR, assert_rejected, run_program, stack_config

# Linux's MAX_ARG_STRLEN: 32 pages of 4 KiB, the largest single argument or environment string.
MAX_ARG_STRLEN = 32 * 4096


def _project(tmp_path: Path, files: dict[str, Any]) -> Path:
    """A copy of the fixture project with `files` (path -> YAML document) in it."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURE_DIR, project)
    for name, document in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return project


def _clone(config: dict[str, Any], name: str, number: int) -> dict[str, Any]:
    template = next(s for s in config["platform:services"] if s["name"] == "checkout")
    clone = copy.deepcopy(template)
    clone["name"] = f"{name}-{number:03d}"
    clone["routes"] = [{**route, "path": f"{route['path']}-{number:03d}"} for route in template.get("routes", [])]
    return clone


def test_a_large_catalog_in_config_overflows_the_environment_string_the_language_host_passes() -> None:
    """Why the key exists: 300 clones of a sample service, as config, exceed what one exec may pass."""
    config = stack_config("dev")
    config["platform:services"] = [*config["platform:services"], *(_clone(config, "svc", i) for i in range(300))]
    as_passed = json.dumps({key: json.dumps(value) for key, value in config.items()})
    assert len(as_passed.encode()) > MAX_ARG_STRLEN


def test_services_in_catalog_files_are_deployed_like_the_configs_own(tmp_path: Path) -> None:
    config = stack_config("dev")
    clones = [_clone(config, "reviews", i) for i in range(2)]
    project = _project(
        tmp_path, {"catalog/reviews.yaml": {"services": clones[:1]}, "catalog/more.yaml": {"services": clones[1:]}}
    )
    run = run_program("dev", {**config, "platform:catalogFiles": ["catalog/*.yaml"]}, config_dir=project)
    names = {r.manifest["metadata"]["name"] for r in run.k8s("Deployment")}
    assert {"reviews-000", "reviews-001", "checkout"} <= names
    # Overrides reach a file's items by name, as they reach the config's own.
    overridden = {**config, "platform:catalogFiles": ["catalog/*.yaml"]}
    overridden["platform:overrides"] = {
        "services": {"reviews-001": {"autoscaling": {"minReplicas": 2, "maxReplicas": 4}}}
    }
    run = run_program("dev", overridden, config_dir=project)
    (hpa,) = [r for r in run.k8s("HorizontalPodAutoscaler") if r.manifest["metadata"]["name"] == "reviews-001"]
    assert (hpa.manifest["spec"]["minReplicas"], hpa.manifest["spec"]["maxReplicas"]) == (2, 4)


@pytest.mark.parametrize(
    ("files", "patterns", "problem"),
    [
        ({}, ["catalog/*.yaml"], "'catalog/*.yaml' matches no file in {project}"),
        ({}, ["../elsewhere.yaml"], "'../elsewhere.yaml' must be a path inside the project directory"),
        (
            {"catalog/a.yaml": {"service": []}},
            ["catalog/a.yaml"],
            "catalog/a.yaml: unknown catalog 'service'; "
            "allowed: services, namespaces, secrets, configMaps, dataServices",
        ),
        (
            {"catalog/a.yaml": {"services": {"name": "x"}}},
            ["catalog/a.yaml"],
            "catalog/a.yaml: 'services' must be a list of items",
        ),
        (
            {"catalog/a.yaml": "services: []\nservices: []\n"},
            ["catalog/a.yaml"],
            "{project}/catalog/a.yaml:2:1: duplicate key 'services' (first at line 1); YAML would keep only the last, "
            "so merge the two into one",
        ),
        (
            {"catalog/a.yaml": "services: [\n"},
            ["catalog/a.yaml"],
            "{project}/catalog/a.yaml:2:1: expected the node content, but found '<stream end>'",
        ),
    ],
    ids=["no match", "outside", "unknown catalog", "not a list", "duplicate key", "syntax"],
)
def test_a_bad_catalog_file_is_one_line(
    tmp_path: Path, files: dict[str, Any], patterns: list[str], problem: str
) -> None:
    project = _project(tmp_path, files)
    config = {**stack_config("dev"), "platform:catalogFiles": patterns}
    assert_rejected(
        "dev", config, f"stack 'dev': platform:catalogFiles: {problem.format(project=project)}", config_dir=project
    )


def test_a_bad_item_in_a_catalog_file_is_named_like_any_other(tmp_path: Path) -> None:
    config = stack_config("dev")
    clone = _clone(config, "reviews", 0)
    clone["autoscaling"]["maxReplica"] = 4
    project = _project(tmp_path, {"catalog/reviews.yaml": {"services": [clone]}})
    assert_rejected(
        "dev",
        {**config, "platform:catalogFiles": ["catalog/reviews.yaml"]},
        "stack 'dev': platform:services[reviews-000].autoscaling.maxReplica: unknown key; did you mean 'maxReplicas'? "
        "allowed: behavior, cpuUtilization, maxReplicas, memoryUtilization, minReplicas, podsMetrics",
        config_dir=project,
    )
