"""The role-making logic and TLS against real servers: PostgreSQL and Redis from Debian's packages.

kwok runs no containers, so the scripts the role Job runs (components/data/roles.py) are run here
against a PostgreSQL and a Redis started for the test, as the Job runs them: psql and a shell with
redis-cli, the clients' passwords in files. Shown: a read-only client cannot write (by its grants,
not only its session defaults), a read-write client's tables belong to the owner group, a removed
client cannot log in, and running the logic twice changes nothing.

TLS: a CA and a server certificate are made (with `cryptography`) for the names and subject the program
registers in its CertRequest, the servers start with the program's own TLS settings, and a client with
the program's URL parameters verifies the server's certificate, by chain and by name, while a
certificate from another CA, another name or plaintext is refused. `.ci/run` installs the packages;
without the binaries the tests are skipped and say why.
"""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from harness import ProgramRun, unwrap
from test_data import data_run

from components.data.catalog import POSTGRES_HBA, postgres_tls_args, redis_start_command
from components.data.roles import ClientRole, postgres_script, redis_script
from components.data.tls import CA_FILE, SERVER_CERT, SERVER_KEY

PG_BIN = next((p for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)
DATABASE = "orders"
ADMIN = "app"
PASSWORDS = {"writer": "Wr1terPassw0rdWr1terPassw0rd0001", "reader": "Re4derPassw0rdRe4derPassw0rd0002"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_passwords(directory: Path, names: list[str]) -> None:
    directory.mkdir(exist_ok=True)
    for name in names:
        (directory / f"{name}.password").write_text(PASSWORDS[name])


# --------------------------------------------------------------------------- PostgreSQL


class Postgres:
    def __init__(self, root: Path) -> None:
        assert PG_BIN is not None
        self.root, self.data, self.port = root, root / "data", _free_port()
        # PostgreSQL refuses to run as root: as root, the server runs as the package's postgres user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        root.chmod(0o755)
        if self.as_user:
            shutil.chown(root, "postgres")
        self._run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                ADMIN,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ]
        )
        self._run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-w",
                "-l",
                str(root / "log"),
                "-o",
                f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1",
                "start",
            ]
        )
        self.admin(f"CREATE DATABASE {DATABASE}", database="postgres")

    def _run(self, command: list[str]) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, text=True)

    def stop(self) -> None:
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"])

    def admin(self, sql: str, database: str = DATABASE) -> str:
        """As the store's own user over the local socket (how the Job's user connects: it holds the password)."""
        return self._psql(["-h", str(self.root), "-U", ADMIN, "-d", database, "-c", sql], {})

    def run_script(self, script: str) -> None:
        path = self.root / "roles.sql"
        path.write_text(script)
        self._psql(["-h", str(self.root), "-U", ADMIN, "-d", DATABASE, "-f", str(path)], {})

    def as_client(self, user: str, sql: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        """As a client over TCP with its password (scram-sha-256)."""
        env = {"PGPASSWORD": password or PASSWORDS[user]}
        return subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                user,
                "-d",
                DATABASE,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        )

    def _psql(self, args: list[str], env: dict[str, str]) -> str:
        result = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def snapshot(self) -> str:
        """Roles (all but the password verifier, whose salt is fresh on each set), memberships, settings,
        comments, and the privileges on the database, schema and tables."""
        return self.admin(
            "SELECT string_agg(x, E'\\n' ORDER BY x) FROM ("
            " SELECT format('role %s login=%s createdb=%s createrole=%s super=%s config=%s', rolname, rolcanlogin,"
            "   rolcreatedb, rolcreaterole, rolsuper, rolconfig) AS x FROM pg_roles WHERE rolname !~ '^pg_'"
            " UNION ALL SELECT format('setting %s %s', setrole::regrole, setconfig) FROM pg_db_role_setting"
            " UNION ALL SELECT format('member %s of %s', member::regrole, roleid::regrole) FROM pg_auth_members"
            "   WHERE roleid::regrole::text !~ '^pg_'"
            " UNION ALL SELECT format('comment %s %s', objoid, description) FROM pg_shdescription"
            " UNION ALL SELECT format('db %s', datacl) FROM pg_database WHERE datname = current_database()"
            " UNION ALL SELECT format('schema %s', nspacl) FROM pg_namespace WHERE nspname = 'public'"
            " UNION ALL SELECT format('table %s %s %s', relname, relowner::regrole, relacl) FROM pg_class"
            "   WHERE relnamespace = 'public'::regnamespace"
            " UNION ALL SELECT format('default %s', defaclacl) FROM pg_default_acl) rows"
        )


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    if PG_BIN is None or not (PG_BIN / "postgres").exists():
        pytest.skip("PostgreSQL server binaries absent (/usr/lib/postgresql/*/bin): apt-get install postgresql")
    # Not pytest's tmp_path: its parents are private to the test's user, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="roles-postgres-"))
    server = Postgres(root)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_clients_get_their_grants_and_a_removed_client_cannot_log_in(postgres: Postgres) -> None:
    clients = postgres.root / "clients"
    _write_passwords(clients, ["writer", "reader"])
    # A table the store's own user made before the platform made roles (a deploy from before).
    postgres.admin("CREATE TABLE legacy (id int)")
    both = [ClientRole("writer", "read-write"), ClientRole("reader", "read-only")]
    postgres.run_script(postgres_script(DATABASE, both, str(clients)))

    # The read-write client creates and writes; what it creates belongs to the owner group.
    written = postgres.as_client(
        "writer",
        "CREATE TABLE orders (id serial, item text); INSERT INTO orders (item) "
        "VALUES ('book'); INSERT INTO legacy VALUES (1); SELECT count(*) FROM orders",
    )
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == "1"
    assert postgres.admin("SELECT relowner::regrole FROM pg_class WHERE relname = 'orders'") == "orders_owner"
    assert postgres.admin("SELECT relowner::regrole FROM pg_class WHERE relname = 'legacy'") == "orders_owner"
    assert postgres.admin("SELECT count(*) FROM pg_class WHERE relowner = 'writer'::regrole") == "0"

    # The read-only client reads, and cannot write even in a read-write transaction.
    read = postgres.as_client("reader", "SELECT item FROM orders")
    assert read.returncode == 0 and read.stdout.strip() == "book", read.stderr
    for sql in (
        "INSERT INTO orders (item) VALUES ('pen')",
        "BEGIN READ WRITE; INSERT INTO orders (item) VALUES ('pen'); COMMIT",
        "BEGIN READ WRITE; UPDATE legacy SET id = 2; COMMIT",
        "BEGIN READ WRITE; CREATE TABLE mine (id int); COMMIT",
        "BEGIN READ WRITE; SET role orders_owner; INSERT INTO orders (item) VALUES ('pen'); COMMIT",
    ):
        refused = postgres.as_client("reader", sql)
        assert refused.returncode != 0, sql
        assert "permission denied" in refused.stderr or "read-only transaction" in refused.stderr, refused.stderr
    refused = postgres.as_client("reader", "BEGIN READ WRITE; DELETE FROM orders; COMMIT")
    assert "permission denied for table orders" in refused.stderr
    # A client's role is no superuser and owns no database, schema or table.
    assert (
        postgres.admin("SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = 'writer'") == "f"
    )

    # Running the logic twice changes nothing.
    before = postgres.snapshot()
    postgres.run_script(postgres_script(DATABASE, both, str(clients)))
    assert postgres.snapshot() == before
    assert postgres.as_client("reader", "SELECT count(*) FROM orders").returncode == 0

    # Removing a client: its role is gone and it cannot log in; the data it wrote stays.
    postgres.run_script(postgres_script(DATABASE, [ClientRole("writer", "read-write")], str(clients)))
    gone = postgres.as_client("reader", "SELECT 1")
    assert gone.returncode != 0
    assert "password authentication failed" in gone.stderr
    assert postgres.admin("SELECT count(*) FROM pg_roles WHERE rolname = 'reader'") == "0"
    assert postgres.admin("SELECT count(*) FROM orders") == "1"
    # A role the platform did not make (no marker) is left alone.
    postgres.admin("CREATE ROLE analyst LOGIN")
    postgres.run_script(postgres_script(DATABASE, [], str(clients)))
    assert (
        postgres.admin(
            "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN "
            "('analyst', 'writer', 'reader')"
        )
        == "analyst"
    )


