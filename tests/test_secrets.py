"""Generated secrets: delivered to every target namespace, rotated by config, never in plaintext."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from typing import Any

import pulumi
import pytest
from harness import (
    PlatformMocks,
    ProgramRun,
    Registration,
    assert_rejected,
    is_secret_value,
    plain_strings,
    run_program,
    stack_config,
)

from components.tenancy.secrets import derived_bytes, seed_length, uuid4_from_hex

COMPONENT = "platform:secrets:Secrets"
PROBE = "test:probe:Checksums"
PASSWORD = "random:index/randomPassword:RandomPassword"
# Never registered: the real provider makes RandomBytes' ID its base64 value and RandomUuid's its UUID.
BYTES = "random:index/randomBytes:RandomBytes"
UUID = "random:index/randomUuid:RandomUuid"
DECLARED = {"database-credentials": ["shop", "shop-workers"], "api-secrets": ["shop"]}


class ChecksumProbe(pulumi.ComponentResource):
    """Stands in for the Microservice and registers the checksums it is handed as its inputs."""

    def __init__(self, name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PROBE, name, {"checksums": dict(args.checksums)}, opts)
        # The Microservice's interface the wiring reads: its Services, which the HTTPRoutes wait for.
        self.services: list[pulumi.Resource] = []
        self.register_outputs({})


def probed_run(stack: str, config: dict[str, Any] | None = None) -> ProgramRun:
    """Run the program with every Microservice replaced by a ChecksumProbe."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("components.platform.Microservice", ChecksumProbe)
        return run_program(stack, config)


def checksums(run: ProgramRun) -> dict[str, Any]:
    """The checksums the platform hands its workloads, as registered (secret markers kept)."""
    return dict(run.one(PROBE, "storefront").inputs["checksums"])


