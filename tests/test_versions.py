"""The pins: one module holds every chart and image version, Renovate watches each, the docs table lists each.

`components/versions.py` is parsed (every module-level `NAME = "version"`), `renovate.json`'s regex
managers are run over it exactly as Renovate would (its JavaScript named groups turned into
Python's), and `docs/versions.md`'s table is read row by row.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest
import yaml
from harness import ROOT_DIR

from components import charts, versions
from components.data.config import ENGINES
from components.observability.config import MonitoringConfig, TracingConfig
from components.traffic.config import CertManagerConfig, EnvoyGatewayConfig, IngressNginxConfig

VERSIONS = ROOT_DIR / "components" / "versions.py"
RENOVATE = ROOT_DIR / "renovate.json"
TABLE = ROOT_DIR / "docs" / "versions.md"
# ../shared/e2e-vendor/charts beside the repository (a worktree looks one level further up).
VENDORED = next(
    (
        d / "shared" / "e2e-vendor" / "charts"
        for d in ROOT_DIR.parents
        if (d / "shared" / "e2e-vendor" / "charts").is_dir()
    ),
    ROOT_DIR.parent / "shared" / "e2e-vendor" / "charts",
)
_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)[ \t]*=", re.M)


def _pins() -> dict[str, str]:
    """NAME -> version for every module-level string constant of versions.py."""
    tree = ast.parse(VERSIONS.read_text())
    pins = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            [target] = node.targets
            assert isinstance(target, ast.Name)
            pins[target.id] = node.value.value
    return pins


def _python_regex(pattern: str) -> re.Pattern[str]:
    """A Renovate (JavaScript) pattern as Python's: named groups are spelled (?P<name>...)."""
    return re.compile(re.sub(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", r"(?P<\1>", pattern))


def _managers_for(path: str) -> list[dict[str, Any]]:
    config = json.loads(RENOVATE.read_text())
    found = []
    for manager in config["customManagers"]:
        patterns = [p.strip("/") for p in manager["managerFilePatterns"]]
        if any(re.search(p, path) for p in patterns):
            found.append(manager)
    return found


def _matches(path: str, text: str) -> list[dict[str, Any]]:
    """What Renovate extracts from `text`: each match's groups, its datasource template applied, and the text."""
    extracted = []
    for manager in _managers_for(path):
        for pattern in manager["matchStrings"]:
            for match in _python_regex(pattern).finditer(text):
                groups = {k: v for k, v in match.groupdict().items() if v is not None}
                groups.setdefault("datasource", manager.get("datasourceTemplate"))
                extracted.append({**groups, "text": match.group(0)})
    return extracted


def _renovate_pins() -> dict[str, list[dict[str, Any]]]:
    """Pin name -> what Renovate extracts for it (a list, so a double match shows)."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for found in _matches("components/versions.py", VERSIONS.read_text()):
        names = _ASSIGNMENT.findall(found["text"])
        assert len(names) == 1, found["text"]
        by_name.setdefault(names[0], []).append(found)
    return by_name


def _table() -> dict[str, list[str]]:
    """First cell (unquoted) -> the row's cells, for every row of docs/versions.md's table."""
    rows = {}
    for line in TABLE.read_text().splitlines():
        if line.startswith("| ") and not line.startswith("| pin ") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells
    return rows


def test_versions_holds_only_pins_each_with_where_it_was_verified() -> None:
    pins = _pins()
    assert pins, "versions.py pins nothing"
    # Every public name of the module is a literal pin: nothing computed, nothing hidden from Renovate.
    public = {name: value for name, value in vars(versions).items() if name.isupper()}
    assert public == pins
    lines = VERSIONS.read_text().splitlines()
    for name in pins:
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{name} ="))
        comments = []
        for line in reversed(lines[:index]):
            if not line.startswith("#"):
                break
            comments.append(line)
        assert any(line.startswith("# Verified: ") for line in comments), f"{name} has no '# Verified:' comment"


def test_renovate_matches_every_pin_exactly_once_and_nothing_else() -> None:
    pins, matched = _pins(), _renovate_pins()
    assert set(matched) == set(pins)
    for name, found in matched.items():
        assert len(found) == 1, f"{name} is matched {len(found)} times"
        [extracted] = found
        # Renovate rewrites currentValue: it must be the whole pinned version.
        assert extracted["currentValue"] == pins[name], name
        assert extracted["datasource"] in ("helm", "docker"), name


def test_renovate_watches_the_repositories_the_charts_come_from() -> None:
    upstreams = [value for value in vars(charts).values() if isinstance(value, charts.Upstream)]
    watched = set()
    for [extracted] in _renovate_pins().values():
        if extracted["datasource"] == "helm":
            watched.add(charts.Upstream(extracted["depName"], extracted["registryUrl"]))
        elif extracted["depName"].endswith(tuple(f"/{u.name}" for u in upstreams)):
            # An OCI chart is an artifact in a container registry: Renovate's docker datasource reads its tags.
            registry, name = extracted["depName"].rsplit("/", 1)
            watched.add(charts.Upstream(name, f"oci://{registry}"))
    assert watched == set(upstreams)


def test_the_defaults_are_the_pins() -> None:
    monitoring = MonitoringConfig()
    defaults = {
        "ENVOY_GATEWAY_CHART": EnvoyGatewayConfig().chart_version,
        "INGRESS_NGINX_CHART": IngressNginxConfig().chart_version,
        "CERT_MANAGER_CHART": CertManagerConfig().chart_version,
        "KUBE_PROMETHEUS_STACK_CHART": monitoring.chart_version,
        "PROMETHEUS_OPERATOR_CRDS_CHART": monitoring.crds_chart_version,
        "PROMETHEUS_ADAPTER_CHART": monitoring.adapter_chart_version,
        "OPENTELEMETRY_COLLECTOR_CHART": TracingConfig().chart_version,
    }
    assert defaults == {name: version for name, version in _pins().items() if name.endswith("_CHART")}
    images = {engine.image: engine.default_version for engine in ENGINES.values()}
    docker = {e["depName"]: e["currentValue"] for [e] in _renovate_pins().values() if e["datasource"] == "docker"}
    # Every engine's image is watched by Renovate under its own name, at the pinned default.
    assert {image: docker.get(image) for image in images} == images


def test_every_pin_has_a_row_in_the_versions_table() -> None:
    table = _table()
    missing = [name for name in _pins() if name not in table]
    assert missing == []
    for name, version in _pins().items():
        cells = table[name]
        assert cells[2] == f"`{version}`", f"{name}: the table says {cells[2]}, versions.py {version}"
        assert cells[3] and cells[4], f"{name}: say where it was verified and what e2e installs"


def test_every_sample_image_renovate_watches_has_a_row() -> None:
    table = {cells[1].strip("`"): cells[2].strip("`") for cells in _table().values()}
    sampled = {}
    for stack_file in sorted(ROOT_DIR.glob("Pulumi*.yaml")):
        for found in _matches(stack_file.name, stack_file.read_text()):
            sampled[found["depName"]] = found["currentValue"]
    assert sampled, "the root stack files run public sample images"
    assert {image: table.get(image) for image in sampled} == sampled


def _vendored() -> dict[str, str]:
    """Vendored chart name -> its version, from each folder's Chart.yaml."""
    found = {}
    for chart_yaml in sorted(VENDORED.glob("*/Chart.yaml")):
        metadata = yaml.safe_load(chart_yaml.read_text())
        found[metadata["name"]] = str(metadata["version"])
    return found


@pytest.mark.skipif(not VENDORED.is_dir(), reason=f"no vendored charts at {VENDORED}")
def test_the_table_says_which_version_e2e_installs_from_the_vendored_charts() -> None:
    vendored = _vendored()
    table = _table()
    for name, upstream in _chart_pins().items():
        installed = table[name][4]
        assert installed.startswith(f"`{vendored[upstream.name]}`"), f"{name}: e2e installs {vendored[upstream.name]}"


def _chart_pins() -> dict[str, charts.Upstream]:
    """Chart pin -> the upstream chart it pins, by the name Renovate watches."""
    by_name = {u.name: u for u in vars(charts).values() if isinstance(u, charts.Upstream)}
    pinned = {}
    for name, [extracted] in _renovate_pins().items():
        chart = extracted["depName"].rsplit("/", 1)[-1]
        if name.endswith("_CHART"):
            pinned[name] = by_name[chart]
    return pinned
