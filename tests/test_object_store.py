"""The in-cluster object store: SeaweedFS from its pinned image, under the restricted pod context.

Asserted from the registered objects: the image and the command that starts `weed server` with its
S3 gateway on MinIO's port, the identities file rendered from the store's Secret (the script is run
by a real shell with a stand-in `weed`), the probes, the restricted security contexts, the client
Secret's unchanged keys and URL shape, and the refusal of a store whose volume MinIO wrote.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from harness import (
    ProgramRun,
    assert_rejected,
    is_secret_value,
    plain_strings,
    rejected,
    run_program,
    stack_config,
    unwrap,
)

from components.data.catalog import BUCKETS_READY_PATH, S3_CONFIG_PATH, S3Identity, seaweedfs_script
from components.data.config import ENGINES, DataServiceConfig

ASSETS = {
    "name": "assets",
    "type": "object-store",
    "namespace": "shop-data",
    "clients": ["checkout", {"name": "storefront", "access": "read-only"}],
}
MINIO_RECORD = {"type": "object-store", "version": "RELEASE.2025-04-22T22-12-26Z", "storage": "20Gi"}


def with_assets(stack: str, **changes: Any) -> dict[str, Any]:
    config = stack_config(stack)
    config["platform:dataServices"] = [{**ASSETS, **changes}]
    return config


_RUNS: dict[str, ProgramRun] = {}


def assets_run(stack: str) -> ProgramRun:
    if stack not in _RUNS:
        _RUNS[stack] = run_program(stack, with_assets(stack))
    return _RUNS[stack]


def container(run: ProgramRun) -> dict[str, Any]:
    (statefulset,) = run.k8s("StatefulSet", "assets", "shop-data")
    (found,) = statefulset.manifest["spec"]["template"]["spec"]["containers"]
    return dict(found)


def test_the_object_store_runs_seaweedfs_from_the_pinned_image() -> None:
    found = container(assets_run("production"))
    assert found["image"] == "chrislusf/seaweedfs:4.47"
    # The image's entrypoint (chown as root, then su-exec) is bypassed: a shell renders the identities, then weed.
    assert found["command"][:2] == ["/bin/sh", "-c"]
    script = found["command"][2]
    assert (
        "weed -logtostderr=true server -dir=/data -ip=127.0.0.1 -ip.bind=0.0.0.0 "
        "-volume.max=0 -master.volumeSizeLimitMB=1024 -s3 -s3.port=9000 -s3.config=/tmp/s3.json "
        "-s3.cert.file=/etc/ssl/store/tls.crt -s3.key.file=/etc/ssl/store/tls.key &"
    ) in script.splitlines()
    # The store's bucket is made before the pod is ready.
    assert "for bucket in assets; do" in script.splitlines()
    assert "args" not in found
    assert found["ports"] == [{"name": "s3", "containerPort": 9000, "protocol": "TCP"}]
    # The gateway serves HTTPS only: the kubelet probes it over HTTPS; ready once the bucket exists.
    health = {"path": "/healthz", "port": "s3", "scheme": "HTTPS"}
    for probe in ("startupProbe", "livenessProbe"):
        assert found[probe]["httpGet"] == health
    assert found["readinessProbe"]["exec"]["command"] == ["sh", "-c", "test -e /tmp/buckets-ready"]


def test_the_keys_reach_the_store_only_through_secrets() -> None:
    run = assets_run("production")
    found = container(run)
    env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef", e.get("value")) for e in found["env"]}
    assert {name: ref for name, ref in env.items() if name.startswith("S3_")} == {
        # The store's own (admin) key, for operators; no client holds it.
        "S3_ACCESS_KEY": {"name": "assets-credentials", "key": "username"},
        "S3_SECRET_KEY": {"name": "assets-credentials", "key": "password"},
        # Each client's access key is its name; its secret key is the one in its own Secret, copied here.
        "S3_CLIENT_0_ACCESS_KEY": "checkout",
        "S3_CLIENT_0_SECRET_KEY": {"name": "assets-clients", "key": "checkout.password"},
        "S3_CLIENT_1_ACCESS_KEY": "storefront",
        "S3_CLIENT_1_SECRET_KEY": {"name": "assets-clients", "key": "storefront.password"},
    }
    (statefulset,) = run.k8s("StatefulSet", "assets", "shop-data")
    for secret, namespace in (("assets-credentials", "shop-data"), ("assets-checkout", "shop")):
        password = unwrap(run.k8s("Secret", secret, namespace)[0].inputs["stringData"])["password"]
        assert password not in plain_strings(statefulset.inputs)
    # The pod rolls when a Secret (and so the identities file) changes.
    annotations = statefulset.manifest["spec"]["template"]["metadata"]["annotations"]
    assert {"checksum/secret-assets-credentials", "checksum/secret-assets-clients"} <= set(annotations)


def test_each_client_key_is_scoped_to_the_bucket_by_its_access() -> None:
    script = container(assets_run("production"))["command"][2]
    (config,) = [line for line in script.splitlines() if line.startswith('{"identities"')]
    identities = {i["name"]: (i["credentials"], i["actions"]) for i in json.loads(config)["identities"]}
    assert identities == {
        "app": (
            [{"accessKey": "${S3_ACCESS_KEY}", "secretKey": "${S3_SECRET_KEY}"}],
            ["Admin", "Read", "List", "Tagging", "Write"],
        ),
        "checkout": (
            [{"accessKey": "${S3_CLIENT_0_ACCESS_KEY}", "secretKey": "${S3_CLIENT_0_SECRET_KEY}"}],
            ["Read:assets", "Write:assets", "List:assets", "Tagging:assets"],
        ),
        # Read-only: it may read and list the bucket, never write, tag or administer it.
        "storefront": (
            [{"accessKey": "${S3_CLIENT_1_ACCESS_KEY}", "secretKey": "${S3_CLIENT_1_SECRET_KEY}"}],
            ["Read:assets", "List:assets"],
        ),
    }


def test_each_client_has_its_own_key_and_no_workload_the_admins() -> None:
    run = assets_run("production")
    admin = unwrap(run.k8s("Secret", "assets-credentials", "shop-data")[0].inputs["stringData"])
    checkout = unwrap(run.k8s("Secret", "assets-checkout", "shop")[0].inputs["stringData"])
    storefront = unwrap(run.k8s("Secret", "assets-storefront", "shop")[0].inputs["stringData"])
    assert (checkout["username"], storefront["username"]) == ("checkout", "storefront")
    assert len({admin["password"], checkout["password"], storefront["password"]}) == 3
    # The store's namespace holds each client's key beside its name, for the identities file only.
    copies = unwrap(run.k8s("Secret", "assets-clients", "shop-data")[0].inputs["stringData"])
    assert copies["checkout.password"] == checkout["password"]
    assert copies["storefront.password"] == storefront["password"]
    # The admin's Secret stays in the store's namespace, and no other pod reads it.
    assert [s.manifest["metadata"]["namespace"] for s in run.k8s("Secret", "assets-credentials")] == ["shop-data"]
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in run.k8s(kind):
            if workload.manifest["metadata"]["name"] != "assets":
                assert admin["password"] not in plain_strings(workload.inputs)
                assert "assets-credentials" not in json.dumps(workload.manifest), workload.name


def test_the_store_runs_under_the_restricted_pod_context() -> None:
    (statefulset,) = assets_run("production").k8s("StatefulSet", "assets", "shop-data")
    pod = statefulset.manifest["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (found,) = pod["containers"]
    assert found["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    # Everything weed writes: the volume (master, volumes, filer store) and /tmp (sockets, identities file).
    # And reads its key and certificate from `assets-tls`, mounted read-only.
    mounts = {m["mountPath"]: m["name"] for m in found["volumeMounts"]}
    assert mounts == {"/tmp": "tmp", "/data": "data", "/etc/ssl/store": "mount-0"}
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]


def test_clients_keep_their_secret_keys_and_url_shape() -> None:
    data = unwrap(assets_run("production").k8s("Secret", "assets-checkout", "shop")[0].inputs["stringData"])
    # MinIO's keys, plus the bucket, as a Cloud Storage bucket's clients get them.
    assert set(data) == {"host", "port", "username", "password", "url", "bucket", "ca.crt"}
    assert data["url"] == "https://assets.shop-data.svc.cluster.local:9000"
    assert data["port"] == "9000"
    assert data["bucket"] == "assets"
    assert data["username"] == "checkout"
    assert data["password"].isalnum() and len(data["password"]) == 32
    stored = assets_run("production").k8s("Secret", "assets-checkout", "shop")[0].inputs["stringData"]
    assert is_secret_value(stored)


# A stand-in for `weed`: `server` records its arguments and runs until TERM (then reports it stopped);
# `shell` keeps the buckets in a file and answers s3.bucket.list / s3.bucket.create as weed's shell prints them.
FAKE_WEED = """#!/bin/sh
state="$(dirname "$0")/.."
for word in "$@"; do case "$word" in -*) ;; *) command_name="$word"; break ;; esac; done
case "$command_name" in
  server)
    printf '%s\\n' "$@" > "$state/weed-args"
    trap 'sleep 1; echo stopped > "$state/server-stopped"; exit 0' TERM
    while :; do sleep 0.1; done ;;
  shell)
    read -r command name_flag name || true
    touch "$state/buckets"
    case "$command" in
      s3.bucket.list) while read -r bucket; do printf '  %s\\tsize:0\\tchunk:0\\n' "$bucket"; done < "$state/buckets" ;;
      s3.bucket.create) echo "$name" >> "$state/buckets"; echo "$name" >> "$state/created" ;;
    esac ;;
