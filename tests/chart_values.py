"""Helm values checked against the chart that reads them: unknown keys and the chart's values.schema.json.

Helm ignores a key its chart does not read, silently: a misspelt or renamed value deploys the
chart's default instead. So every key the program passes must be one the chart knows at the same
path: in its `values.yaml`, or read by its templates as `.Values.<path>` (charts document some
keys only as comments, e.g. a PodDisruptionBudget's `maxUnavailable`); a subchart's section is
checked against the subchart's own, merged with the parent's section. Below the few free-form maps
named in `FREE_FORM`, any key is accepted. Where the chart ships a
`values.schema.json`, the values Helm would render (the chart's defaults with the program's
values coalesced over them, a null removing a key as in Helm) must also validate against it.

The charts are the vendored copies in `../shared/e2e-vendor/charts` (`VENDORED`), one version per
chart; where the pin is newer, that copy is the closest one available.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from harness import ROOT_DIR

# ../shared/e2e-vendor/charts beside the repository (a git worktree sits one level further down).
VENDORED = next(
    (d / "shared" / "e2e-vendor" / "charts" for d in ROOT_DIR.parents if (d / "shared/e2e-vendor/charts").is_dir()),
    ROOT_DIR.parent / "shared" / "e2e-vendor" / "charts",
)

# (chart, key path) below which any key is accepted: maps whose keys are the user's, not the chart's.
# Keep this short; each entry says why its keys cannot be in the chart's values.yaml.
FREE_FORM: dict[str, set[str]] = {
    "opentelemetry-collector": {
        # The collector's own configuration: exporters by component name (googlecloud, debug, ...).
        "config.exporters",
        # Kubernetes annotations on the chart's ServiceAccount (Workload Identity's GCP account).
        "serviceAccount.annotations",
    },
    "ingress-nginx": {
        # Kubernetes annotations on the controller's Service, from config (addons.ingressNginx.annotations).
        "controller.service.annotations",
        # ingress-nginx's command-line flags, by flag name.
        "controller.extraArgs",
    },
    "kube-prometheus-stack": {
        # A Kubernetes StorageSpec (volumeClaimTemplate, ...), passed to the Prometheus resource as it is.
        "prometheus.prometheusSpec.storageSpec",
        # An AlertmanagerConfiguration reference (name, ...), passed to the Alertmanager resource as it is.
        "alertmanager.alertmanagerSpec.alertmanagerConfiguration",
    },
    "gateway-helm": {
        # Kubernetes annotations on the certgen hook's RBAC (Helm's hook deletion policy).
        "certgen.rbac.annotations",
    },
    "cert-manager": {
        # cert-manager's ControllerConfiguration file, its keys defined by cert-manager, not the chart.
        "config",
    },
    # Kubernetes ResourceRequirements and SecurityContext objects, which charts take as `{}` and render as they are.
    "*": {"resources", "controller.resources", "securityContext"},
}


@dataclass
class Chart:
    """One vendored chart: its name, version, default values, schema and subcharts."""

    name: str
    version: str
    path: Path
    defaults: dict[str, Any]
    # The defaults plus every key path the templates read: what a given key is checked against.
    known: dict[str, Any]
    schema: dict[str, Any] | None
    # The values key of each declared subchart -> its vendored chart, or None when it is not vendored.
    subcharts: dict[str, Chart | None] = field(default_factory=dict)


def load_chart(path: Path) -> Chart:
    metadata = yaml.safe_load((path / "Chart.yaml").read_text())
    values_file = path / "values.yaml"
    defaults = (yaml.safe_load(values_file.read_text()) if values_file.is_file() else None) or {}
    schema_file = path / "values.schema.json"
    schema = yaml.safe_load(schema_file.read_text()) if schema_file.is_file() else None
    known = copy.deepcopy(defaults)
    for reference in _template_references(path / "templates"):
        _ensure(known, reference)
    chart = Chart(str(metadata["name"]), str(metadata["version"]), path, defaults, known, schema)
    for dependency in metadata.get("dependencies") or []:
        folder = path / "charts" / dependency["name"]
        key = dependency.get("alias") or dependency["name"]
        chart.subcharts[key] = load_chart(folder) if (folder / "Chart.yaml").is_file() else None
    return chart


# `.Values.a.b.c` (or `$.Values...`) in a template: the key path a chart reads, documented or not.
_VALUES_REFERENCE = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _template_references(templates: Path) -> set[tuple[str, ...]]:
    if not templates.is_dir():
        return set()
    found = set()
    for template in templates.rglob("*"):
        if template.is_file() and template.suffix in (".yaml", ".tpl", ".yml", ".txt"):
            for match in _VALUES_REFERENCE.finditer(template.read_text(errors="replace")):
                found.add(tuple(match.group(1).lstrip(".").split(".")))
    return found


def _ensure(known: dict[str, Any], path: tuple[str, ...]) -> None:
    """Make `path` a known key of `known`, without changing any default it already has."""
    node = known
    for part in path:
        if not isinstance(node, dict):
            return
        if part not in node or (node[part] is None and part != path[-1]):
            node[part] = {} if part != path[-1] else None
        node = node[part]


def vendored_charts(root: Path = VENDORED) -> dict[str, Chart]:
    """Chart name -> the vendored chart."""
    charts = [load_chart(folder) for folder in sorted(root.iterdir()) if (folder / "Chart.yaml").is_file()]
    return {chart.name: chart for chart in charts}


def chart_name(chart_input: str) -> str:
    """The chart a Release's `chart` input names: a repository chart, an oci:// reference or a local chart."""
    if os.path.isdir(chart_input):
        return str(yaml.safe_load((Path(chart_input) / "Chart.yaml").read_text())["name"])
    return chart_input.rstrip("/").rsplit("/", 1)[-1].removesuffix(".tgz")