def test_postgres_a_rotated_password_replaces_the_old_one(postgres: Postgres) -> None:
    clients = postgres.root / "rotation"
    _write_passwords(clients, ["writer"])
    postgres.run_script(postgres_script(DATABASE, [ClientRole("writer", "read-write")], str(clients)))
    assert postgres.as_client("writer", "SELECT 1").returncode == 0
    (clients / "writer.password").write_text("N3wPassw0rdN3wPassw0rdN3wPassw0r")
    postgres.run_script(postgres_script(DATABASE, [ClientRole("writer", "read-write")], str(clients)))
    assert postgres.as_client("writer", "SELECT 1").returncode != 0
    assert postgres.as_client("writer", "SELECT 1", password="N3wPassw0rdN3wPassw0rdN3wPassw0r").returncode == 0


# --------------------------------------------------------------------------- Redis


class Redis:
    ADMIN_PASSWORD = "AdminPassw0rdAdminPassw0rdAdmin1"

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, _free_port()
        self.start()

    def start(self) -> None:
        # The store's own start command, as the StatefulSet runs it (the ACL file on the data volume).
        command = redis_start_command(str(self.root), port=self.port).replace(
            "exec redis-server",
            f"exec redis-server --bind 127.0.0.1 --daemonize yes --logfile {self.root}/log --save ''",
        )
        subprocess.run(["sh", "-c", command], check=True, env={**os.environ, "REDIS_PASSWORD": self.ADMIN_PASSWORD})
        for _ in range(50):
            if self.cli("default", self.ADMIN_PASSWORD, "PING").stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise AssertionError("redis did not start")

    def stop(self) -> None:
        self.cli("default", self.ADMIN_PASSWORD, "SHUTDOWN", "NOSAVE")

    def cli(self, user: str, password: str, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-p", str(self.port), "--user", user, *command],
            capture_output=True,
            text=True,
            env={**os.environ, "REDISCLI_AUTH": password},
        )

    def run_script(self, script: str) -> None:
        env = {
            **os.environ,
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.port),
            "REDISCLI_AUTH": self.ADMIN_PASSWORD,
        }
        result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr

    def acl(self) -> str:
        return self.cli("default", self.ADMIN_PASSWORD, "ACL", "LIST").stdout


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server / redis-cli absent: apt-get install redis-server")
    server = Redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


