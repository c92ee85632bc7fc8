"""Secrets declared in config, generated with pulumi-random and delivered as Kubernetes Secrets.

Each key of a secret is one of:
- `password`: a RandomPassword (length, special characters);
- `token`: RandomBytes, hex-encoded (`openssl rand -hex <bytes>`);
- `uuid`: a version-4 UUID made from RandomBytes (never RandomUuid, whose resource ID is the value
  itself, so the state would hold it in plaintext whatever the outputs' secrecy);
- `config`: a value the operator sets with `pulumi config set --secret platform:<key> <value>`;
- `format`: a template over the secret's other keys ('postgresql://app:{password}@db/app');
- `provided` (platform-only): a value another component computed, e.g. a managed store's private IP
  or AUTH string, handed in through `provided` and kept secret like the rest; or, with `secret` and
  `key`, the value of a Secret declared earlier in the list (a data store's copy of each client's password).

The random resources exist once per secret, so every namespace receives the same values; each
target namespace then gets one Opaque Secret with a stable `metadata.name` (the secret's name).

Rotation: every random resource carries `keepers={"rotation": "<n>"}`. Bump `rotation` for a secret
in config (e.g. `platform:overrides.secrets.<name>.rotation: 2`) and run `pulumi up`: its values are
regenerated, the Secrets updated, and the checksum below changes, which rolls the pods using it.

Never plaintext: every value is wrapped with `Output.secret` whatever the provider schema says, and
so is the Secret's `stringData`. `checksums["secret/<name>"]` is the sha256 of the secret's content,
deliberately unsecret so that workloads can put it in a pod-template annotation.

Deliberately left out: external secret stores (Secret Manager, CSI driver) and `kubernetes.io/*`
typed secrets (TLS secrets belong to cert-manager).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.context import Context
from components.errors import NAMESPACE
from components.kube import content_checksum
from components.tenancy.config import (
    ConfigKey,
    FormatKey,
    PasswordKey,
    ProvidedKey,
    SecretConfig,
    TokenKey,
    UuidKey,
)

# A UUID's 128 bits; the version and variant bits are then set as RFC 9562 asks of a random (v4) UUID.
UUID_BYTES = 16


def uuid4_from_hex(hex_bytes: str) -> str:
    """Sixteen random bytes (hex) as a version-4 UUID: 8-4-4-4-12 hex digits."""
    raw = bytearray.fromhex(hex_bytes)
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    digits = raw.hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class Secrets(pulumi.ComponentResource):
    checksums: dict[str, pulumi.Output[str]]
    resources: list[pulumi.Resource]
    # Secret name -> key -> its secret value, for the components that consume a value (a role Job's script).
    values: dict[str, dict[str, pulumi.Output[str]]]

    def __init__(
        self,
        name: str,
        secrets: Sequence[SecretConfig],
        context: Context,
        namespaces: dict[str, k8s.core.v1.Namespace],
        opts: pulumi.ResourceOptions | None = None,
        provided: Mapping[str, Mapping[str, pulumi.Input[str]]] | None = None,
    ) -> None:
        super().__init__("platform:secrets:Secrets", name, None, opts)
        self._name = name
        # Secret name -> key -> value, for the `provided` keys.
        self._provided = provided or {}
        self.checksums = {}
        self.resources = []
        self.values = {}
        for secret in secrets:
            content = self._content(secret)
            self.checksums[f"secret/{secret.name}"] = pulumi.Output.unsecret(content.apply(content_checksum))
            for namespace in secret.namespaces:
                # '/' joins two user-chosen names and neither may contain it, so URNs never collide.
                self.resources.append(
                    k8s.core.v1.Secret(
                        f"{name}-{namespace}/{secret.name}",
                        metadata=context.object_metadata(secret.name, namespaces[namespace]),
                        type="Opaque",
                        string_data=content,
                        opts=pulumi.ResourceOptions(parent=self, provider=context.provider),
                    )
                )
        self.register_outputs({"checksums": self.checksums})

    def _content(self, secret: SecretConfig) -> pulumi.Output[dict[str, str]]:
        """The secret's keys and values, each a secret Output."""
        keepers = {"rotation": str(secret.rotation)}
        child = pulumi.ResourceOptions(parent=self)
        values: dict[str, pulumi.Output[str]] = {}
        for key, spec in secret.keys.items():
            role = f"{self._name}-{secret.name}/{key}"
            if isinstance(spec, PasswordKey):
                password = random.RandomPassword(
                    role, length=spec.length, special=spec.special, keepers=keepers, opts=child
                )
                values[key] = pulumi.Output.secret(password.result)
            elif isinstance(spec, TokenKey):
                token = random.RandomBytes(role, length=spec.bytes, keepers=keepers, opts=child)
                values[key] = pulumi.Output.secret(token.hex)
            elif isinstance(spec, UuidKey):
                uuid_bytes = random.RandomBytes(role, length=UUID_BYTES, keepers=keepers, opts=child)
                values[key] = pulumi.Output.secret(uuid_bytes.hex.apply(uuid4_from_hex))
            elif isinstance(spec, ConfigKey):
                values[key] = pulumi.Config(NAMESPACE).require_secret(spec.key)
            elif isinstance(spec, ProvidedKey) and spec.secret is not None:
                values[key] = self.values[spec.secret][spec.key or key]
            elif isinstance(spec, ProvidedKey):
                values[key] = pulumi.Output.secret(self._provided[secret.name][key])
        # Format keys reference only the keys above (validated), never each other.
        for key, spec in secret.keys.items():
            if isinstance(spec, FormatKey):
                parts = pulumi.Output.all(**{ref: values[ref] for ref in spec.references})
                values[key] = pulumi.Output.secret(parts.apply(spec.render))
        self.values[secret.name] = values
        # Every value is secret, so the whole content is too.
        return pulumi.Output.all(**{key: values[key] for key in secret.keys})