esac
"""


def _start_store(tmp_path: Path, script: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    (tmp_path / "bin").mkdir(exist_ok=True)
    weed = tmp_path / "bin" / "weed"
    weed.write_text(FAKE_WEED)
    weed.chmod(0o755)
    script = script.replace(S3_CONFIG_PATH, str(tmp_path / "s3.json"))
    script = script.replace(BUCKETS_READY_PATH, str(tmp_path / "ready"))
    return subprocess.Popen(
        ["/bin/sh", "-c", script], env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", **env}, cwd=tmp_path
    )


def _wait_for(path: Path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def test_the_startup_script_writes_the_identities_and_creates_the_bucket(tmp_path: Path) -> None:
    """The command as a real /bin/sh runs it, against the stand-in `weed` above."""
    store = DataServiceConfig.model_validate(ASSETS)
    identities = [
        S3Identity("app", "S3_ACCESS_KEY", "S3_SECRET_KEY"),
        S3Identity("checkout", "CHECKOUT_KEY", "CHECKOUT_SECRET", ("Read:assets", "List:assets")),
    ]
    env = {
        "S3_ACCESS_KEY": "app",
        "S3_SECRET_KEY": "Secret0123456789",
        "CHECKOUT_KEY": "checkout",
        "CHECKOUT_SECRET": "Other0123456789",
    }
    process = _start_store(tmp_path, seaweedfs_script(store, identities, ["assets"]), env)
    try:
        _wait_for(tmp_path / "ready")
        assert json.loads((tmp_path / "s3.json").read_text()) == {
            "identities": [
                {
                    "name": "app",
                    "credentials": [{"accessKey": "app", "secretKey": "Secret0123456789"}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                },
                {
                    "name": "checkout",
                    "credentials": [{"accessKey": "checkout", "secretKey": "Other0123456789"}],
                    "actions": ["Read:assets", "List:assets"],
                },
            ]
        }
        # Only the store's own user may read the keys.
        assert stat.S_IMODE(os.stat(tmp_path / "s3.json").st_mode) == 0o600
        args = (tmp_path / "weed-args").read_text().split()
        assert args[:2] == ["-logtostderr=true", "server"]
        assert f"-s3.config={tmp_path / 's3.json'}" in args
        assert "-s3.port=9000" in args
        assert (tmp_path / "created").read_text().split() == ["assets"]
        assert process.poll() is None, "the script must keep running with the server"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    # The stop signal reached the server, and the script exited only once the server had stopped.
    assert code == 0
    assert (tmp_path / "server-stopped").read_text().strip() == "stopped"


def test_a_restart_finds_the_bucket_and_creates_nothing(tmp_path: Path) -> None:
    store = DataServiceConfig.model_validate(ASSETS)
    (tmp_path / "buckets").write_text("assets\n")
    env = {"S3_ACCESS_KEY": "app", "S3_SECRET_KEY": "Secret0123456789"}
    identities = [S3Identity("app", "S3_ACCESS_KEY", "S3_SECRET_KEY")]
    process = _start_store(tmp_path, seaweedfs_script(store, identities, ["assets"]), env)
    try:
        _wait_for(tmp_path / "ready")
        assert not (tmp_path / "created").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_the_stack_records_the_engine_image() -> None:
    assert assets_run("production").outputs["dataServices"]["assets"] == {
        "type": "object-store",
        "version": "4.47",
        "storage": "20Gi",
        "mode": "in-cluster",
        "image": "chrislusf/seaweedfs",
    }


def test_a_store_minio_wrote_is_refused() -> None:
    assert_rejected(
        "production",
        with_assets("production"),
        "stack 'production': platform:dataServices[assets].type: 'assets' holds MinIO data on its volume, which "
        "SeaweedFS cannot read: copy its buckets out, declare the store under a new name and copy them into it "
        "(docs/data-access.md, 'Moving off MinIO')",
        stack_outputs={"dataServices": {"assets": MINIO_RECORD}},
    )


@pytest.mark.parametrize(
    "record",
    [
        {
            "type": "object-store",
            "version": "4.40",
            "storage": "20Gi",
            "mode": "in-cluster",
            "image": "chrislusf/seaweedfs",
        },
        # Deploys before the record named its image ran managed stores on Cloud Storage: no engine on a volume.
        {"type": "object-store", "version": "4.47", "storage": "20Gi", "mode": "managed"},
    ],
)
def test_a_store_seaweedfs_wrote_or_a_managed_bucket_is_accepted(record: dict[str, Any]) -> None:
    managed = record["mode"] == "managed"
    config = with_assets("production", **({"mode": "managed"} if managed else {}))
    run = run_program("production", config, stack_outputs={"dataServices": {"assets": record}})
    if managed:
        assert run.one("gcp:storage/bucket:Bucket")
    else:
        assert container(run)["image"] == "chrislusf/seaweedfs:4.47"


def test_the_engine_table_names_the_maintained_engine() -> None:
    engine = ENGINES["object-store"]
    assert (engine.label, engine.image, engine.default_version) == ("SeaweedFS", "chrislusf/seaweedfs", "4.47")
    # A downgrade, and a new major, are refused like every engine's.
    assert engine.refuse_version_change("4.47", "4.40") is not None
    assert engine.refuse_version_change("4.47", "5.01") is not None
    assert engine.refuse_version_change("4.40", "4.47") is None


def test_a_client_named_like_the_admin_is_refused() -> None:
    config = with_assets("production", clients=["app"])
    (worker,) = [service for service in config["platform:services"] if service["name"] == "order-worker"]
    config["platform:services"].append({**worker, "name": "app"})
    message, registered = rejected("production", config)
    assert registered == 0
    assert (
        "stack 'production': platform:dataServices[assets].clients[0].name: 'app' is SeaweedFS's superuser name; "
        "a client's user takes its service's name"
    ) in message.splitlines()


def test_a_store_name_too_short_for_a_bucket_is_refused() -> None:
    assert_rejected(
        "production",
        with_assets("production", name="s3"),
        "stack 'production': platform:dataServices[s3].name: 's3' also names the store's bucket, which needs "
        "3 to 63 characters",
    )
