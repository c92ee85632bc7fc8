"""TLS to the data stores: the stack's platform CA and each in-cluster store's key and certificate.

`DataTls` makes, with the pulumi-tls provider, one platform CA per stack (an ECDSA P-256 key and a
self-signed CA certificate) and, for every enabled in-cluster store whose engine serves TLS here
(`TLS_ENGINES`), a key and a certificate signed by that CA for all the store's Service names
(`store_dns_names`). Every private key is a secret Output: the provider marks its key outputs and the
key inputs of the certificates secret itself, and `values()` wraps everything it hands on.

Where the files go:
- the store's pods mount `<store>-tls` (`tls.crt`, `tls.key`, `tls.pem` = PKCS#8 key + certificate for
  MongoDB and Kafka, `ca.crt`) at `SERVER_DIR`, owned by root with mode 0440 (PostgreSQL accepts a
  root-owned key that its group may read);
- every client, and the store's role Job, mounts its own Secret's `ca.crt` (only that key) at
  `client_ca_path(<store>)`, the path its `url` names (`sslrootcert=`, `tlsCAFile=`,
  `ssl.truststore.location`).

Validity and renewal: the CA and the certificates carry `validity_period_hours` and
`early_renewal_hours` (`dataTls`), so an `up` inside the renewal window replaces them. Rotation:
`dataTls.rotation` replaces the CA's key (and so the CA and every certificate), a store's
`tls.rotation` its key and certificate (Pulumi's `replacement_trigger`); the Secrets' checksums roll
the pods that read them.

Deliberately left out: client certificates (clients authenticate with their passwords), revocation
(a replaced certificate stays valid until it expires: keep validity short), cert-manager (the CA must
exist before any chart, and a stack without cert-manager needs it too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_tls as tls

from components.context import Context
from components.data.config import DataServiceConfig, DataTlsConfig
from components.tenancy.config import SecretConfig

# Where a client's (and a role Job's) ca.crt is mounted: one directory per store, read-only.
CLIENT_CA_DIR = "/etc/ssl/platform"
CA_FILE = "ca.crt"
# Where a store's pods mount `<store>-tls`.
SERVER_DIR = "/etc/ssl/store"
SERVER_CERT = "tls.crt"
SERVER_KEY = "tls.key"
# The key (PKCS#8) followed by the certificate: MongoDB's certificateKeyFile, Kafka's PEM keystore.
SERVER_PEM = "tls.pem"
SERVER_KEYS = (SERVER_CERT, SERVER_KEY, SERVER_PEM, CA_FILE)
KEY_ALGORITHM = "ECDSA"
KEY_CURVE = "P256"
CA_USES = ["cert_signing", "crl_signing", "digital_signature"]
SERVER_USES = ["digital_signature", "key_encipherment", "server_auth"]
CLUSTER_DOMAIN = "cluster.local"
# The roots Google Trust Services' certificates chain to (GTS Root R1, R3, R4 and GlobalSign ECC Root CA - R4,
# which Google operates), copied from certifi 2026.10.19.post1 (Mozilla's CA store): the ca.crt of Managed Kafka
# and Cloud Storage, whose endpoints serve publicly trusted certificates (docs/data-access.md, "TLS").
GOOGLE_ROOTS = (Path(__file__).parent / "google_roots.pem").read_text()


def client_ca_dir(store: str) -> str:
    return f"{CLIENT_CA_DIR}/{store}"


def client_ca_path(store: str) -> str:
    """The fixed path of `<store>`'s ca.crt in its clients' pods (the URL's sslrootcert / tlsCAFile)."""
    return f"{client_ca_dir(store)}/{CA_FILE}"


def server_file(name: str) -> str:
    return f"{SERVER_DIR}/{name}"


def store_dns_names(store: DataServiceConfig) -> list[str]:
    """Every name a client or a peer reaches the store by: its Service's four forms, and, for Kafka, each
    broker's headless name (brokers advertise it and verify one another by it)."""
    service, namespace = store.name, store.namespace
    names = [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.{CLUSTER_DOMAIN}",
    ]
    if store.type == "kafka":
        headless = f"{service}-headless.{namespace}.svc.{CLUSTER_DOMAIN}"
        names += [f"{service}-{ordinal}.{headless}" for ordinal in range(store.replicas)]
    return names


def tls_secret(store: DataServiceConfig) -> SecretConfig:
    """`<store>-tls`: the store's key and certificate and the CA, values from `DataTls`, in its namespace only."""
    return SecretConfig.model_validate(
        {
            "name": store.tls_secret_name,
            "namespaces": [store.namespace],
            "keys": {key: {"type": "provided"} for key in SERVER_KEYS},
        }
    )


@dataclass(frozen=True)
class StoreCertificate:
    """One store's key and signed certificate."""

    key: tls.PrivateKey
    certificate: tls.LocallySignedCert


class DataTls(pulumi.ComponentResource):
    """The platform CA and a certificate per in-cluster TLS store; `values()` feeds the tenancy Secrets."""

    ca_certificate: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: DataTlsConfig,
        stores: Sequence[DataServiceConfig],
        context: Context,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:data:DataTls", name, None, opts)
        self._name, self._config, self._context = name, config, context
        child = pulumi.ResourceOptions(parent=self)
        self._ca_key = tls.PrivateKey(
            f"{name}-ca-key",
            tls.PrivateKeyArgs(algorithm=KEY_ALGORITHM, ecdsa_curve=KEY_CURVE),
            # A new CA key (so a new CA, and every certificate it signed) whenever dataTls.rotation changes.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(replacement_trigger=str(config.rotation))),
        )
        ca = tls.SelfSignedCert(
            f"{name}-ca",
            tls.SelfSignedCertArgs(
                private_key_pem=self._ca_key.private_key_pem,
                is_ca_certificate=True,
                set_subject_key_id=True,
                allowed_uses=CA_USES,
                subject=tls.SelfSignedCertSubjectArgs(
                    common_name=f"{context.app} {context.environment} data-store CA", organization=context.app
                ),
                validity_period_hours=config.hours(config.ca_validity_days),
                early_renewal_hours=config.hours(config.renew_before_days),
            ),
            # The CA is kept secret with its key, in the state and wherever it is passed on.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(additional_secret_outputs=["certPem"])),
        )
        self._ca = ca
        self.ca_certificate = pulumi.Output.secret(ca.cert_pem)
        self.certificates = {
            store.tls_secret_name: self._store_certificate(store) for store in stores if store.serves_tls
        }
        self.register_outputs({})

    def _store_certificate(self, store: DataServiceConfig) -> StoreCertificate:
        config, name = self._config, f"{self._name}-{store.name}"
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(
            f"{name}-key",
            tls.PrivateKeyArgs(algorithm=KEY_ALGORITHM, ecdsa_curve=KEY_CURVE),
            # The store's own rotation, and the CA's: a rotated CA signs fresh keys.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(replacement_trigger=f"{config.rotation}/{store.tls.rotation}")
            ),
        )
        request = tls.CertRequest(
            f"{name}-request",
            tls.CertRequestArgs(
                private_key_pem=key.private_key_pem,
                dns_names=store_dns_names(store),
                subject=tls.CertRequestSubjectArgs(
                    common_name=store_dns_names(store)[3], organization=self._context.app
                ),
            ),
            opts=child,
        )
        certificate = tls.LocallySignedCert(
            f"{name}-certificate",
            tls.LocallySignedCertArgs(
                cert_request_pem=request.cert_request_pem,
                ca_private_key_pem=self._ca_key.private_key_pem,
                ca_cert_pem=self.ca_certificate,
                allowed_uses=SERVER_USES,
                set_subject_key_id=True,
                validity_period_hours=config.hours(config.certificate_validity_days),
                early_renewal_hours=config.hours(config.renew_before_days),
            ),
            opts=child,
        )
        return StoreCertificate(key, certificate)

    def values(self) -> dict[str, dict[str, pulumi.Output[str]]]:
        """`<store>-tls`'s keys for each store, by Secret name; every value secret."""
        values: dict[str, dict[str, pulumi.Output[str]]] = {}
        for secret_name, issued in self.certificates.items():
            key_pem = issued.key.private_key_pem_pkcs8
            cert_pem = issued.certificate.cert_pem
            values[secret_name] = {
                SERVER_CERT: pulumi.Output.secret(cert_pem),
                SERVER_KEY: pulumi.Output.secret(key_pem),
                SERVER_PEM: pulumi.Output.secret(pulumi.Output.concat(key_pem, cert_pem)),
                CA_FILE: self.ca_certificate,
            }
        return values