def value_problems(chart: Chart, values: Mapping[str, Any]) -> list[str]:
    """Every key of `values` that `chart` does not read, and every schema violation, one line each."""
    free = FREE_FORM.get(chart.name, set()) | FREE_FORM["*"]
    problems = list(_unknown(values, _known_at_top(chart), "", free, chart))
    if chart.schema is not None:
        rendered = coalesce(chart.defaults, values)
        validator = jsonschema.validators.validator_for(chart.schema)(chart.schema)
        for error in sorted(validator.iter_errors(rendered), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(part) for part in error.absolute_path) or "(top)"
            problems.append(f"{where}: values.schema.json: {error.message}")
    return problems


def _known_at_top(chart: Chart) -> dict[str, Any]:
    known = copy.deepcopy(chart.known)
    for key, subchart in chart.subcharts.items():
        if subchart is not None:
            known[key] = coalesce(subchart.known, known.get(key) or {})
    return known


def _unknown(given: Mapping[str, Any], known: Any, path: str, free: set[str], chart: Chart) -> Iterator[str]:
    for key, value in given.items():
        here = f"{path}.{key}" if path else str(key)
        if here in free:
            continue
        if not isinstance(known, dict) or key not in known:
            yield f"{here}: not a value of {chart.name} {chart.version}{_subchart_note(chart, here)}"
            continue
        if isinstance(value, dict) and isinstance(known[key], dict):
            yield from _unknown(value, known[key], here, free, chart)


def _subchart_note(chart: Chart, path: str) -> str:
    top = path.split(".", 1)[0]
    if top in chart.subcharts and chart.subcharts[top] is None:
        return f" (its subchart {top} is not vendored: only the parent's {top} section was read)"
    return ""


def coalesce(defaults: Any, given: Any) -> Any:
    """`given` over `defaults` as Helm merges values: maps merge, a null deletes the default."""
    if not isinstance(defaults, dict) or not isinstance(given, dict):
        return copy.deepcopy(given)
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