def test_redis_clients_are_acl_users_a_reader_cannot_write_a_removed_one_cannot_log_in(redis: Redis) -> None:
    clients = redis.root / "clients"
    _write_passwords(clients, ["writer", "reader"])
    both = [ClientRole("writer", "read-write"), ClientRole("reader", "read-only")]
    redis.run_script(redis_script(both, str(clients)))

    assert redis.cli("writer", PASSWORDS["writer"], "SET", "cart:1", "book").stdout.strip() == "OK"
    assert redis.cli("reader", PASSWORDS["reader"], "GET", "cart:1").stdout.strip() == "book"
    for command in (["SET", "cart:1", "pen"], ["DEL", "cart:1"], ["FLUSHALL"], ["CONFIG", "GET", "*"]):
        refused = redis.cli("reader", PASSWORDS["reader"], *command)
        assert "NOPERM" in refused.stdout + refused.stderr, command
    # The read-write client may not administer the store.
    for command in (["FLUSHALL"], ["CONFIG", "SET", "appendonly", "no"], ["ACL", "LIST"]):
        refused = redis.cli("writer", PASSWORDS["writer"], *command)
        assert "NOPERM" in refused.stdout + refused.stderr, command
    # A client's password is not the store's own.
    wrong = redis.cli("default", PASSWORDS["writer"], "PING")
    assert "WRONGPASS" in wrong.stdout + wrong.stderr

    # Running the logic twice changes nothing.
    before = redis.acl()
    redis.run_script(redis_script(both, str(clients)))
    assert redis.acl() == before

    # The users survive a restart of the store (the ACL file on its volume).
    redis.stop()
    redis.start()
    assert redis.acl() == before
    assert redis.cli("reader", PASSWORDS["reader"], "GET", "cart:1").stdout.strip() in ("book", "")

    # Removing a client: it cannot log in, and stays removed after a restart.
    redis.run_script(redis_script([ClientRole("writer", "read-write")], str(clients)))
    gone = redis.cli("reader", PASSWORDS["reader"], "PING")
    assert "WRONGPASS" in gone.stdout + gone.stderr
    redis.stop()
    redis.start()
    after_restart = redis.cli("reader", PASSWORDS["reader"], "PING")
    assert "WRONGPASS" in after_restart.stdout + after_restart.stderr
    assert redis.cli("writer", PASSWORDS["writer"], "PING").stdout.strip() == "PONG"


# --------------------------------------------------------------------------- TLS against the real servers


@dataclass(frozen=True)
class Pki:
    """A CA and a server certificate like the program's (ECDSA P-256, the registered names), and a
    certificate for the same names from another CA, in `directory`."""

    directory: Path
    hostname: str

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def other_ca(self) -> Path:
        return self.directory / "other-ca.crt"


