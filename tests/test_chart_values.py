"""The Helm values the program passes are values its charts read, for every add-on and every stack.

Every stack that exists (dev, staging and production at the root and in each example) plus the
platform tests' own stacks, and the variants that switch on what no stack file does (the legacy
ingress-nginx, cert-manager with Envoy Gateway's TLS): each registered `helm.v3.Release`'s values are
checked against the vendored chart of that name (tests/chart_values.py). Runs where
`../shared/e2e-vendor/charts` exists, as in CI here; skipped otherwise, saying so. The stack runs
are the ones test_stacks.py and test_addons.py make, shared.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from chart_values import FREE_FORM, VENDORED, chart_name, value_problems, vendored_charts
from conftest import stack_run as fixture_run
from harness import ProgramRun, unwrap
from test_addons import _envoy_tls_run, _nginx_run
from test_stacks import IDS, STACKS, stack_run

from components import charts

pytestmark = pytest.mark.skipif(
    not VENDORED.is_dir(), reason=f"Helm values not checked: no vendored charts at {VENDORED}"
)
RELEASE = "kubernetes:helm.sh/v3:Release"
# The platform tests' stacks and the variants no stack file shows.
VARIANTS = {
    "fixture-dev": lambda: fixture_run("dev"),
    "fixture-staging": lambda: fixture_run("staging"),
    "fixture-production": lambda: fixture_run("production"),
    "fixture-staging-ingress-nginx": lambda: _nginx_run("staging"),
    "fixture-production-ingress-nginx": lambda: _nginx_run("production"),
    "fixture-dev-envoy-tls": _envoy_tls_run,
}


def _problems(run: ProgramRun) -> list[str]:
    vendored = vendored_charts()
    problems = []
    for release in run.of_type(RELEASE):
        name = chart_name(release.inputs["chart"])
        assert name in vendored, f"{name} is not vendored in {VENDORED}"
        values = unwrap(release.inputs.get("values") or {})
        problems += [f"{release.name} ({name}): {problem}" for problem in value_problems(vendored[name], values)]
    return problems


@pytest.mark.parametrize("stack", STACKS, ids=IDS)
def test_every_stack_passes_only_values_its_charts_read(stack: tuple[Path, str]) -> None:
    assert _problems(stack_run(*stack)) == []


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_platform_tests_stacks_and_variants_pass_only_values_their_charts_read(variant: str) -> None:
    assert _problems(VARIANTS[variant]()) == []


def test_every_add_on_chart_is_checked() -> None:
    # The variants alone install every chart the platform can install, so each meets real values.
    installed = {chart_name(r.inputs["chart"]) for variant in VARIANTS.values() for r in variant().of_type(RELEASE)}
    upstream = {u.name for u in vars(charts).values() if isinstance(u, charts.Upstream)}
    assert installed == upstream


# --------------------------------------------------------------------------- the check itself


def _collector_values() -> dict[str, Any]:
    [release] = [r for r in fixture_run("dev").of_type(RELEASE) if r.inputs["name"] == "opentelemetry-collector"]
    values: dict[str, Any] = copy.deepcopy(unwrap(release.inputs["values"]))
    return values


def test_a_misspelt_or_misplaced_key_is_caught() -> None:
    collector = vendored_charts()["opentelemetry-collector"]
    values = _collector_values()
    values["replicasCount"] = values.pop("replicaCount")
    values["ports"]["zipkn"] = values["ports"].pop("zipkin")
    values["podDisruptionBudget"]["maxUnavailble"] = 1
    assert sorted(value_problems(collector, values)) == [
        "(top): values.schema.json: Additional properties are not allowed ('replicasCount' was unexpected)",
        "podDisruptionBudget.maxUnavailble: not a value of opentelemetry-collector 0.170.0",
        "ports.zipkn: not a value of opentelemetry-collector 0.170.0",
        "replicasCount: not a value of opentelemetry-collector 0.170.0",
    ]


def test_a_value_the_chart_s_schema_refuses_is_caught() -> None:
    collector = vendored_charts()["opentelemetry-collector"]
    values = _collector_values()
    values["mode"] = "sidecar"
    assert value_problems(collector, values) == [
        "mode: values.schema.json: 'sidecar' is not one of ['daemonset', 'deployment', 'statefulset', '']"
    ]


def test_free_form_maps_are_few_and_named() -> None:
    assert sum(len(paths) for paths in FREE_FORM.values()) <= 12
    assert set(FREE_FORM) - {"*"} <= {u.name for u in vars(charts).values() if isinstance(u, charts.Upstream)}
