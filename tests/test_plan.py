"""The local `plan` command: a summary per component, the gates, manifests on disk, one-line errors."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from gates import Manifest, check_schemas
from harness import FIXTURE_DIR, ROOT_DIR, discover_stacks, shared_run, stack_config, stand_in_secrets

from tools import manifests, plan

STACK_DIRS = discover_stacks()


@pytest.fixture(autouse=True)
def _one_run_per_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """plan runs the program as the other tests do, so it shares their runs of the same stack and config."""
    monkeypatch.setattr(plan, "run_program", shared_run)


@pytest.mark.parametrize(
    ("directory", "stack"), STACK_DIRS, ids=[f"{d.name}-{s}" if d != ROOT_DIR else f"root-{s}" for d, s in STACK_DIRS]
)
def test_plan_prints_the_summary_and_passes_the_gates(
    directory: Path, stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plan.main(["--stack", stack, "--dir", str(directory), "--skip-checkov"]) == 0
    printed = capsys.readouterr().out
    config = yaml.safe_load((directory / "Pulumi.yaml").read_text())
    services = config["config"].get("services", config["config"].get("platform:services", {})).get("value", [])
    for section in (
        "cluster",
        "namespaces",
        "secrets",
        "services",
        "add-on charts",
        "capacity",
        "cost",
        "timing",
        "gates",
    ):
        assert f"== {section}" in printed
    assert all(f"/{svc['name']}: " in printed for svc in services), "every service is listed"
    assert "strict Kubernetes schemas (1.31, 1.33, 1.35): pass" in printed
    assert "CRD schemas: pass" in printed
    # Every warning a preview prints (capacity, timing, SLO windows, quotas, liveness), each on its own line.
    values = stack_config(stack, directory)
    supplied = stand_in_secrets(values)
    run = shared_run(stack, {**values, **supplied}, secret_keys=list(supplied), config_dir=directory)
    section = printed[printed.index("== warnings") : printed.index("== cluster")].strip().splitlines()
    assert section == [f"== warnings ({len(run.warnings)})", *(f"  {warning}" for warning in run.warnings)]


def test_plan_shows_pools_namespaces_services_and_secrets_by_name_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["--stack", "production", "--dir", str(FIXTURE_DIR), "--skip-checkov"]) == 0
    printed = capsys.readouterr().out
    assert "  pool spot: e2-standard-4 spot, 0-5 nodes per zone" in printed
    assert "  shop-data: policy strict, pod security baseline" in printed
    assert "  shop/checkout: europe-docker.pkg.dev/acme-shop/apps/checkout:1.9.0, replicas 3-10" in printed
    assert "    route api.shop.example.com/api/checkout -> port http" in printed
    assert "  database-credentials in shop, shop-workers: password, url" in printed
    assert "postgresql://" not in printed


def test_plan_shows_the_timing_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["--stack", "production", "--dir", str(FIXTURE_DIR), "--skip-checkov"]) == 0
    printed = capsys.readouterr().out.split("== timing", 1)[1]
    # storefront: 3 replicas, surge ceil(0.75) = 1, 3 waves of 25 s + 30 s = 105 s; 12 replicas, 4 waves of 25 s + 30 s = 130 s;
    # rollback 4 x 15 + 30 = 90 s; scale-up 3 -> 12 in 60 s (see test_timing.py).
    assert (
        "  storefront: rollout 105 s at 3 / 130 s at 12 replicas (4 waves of 25 s), rollback 90 s, scale-up 3->6->12 60 s"
    ) in printed
    # GKE's Gateway: the HTTPRoutes wait for their Services only (see test_timing.py).
    assert "  slowest route: 864 s (unavoidable chain 860 s): network/vpc -> network/router" in printed
    assert "  image-tag change: 135 s (slowest: checkout)" in printed


def test_plan_out_writes_every_object_as_schema_valid_yaml_with_secrets_redacted(tmp_path: Path) -> None:
    assert plan.main(["--stack", "staging", "--dir", str(FIXTURE_DIR), "--skip-checkov", "--out", str(tmp_path)]) == 0
    files = sorted(tmp_path.rglob("*.yaml"))
    bodies = [yaml.safe_load(path.read_text()) for path in files]
    assert {"Namespace", "Deployment", "Service", "NetworkPolicy", "Secret", "Gateway", "HTTPRoute"} <= {
        b["kind"] for b in bodies
    }
    secret = yaml.safe_load((tmp_path / "shop" / "secret-database-credentials.yaml").read_text())
    assert set(secret["stringData"].values()) == {manifests.REDACTED}
    builtin = [
        Manifest(b, path.stem)
        for b, path in zip(bodies, files, strict=True)
        if "." not in b["apiVersion"].split("/")[0]
    ]
    report = check_schemas(builtin)
    assert builtin and report.problems == [] and report.unvalidated == []


def test_plan_refuses_a_bad_config_with_the_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = yaml.safe_load((FIXTURE_DIR / "Pulumi.yaml").read_text())
    broken = copy.deepcopy(document)
    broken["config"]["platform:services"]["value"][0]["autoscaling"]["maxReplicas"] = 0
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(broken))
    assert stack_config("dev", tmp_path)
    assert plan.main(["--stack", "dev", "--dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "stack 'dev': platform:services[storefront].autoscaling.maxReplicas: input should be greater than or equal to 1 (got 0)"
    ]
    assert "Traceback" not in captured.err and captured.out == ""


def test_plan_prints_the_reachability_matrix_the_network_policies_allow(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["--stack", "production", "--dir", str(FIXTURE_DIR), "--skip-checkov"]) == 0
    printed = capsys.readouterr().out
    section = printed[printed.index("== reachability") : printed.index("== capacity")]
    assert [line.strip() for line in section.strip().splitlines()[1:]] == [
        # The edge (Google's front ends and health checkers): routed ports only; monitoring: metrics
        # ports only; callers: what allowFrom names.
        "edge-130.211.0.0/22 -> shop/checkout: 8000",
        "edge-130.211.0.0/22 -> shop/storefront: 8080",
        "edge-35.191.0.0/16 -> shop/checkout: 8000",
        "edge-35.191.0.0/16 -> shop/storefront: 8080",
        "monitoring/prometheus -> shop-workers/order-worker: 9090",
        "monitoring/prometheus -> shop/checkout: 9090",
        "monitoring/prometheus -> shop/storefront: 9090",
        "shop/checkout -> shop/storefront: 8080",
        "shop/checkout-migrate-1-9-0 -> shop/storefront: 8080",
        "shop/storefront -> shop/checkout: 8000",
    ]


def test_plan_refuses_a_stack_without_its_stack_file(capsys: pytest.CaptureFixture[str]) -> None:
    # `--stack prod` (for production) must not plan the project's defaults as if it were a stack.
    assert plan.main(["--stack", "prod", "--dir", str(FIXTURE_DIR), "--skip-checkov"]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"stack 'prod': no Pulumi.prod.yaml in {FIXTURE_DIR}; stacks here: dev, legacy, production, staging"
    ]
    assert captured.out == ""


def _project_copy(tmp_path: Path, stack_text: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text((FIXTURE_DIR / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.production.yaml").write_text(stack_text)
    return tmp_path


def test_plan_refuses_a_duplicate_key_naming_the_key_and_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The README's "Add a service" snippet pasted below existing overrides: YAML would keep only the second.
    original = (FIXTURE_DIR / "Pulumi.production.yaml").read_text()
    assert "\n  platform:overrides:\n" in original
    pasted = original + "  platform:overrides:\n    services:\n      checkout:\n        size: large\n"
    directory = _project_copy(tmp_path, pasted)
    assert plan.main(["--stack", "production", "--dir", str(directory), "--skip-checkov"]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    first = 1 + original.splitlines().index("  platform:overrides:")
    second = 1 + len(original.splitlines())
    assert line == (
        f"{directory / 'Pulumi.production.yaml'}:{second}:3: duplicate key 'platform:overrides' (first at line "
        f"{first}); YAML would keep only the last, so merge the two into one"
    )
    assert captured.out == ""


def test_a_yaml_syntax_error_is_one_line_with_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _project_copy(tmp_path, "config:\n  platform:domain: [shop.example.com\n  platform:app: shop\n")
    assert plan.main(["--stack", "production", "--dir", str(directory), "--skip-checkov"]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"{directory / 'Pulumi.production.yaml'}:3:15: expected ',' or ']', but got ':'"
    ]
    assert "Traceback" not in captured.err and captured.out == ""


def test_the_harness_reads_stack_files_strictly(tmp_path: Path) -> None:
    from components.yaml_files import StackFileError

    directory = _project_copy(tmp_path, "config:\n  platform:app: shop\n  platform:app: shop\n")
    with pytest.raises(StackFileError, match=r"Pulumi.production.yaml:3:3: duplicate key 'platform:app'"):
        stack_config("production", directory)


def test_plan_json_keeps_every_figure_and_the_summary_shows_tables(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert plan.main(["--stack", "staging", "--dir", str(FIXTURE_DIR), "--skip-checkov", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    run = shared_run("staging")
    assert document["capacity"] == run.outputs["capacity"]
    assert document["cost"] == run.outputs["cost"]
    assert document["warnings"] == run.warnings
    assert document["quotas"]["shop"]["min"]["requestsCpu"] == 1250  # see test_namespaces' quota tests
    assert document["services"]["shop/checkout"]["routes"] == ["api.staging.shop.example.com/api/checkout"]
    assert plan.main(["--stack", "staging", "--dir", str(FIXTURE_DIR), "--skip-checkov"]) == 0
    printed = capsys.readouterr().out
    assert "{" not in printed.split("== capacity", 1)[1].split("== timing", 1)[0], "capacity and cost are tables"
    assert "  shop          1.25-3.25 of 4" in printed


def test_plan_shows_a_services_canary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = yaml.safe_load((FIXTURE_DIR / "Pulumi.yaml").read_text())
    checkout = next(s for s in document["config"]["platform:services"]["value"] if s["name"] == "checkout")
    checkout["canary"] = {"image": "europe-docker.pkg.dev/acme-shop/apps/checkout:2.0.0", "weight": 10}
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(document))
    assert plan.main(["--stack", "dev", "--dir", str(tmp_path), "--skip-checkov"]) == 0
    printed = capsys.readouterr().out
    assert "    canary europe-docker.pkg.dev/acme-shop/apps/checkout:2.0.0: 10% of the routes' requests" in printed