def sha256_of(data: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def our_secrets(run: ProgramRun) -> dict[tuple[str, str], Any]:
    """(namespace, name) -> registration, for the Kubernetes Secrets this component created."""
    component = run.one(COMPONENT).urn
    return {
        (r.manifest["metadata"]["namespace"], r.manifest["metadata"]["name"]): r
        for r in run.k8s("Secret")
        if r.parent == component
    }


def content(run: ProgramRun, name: str, namespace: str = "shop") -> dict[str, str]:
    return dict(our_secrets(run)[(namespace, name)].manifest["stringData"])


def generated_values(run: ProgramRun) -> set[str]:
    return {value for r in our_secrets(run).values() for value in r.manifest["stringData"].values()}


def with_overrides(stack: str, secrets: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(stack_config(stack))
    config["platform:overrides"] = {**config.get("platform:overrides", {}), "secrets": secrets}
    return config


@pytest.fixture(scope="module")
def probed() -> ProgramRun:
    return probed_run("staging")


@pytest.fixture(scope="module")
def rotated() -> ProgramRun:
    config = with_overrides("staging", {"database-credentials": {"rotation": 2}, "api-secrets": {"rotation": 3}})
    return probed_run("staging", config)


# --------------------------------------------------------------------------- delivery


def test_each_secret_exists_once_in_every_namespace_it_targets(run: ProgramRun) -> None:
    found = our_secrets(run)
    assert sorted(found) == sorted((ns, name) for name, namespaces in DECLARED.items() for ns in namespaces)
    for (_, name), secret in found.items():
        manifest = secret.manifest
        assert manifest["type"] == "Opaque"
        assert manifest["metadata"]["labels"] == {
            "app.kubernetes.io/part-of": "shop",
            "app.kubernetes.io/managed-by": "pulumi",
        }
        expected_keys = {"database-credentials": ["password", "url"], "api-secrets": ["JWT_SECRET", "SESSION_ID_SALT"]}
        assert sorted(manifest["stringData"]) == expected_keys[name]


def test_every_namespace_receives_the_same_values(run: ProgramRun) -> None:
    assert content(run, "database-credentials", "shop") == content(run, "database-credentials", "shop-workers")


def test_random_resources_are_created_once_per_secret_with_rotation_keepers(run: ProgramRun) -> None:
    password = run.one(PASSWORD, "shop-secrets-database-credentials/password")
    assert password.inputs == {"length": 32.0, "special": False, "keepers": {"rotation": "1"}}
    # A 32-byte token and a uuid's 16 bytes come from letters-and-digits passwords of >= 256 and 128 bits.
    token = run.one(PASSWORD, "shop-secrets-api-secrets/JWT_SECRET")
    assert token.inputs == {"length": 43.0, "special": False, "keepers": {"rotation": "1"}}
    salt = run.one(PASSWORD, "shop-secrets-api-secrets/SESSION_ID_SALT")
    assert salt.inputs == {"length": 22.0, "special": False, "keepers": {"rotation": "1"}}
    assert "result" in salt.additional_secret_outputs


def test_no_random_resource_whose_id_is_its_value_is_registered(run: ProgramRun) -> None:
    # The real random provider makes RandomBytes' ID its base64 value and RandomUuid's its UUID, which the
    # state keeps in plaintext whatever the outputs' secrecy (found by e2e/run against the real engine).
    # Only RandomPassword's ID is not its value: every generated key, token and uuid too, is one.
    assert {r.type for r in run.resources if r.type.startswith("random:")} == {PASSWORD}
    assert run.of_type(BYTES) == run.of_type(UUID) == []


def seed_of(run: ProgramRun, name: str) -> str:
    """The result the mock gave the RandomPassword registered under name (from its registered inputs)."""
    seed: Registration = run.one(PASSWORD, name)
    args = pulumi.runtime.MockResourceArgs(typ=PASSWORD, name=seed.name, inputs=seed.inputs, custom=True)
    return str(PlatformMocks().new_resource(args)[1]["result"])


def test_tokens_and_uuids_are_derived_from_their_passwords_secret_result(run: ProgramRun) -> None:
    api = content(run, "api-secrets")
    jwt_seed = seed_of(run, "shop-secrets-api-secrets/JWT_SECRET")
    assert len(jwt_seed) == 43
    assert api["JWT_SECRET"] == hashlib.shake_256(b"platform-secret-bytes/v1\0" + jwt_seed.encode()).hexdigest(32)
    salt_seed = seed_of(run, "shop-secrets-api-secrets/SESSION_ID_SALT")
    assert api["SESSION_ID_SALT"] == uuid4_from_hex(derived_bytes(salt_seed, 16).hex())


def test_a_derived_value_keeps_at_least_the_entropy_of_as_many_random_bytes() -> None:
    for n_bytes in range(16, 257):
        assert seed_length(n_bytes) * math.log2(62) >= 8 * n_bytes
    assert (seed_length(16), seed_length(32), seed_length(256)) == (22, 43, 344)
    # A fixed vector: a change to the derivation would silently rotate every live token and uuid.
    assert derived_bytes("a" * 22, 8).hex() == "cd045eed8ee13502"
    assert len(derived_bytes("x", 256)) == 256


def test_a_uuid_from_random_bytes_is_a_version_4_uuid() -> None:
    assert uuid4_from_hex("00" * 16) == "00000000-0000-4000-8000-000000000000"
    assert uuid4_from_hex("ff" * 16) == "ffffffff-ffff-4fff-bfff-ffffffffffff"


def test_generated_values_have_the_declared_shape(run: ProgramRun) -> None:
    credentials = content(run, "database-credentials")
    assert re.fullmatch(r"[A-Za-z0-9]{32}", credentials["password"])  # special: false
    assert credentials["url"] == (
        f"postgresql://shop:{credentials['password']}@postgres.shop-data.svc.cluster.local:5432/shop?sslmode=require"
    )
    api = content(run, "api-secrets")
    assert re.fullmatch(r"[0-9a-f]{64}", api["JWT_SECRET"])  # 32 bytes, hex
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", api["SESSION_ID_SALT"])


# --------------------------------------------------------------------------- never plaintext


def test_the_mock_honours_additional_secret_outputs(run: ProgramRun) -> None:
    # Stock mocks drop additionalSecretOutputs; this harness keeps them, as the engine does.
    assert {"result", "bcryptHash"} <= set(
        run.one(PASSWORD, "shop-secrets-database-credentials/password").additional_secret_outputs
    )
    assert {"result", "bcryptHash"} <= set(
        run.one(PASSWORD, "shop-secrets-api-secrets/JWT_SECRET").additional_secret_outputs
    )


def test_kubernetes_secret_data_is_secret(run: ProgramRun) -> None:
    for secret in our_secrets(run).values():
        assert is_secret_value(secret.inputs["stringData"])
        assert "data" not in secret.inputs
        assert plain_strings(secret.inputs["stringData"]) == []


def test_no_generated_value_appears_in_a_plain_input_of_any_resource(run: ProgramRun) -> None:
    values = generated_values(run)
    assert len(values) == 4
    for registration in run.resources:
        for text in plain_strings(registration.inputs):
            leaked = [value for value in values if value in text]
            assert leaked == [], f"{registration.type} {registration.name} carries a secret value in plain"


def test_stack_outputs_carrying_a_generated_value_are_secret(run: ProgramRun) -> None:
    values = generated_values(run)
    for key, output in run.outputs.items():
        if any(value in json.dumps(output, default=str) for value in values):
            assert key in run.secret_outputs


# --------------------------------------------------------------------------- rotation and checksums


def test_bumping_rotation_changes_the_keepers_and_regenerates_the_values(
    probed: ProgramRun, rotated: ProgramRun
) -> None:
    assert probed.one(PASSWORD, "shop-secrets-database-credentials/password").inputs["keepers"] == {"rotation": "1"}
    assert rotated.one(PASSWORD, "shop-secrets-database-credentials/password").inputs["keepers"] == {"rotation": "2"}
    assert rotated.one(PASSWORD, "shop-secrets-api-secrets/JWT_SECRET").inputs["keepers"] == {"rotation": "3"}
    assert rotated.one(PASSWORD, "shop-secrets-api-secrets/SESSION_ID_SALT").inputs["keepers"] == {"rotation": "3"}
    before, after = content(probed, "database-credentials"), content(rotated, "database-credentials")
    assert after["password"] != before["password"]
    assert after["url"] == before["url"].replace(before["password"], after["password"])
    before_api, after_api = content(probed, "api-secrets"), content(rotated, "api-secrets")
    assert all(after_api[key] != before_api[key] for key in ("JWT_SECRET", "SESSION_ID_SALT"))


def test_workloads_get_an_unsecret_checksum_of_each_secret(probed: ProgramRun) -> None:
    handed = checksums(probed)
    for name in DECLARED:
        checksum = handed[f"secret/{name}"]
        assert not is_secret_value(checksum)
        assert checksum == sha256_of(content(probed, name))


def test_rotation_changes_the_checksum_so_pods_roll(probed: ProgramRun, rotated: ProgramRun) -> None:
    assert checksums(rotated)["secret/database-credentials"] != checksums(probed)["secret/database-credentials"]
    assert checksums(rotated)["secret/database-credentials"] == sha256_of(content(rotated, "database-credentials"))


# --------------------------------------------------------------------------- user-supplied values (seed 000)


HF_TOKEN = "hf_Zx81kQv4TnW2sLp0RmYb7cJd5GhEaUo3"


def with_supplied_token(secret_keys: list[str]) -> ProgramRun:
    """Staging plus seed 000's secret (an operator-supplied API token and a JWT secret) and a uuid-only one."""
    config = copy.deepcopy(stack_config("staging"))
    config["platform:secrets"] += [
        {
            "name": "deltastream-secrets",
            "namespaces": ["shop"],
            "keys": {
                "HUGGINGFACE_API_TOKEN": {"type": "config", "key": "hfApiToken"},
                "JWT_SECRET": {"type": "token", "bytes": 32},
            },
        },
        {"name": "request-salt", "namespaces": ["shop-workers"], "keys": {"SALT": {"type": "uuid"}}},
    ]
    config["platform:hfApiToken"] = HF_TOKEN
    return run_program("staging", config, secret_keys=secret_keys)


def assert_never_plain(run: ProgramRun, value: str) -> None:
    for registration in run.resources:
        assert not any(value in text for text in plain_strings(registration.inputs)), registration.name
    assert not any(value in json.dumps(output, default=str) for output in run.outputs.values())


@pytest.fixture(scope="module")
def supplied() -> ProgramRun:
    return with_supplied_token(["platform:hfApiToken"])


def test_a_user_supplied_token_is_delivered_and_stays_secret(supplied: ProgramRun) -> None:
    secret = our_secrets(supplied)[("shop", "deltastream-secrets")]
    assert is_secret_value(secret.inputs["stringData"])
    assert secret.manifest["stringData"]["HUGGINGFACE_API_TOKEN"] == HF_TOKEN
    assert re.fullmatch(r"[0-9a-f]{64}", secret.manifest["stringData"]["JWT_SECRET"])
    assert_never_plain(supplied, HF_TOKEN)


def test_a_token_set_without_secret_is_still_read_as_a_secret() -> None:
    # `pulumi config set` without --secret: require_secret still keeps it out of every plain input.
    run = with_supplied_token([])
    secret = our_secrets(run)[("shop", "deltastream-secrets")]
    assert is_secret_value(secret.inputs["stringData"])
    assert secret.manifest["stringData"]["HUGGINGFACE_API_TOKEN"] == HF_TOKEN
    assert_never_plain(run, HF_TOKEN)


def test_a_secret_made_only_of_values_the_schema_leaves_plain_is_still_secret(supplied: ProgramRun) -> None:
    # A uuid key is the only value of this secret: it must be secret though no schema marks it so.
    secret = our_secrets(supplied)[("shop-workers", "request-salt")]
    assert is_secret_value(secret.inputs["stringData"])
    salt = secret.manifest["stringData"]["SALT"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", salt)
    assert_never_plain(supplied, salt)


# --------------------------------------------------------------------------- rejected config


def test_an_unknown_generator_is_rejected() -> None:
    config = stack_config("staging")
    config["platform:secrets"][1]["keys"]["JWT_SECRET"] = {"type": "hex", "bytes": 32}
    assert_rejected(
        "staging",
        config,
        (
            "stack 'staging': platform:secrets[api-secrets].keys.JWT_SECRET.type: "
            "unknown generator 'hex'; allowed: password, token, uuid, config, format"
        ),
    )


def test_a_password_shorter_than_16_characters_is_rejected() -> None:
    config = stack_config("staging")
    config["platform:secrets"][0]["keys"]["password"]["length"] = 12
    assert_rejected(
        "staging",
        config,
        (
            "stack 'staging': platform:secrets[database-credentials].keys.password.length: "
            "12 is too short; generated passwords must be at least 16 characters"
        ),
    )


def test_a_secret_targeting_an_undeclared_namespace_is_rejected() -> None:
    config = stack_config("staging")
    config["platform:secrets"][1]["namespaces"] = ["shop", "payments"]
    assert_rejected(
        "staging",
        config,
        (
            "stack 'staging': platform:secrets[api-secrets].namespaces[1]: "
            "'payments' is not a declared namespace; declared: shop, shop-data, shop-workers"
        ),
    )


def test_a_user_supplied_key_that_is_not_set_is_rejected() -> None:
    config = stack_config("staging")
    config["platform:secrets"][1]["keys"]["HF_TOKEN"] = {"type": "config", "key": "hfApiToken"}
    assert_rejected(
        "staging",
        config,
        (
            "stack 'staging': platform:secrets[api-secrets].keys.HF_TOKEN.key: "
            "'hfApiToken' is not set; run `pulumi config set --secret platform:hfApiToken <value>`"
        ),
    )