def _ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_USES_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _server(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, common_name: str, dns_names: list[str]
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """What the provider's LocallySignedCert makes of the program's CertRequest: its subject and names,
    server use only."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]), critical=False)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate


CA_USES_DAYS = 30


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # PKCS#8, as the program hands on the provider's private_key_pem_pkcs8.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def issue(directory: Path, store: str, run: ProgramRun | None = None) -> Pki:
    """The program's certificate request for `store` in `run` (default: the dev catalog of tests/test_data.py),
    made real: the CA and server files as `<store>-tls` holds them, and an impostor from another CA in `other/`."""
    run = run or data_run("dev")
    (request,) = [r for r in run.of_type("tls:index/certRequest:CertRequest") if r.name.endswith(f"-{store}-request")]
    names = list(request.inputs["dnsNames"])
    common_name = request.inputs["subject"]["commonName"]
    ca_key, ca = _ca("platform data-store CA")
    key, certificate = _server(ca_key, ca, common_name, names)
    other_key, other_ca = _ca("another CA")
    impostor_key, impostor = _server(other_key, other_ca, common_name, names)
    directory.mkdir(parents=True, exist_ok=True)
    for folder, (server_key, server, authority) in {
        directory: (key, certificate, ca),
        directory / "other": (impostor_key, impostor, other_ca),
    }.items():
        folder.mkdir(exist_ok=True)
        (folder / SERVER_CERT).write_bytes(_pem(server))
        (folder / SERVER_KEY).write_bytes(_key_pem(server_key))
        (folder / CA_FILE).write_bytes(_pem(authority))
    (directory / "other-ca.crt").write_bytes(_pem(other_ca))
    return Pki(directory, common_name)


def _client_url(store: str, client: str, namespace: str) -> str:
    url: str = unwrap(data_run("dev").k8s("Secret", f"{store}-{client}", namespace)[0].inputs["stringData"])["url"]
    return url


class TlsPostgres:
    """A PostgreSQL started with the program's own TLS settings and pg_hba, its files from `pki`."""

    PASSWORD = "AdminPassw0rdAdminPassw0rdAdmin1"

    def __init__(self, root: Path, pki: Pki) -> None:
        assert PG_BIN is not None
        self.root, self.port, self.pki = root, _free_port(), pki
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        (root / "pw").write_text(self.PASSWORD)
        hba = root / "pg_hba.conf"
        hba.write_text(POSTGRES_HBA)
        for path in [root, *root.rglob("*")]:
            if self.as_user:
                shutil.chown(path, "postgres")
            # PostgreSQL refuses a key others may read; 0600 for its owner (the pods' is root's, 0440).
            path.chmod(0o700 if path.is_dir() else 0o600)
        self._run([str(PG_BIN / "initdb"), "-D", str(root / "data"), "-U", ADMIN, f"--pwfile={root / 'pw'}"])
        settings = " ".join(postgres_tls_args(str(pki.directory), str(hba)))
        self._run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(root / "data"),
                "-w",
                "-l",
                str(root / "log"),
                "-o",
                f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1 {settings}",
                "start",
            ]
        )
        self.admin(f"CREATE ROLE client LOGIN PASSWORD '{PASSWORDS['writer']}'")

    def _run(self, command: list[str]) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, text=True)

    def stop(self) -> None:
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"])

    def admin(self, sql: str) -> None:
        # Over the local socket, with the password: the program's pg_hba trusts no one.
        subprocess.run(
            [
                *self.as_user,
                str(PG_BIN / "psql"),
                "-X",
                "-h",
                str(self.root),
                "-p",
                str(self.port),
                "-U",
                ADMIN,
                "-d",
                "postgres",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PGPASSWORD": self.PASSWORD},
        )

    def connect(self, host: str, **params: str) -> subprocess.CompletedProcess[str]:
        """As the client, to 127.0.0.1 under the name `host` (libpq verifies the certificate against it)."""
        conninfo = " ".join(
            f"{key}={value}"
            for key, value in {
                "host": host,
                "hostaddr": "127.0.0.1",
                "port": str(self.port),
                "user": "client",
                "dbname": "postgres",
                **params,
            }.items()
        )
        return subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-X",
                "-A",
                "-t",
                conninfo,
                "-c",
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": PASSWORDS["writer"]},
        )


