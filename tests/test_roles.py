"""The role-making logic against real servers: PostgreSQL and Redis from Debian's packages.

kwok runs no containers, so the scripts the role Job runs (components/data/roles.py) are run here
against a PostgreSQL and a Redis started for the test, as the Job runs them: psql and a shell with
redis-cli, the clients' passwords in files. Shown: a read-only client cannot write (by its grants,
not only its session defaults), a read-write client's tables belong to the owner group, a removed
client cannot log in, and running the logic twice changes nothing. `.ci/run` installs the packages;
without the binaries the tests are skipped and say why.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.data.catalog import redis_start_command
from components.data.roles import ClientRole, postgres_script, redis_script

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
        command = redis_start_command(str(self.root)).replace(
            "exec redis-server",
            f"exec redis-server --port {self.port} --bind 127.0.0.1 --daemonize yes "
            f"--logfile {self.root}/log --save ''",
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