@pytest.fixture(scope="module")
def tls_postgres() -> Iterator[TlsPostgres]:
    if PG_BIN is None or not (PG_BIN / "postgres").exists():
        pytest.skip("PostgreSQL server binaries absent (/usr/lib/postgresql/*/bin): apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="tls-postgres-"))
    server = TlsPostgres(root, issue(root / "tls", "orders-db"))
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_a_client_with_the_programs_url_verifies_the_platform_ca_certificate(
    tls_postgres: TlsPostgres,
) -> None:
    # The program's URL parameters: verify-full against the CA mounted where the URL says.
    url = _client_url("orders-db", "checkout", "shop")
    query = parse_qs(urlsplit(url).query)
    assert query == {"sslmode": ["verify-full"], "sslrootcert": ["/etc/ssl/platform/orders-db/ca.crt"]}
    host, pki = urlsplit(url).hostname, tls_postgres.pki
    assert host == pki.hostname
    verified = tls_postgres.connect(host, sslmode=query["sslmode"][0], sslrootcert=str(pki.ca))
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == "t"
    # A certificate that names another host fails verify-full; another CA fails the chain.
    wrong_name = tls_postgres.connect(
        "impostor.shop-data.svc.cluster.local", sslmode="verify-full", sslrootcert=str(pki.ca)
    )
    assert wrong_name.returncode != 0 and "does not match host name" in wrong_name.stderr
    other = tls_postgres.connect(host, sslmode="verify-full", sslrootcert=str(pki.other_ca))
    assert other.returncode != 0 and "certificate verify failed" in other.stderr
    # The program's pg_hba refuses a plaintext connection outright.
    plaintext = tls_postgres.connect(host, sslmode="disable")
    assert plaintext.returncode != 0 and "no encryption" in plaintext.stderr


def test_postgres_a_server_certificate_from_another_ca_is_rejected(tmp_path: Path) -> None:
    if PG_BIN is None or not (PG_BIN / "postgres").exists():
        pytest.skip("PostgreSQL server binaries absent (/usr/lib/postgresql/*/bin): apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="tls-postgres-impostor-"))
    pki = issue(root / "tls", "orders-db")
    # The server presents the impostor (the other CA's certificate for the same names).
    impostor = Pki(root / "tls" / "other", pki.hostname)
    server = TlsPostgres(root, impostor)
    try:
        refused = server.connect(pki.hostname, sslmode="verify-full", sslrootcert=str(pki.ca))
        assert refused.returncode != 0 and "certificate verify failed" in refused.stderr
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _redis_ping(port: int, pki: Pki, ca: Path, password: str) -> str:
    """AUTH and PING over TLS as a client library does: the CA from ca.crt, the name verified."""
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=pki.hostname) as conn,
    ):
        conn.sendall(f"AUTH default {password}\r\nPING\r\n".encode())
        reply = b""
        while b"PONG" not in reply and len(reply) < 100:
            chunk = conn.recv(100)
            if not chunk:
                break
            reply += chunk
        return reply.decode()


def test_redis_serves_tls_only_and_a_client_verifies_the_platform_ca_certificate(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server / redis-cli absent: apt-get install redis-server")
    pki = issue(tmp_path / "tls", "sessions")
    assert _client_url("sessions", "storefront", "shop").startswith("rediss://")
    port = _free_port()
    # The store's own start command with its TLS flags (--port 0: no plaintext port).
    command = redis_start_command(str(tmp_path), str(pki.directory), port).replace(
        "exec redis-server", f"exec redis-server --bind 127.0.0.1 --daemonize yes --logfile {tmp_path}/log --save ''"
    )
    subprocess.run(["sh", "-c", command], check=True, env={**os.environ, "REDIS_PASSWORD": Redis.ADMIN_PASSWORD})
    try:
        for _ in range(50):
            try:
                reply = _redis_ping(port, pki, pki.ca, Redis.ADMIN_PASSWORD)
                break
            except OSError:
                time.sleep(0.1)
        assert reply == "+OK\r\n+PONG\r\n"
        with pytest.raises(ssl.SSLCertVerificationError):
            _redis_ping(port, pki, pki.other_ca, Redis.ADMIN_PASSWORD)
        # Plaintext gets nothing back but a closed (or reset) connection.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(b"PING\r\n")
            try:
                answer = raw.recv(100)
            except ConnectionResetError:
                answer = b""
            assert b"PONG" not in answer
        # The role Job's script runs over TLS against the CA (redis-cli checks the chain).
        clients = tmp_path / "clients"
        _write_passwords(clients, ["writer"])
        env = {**os.environ, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port), "REDISCLI_AUTH": Redis.ADMIN_PASSWORD}
        script = redis_script([ClientRole("writer", "read-write")], str(clients), str(pki.ca))
        done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        refused = subprocess.run(
            ["sh", "-c", redis_script([], str(clients), str(pki.other_ca))], capture_output=True, text=True, env=env
        )
        assert refused.returncode != 0
    finally:
        subprocess.run(
            ["redis-cli", "--no-auth-warning", "--tls", "--cacert", str(pki.ca), "-p", str(port), "SHUTDOWN", "NOSAVE"],
            env={**os.environ, "REDISCLI_AUTH": Redis.ADMIN_PASSWORD},
            capture_output=True,
        )
