"""Neo4j's Bolt over TLS against a real Neo4j: the settings the program gives the neo4j image, run by the
Neo4j DBMS itself, and a client configured as docs/data-access.md says.

kwok runs no containers and Debian packages no Neo4j, so the DBMS of the image's version (5.26.10, the
Community edition from Maven Central) starts embedded in a JVM (tests/neo4j, built with Maven into a
temporary directory). It reads the settings the registered StatefulSet's `NEO4J_*` variables name, turned
back into setting names as the image's entrypoint does, with strict validation (an unknown setting stops
it), and the key and certificate made like the program's for the store's names (tests/test_roles.py).

Shown: a driver that trusts the platform CA's ca.crt connects by the Service's name and runs a query (a
`neo4j://` driver first asks for the routing table, then runs the query where it says, both over TLS);
one that trusts another CA, or reaches the server by a name the certificate lacks, is refused; plaintext
Bolt gets no answer. Test-only settings: Bolt on (the server's default, not an
embedded DBMS's), the listen address, and no authentication (the image sets the password from NEO4J_AUTH
with neo4j-admin, outside the settings). `.ci/run` installs Java and Maven; without them the test is
skipped and says why.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest
from harness import unwrap
from test_data_tls import pod_spec, tls_run
from test_roles import _free_port, issue

from components.data.tls import SERVER_DIR

SERVER_SOURCES = Path(__file__).parent / "neo4j"
STORE, CLIENT, CLIENT_NAMESPACE = "graph", "order-worker", "shop-workers"
HOST = f"{STORE}.shop-data.svc.cluster.local"
# Bolt's preamble and one version proposal (5.0), as a driver opens a connection.
BOLT_HELLO = bytes.fromhex("6060B017") + bytes.fromhex("00000005") + bytes(12)
START_SECONDS = 240


def settings_of(env: list[dict[str, Any]]) -> dict[str, str]:
    """The Neo4j settings the image's entrypoint makes of `NEO4J_*` variables: `_` is `.`, `__` is `_`."""
    return {
        item["name"][len("NEO4J_") :].replace("__", "\0").replace("_", ".").replace("\0", "_"): item["value"]
        for item in env
        if item["name"].startswith("NEO4J_") and "value" in item
    }


def build_server(directory: Path) -> str:
    """Compile tests/neo4j in `directory`; the Java classpath that runs it."""
    shutil.copytree(SERVER_SOURCES, directory, dirs_exist_ok=True)
    subprocess.run(
        ["mvn", "-q", "-B", "compile", "dependency:build-classpath", "-Dmdep.outputFile=classpath.txt"],
        cwd=directory,
        check=True,
        capture_output=True,
        timeout=1200,
    )
    return f"{directory / 'target' / 'classes'}:{(directory / 'classpath.txt').read_text().strip()}"


class BoltServer:
    """The store's settings (its TLS directory moved to `root`) in a running Neo4j on a free port."""

    def __init__(self, root: Path, classpath: str, settings: dict[str, str]) -> None:
        self.root, self.port = root, _free_port()
        tls_dir = root / "tls"
        conf = {
            **{k: v.replace(SERVER_DIR, str(tls_dir)) for k, v in settings.items()},
            # On in a Neo4j server (the image), off by default in an embedded DBMS.
            "server.bolt.enabled": "true",
            "server.bolt.listen_address": f"127.0.0.1:{self.port}",
            "dbms.security.auth_enabled": "false",
        }
        (root / "neo4j.conf").write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
        self.log = (root / "server.log").open("w")
        self.process = subprocess.Popen(
            ["java", "-cp", classpath, "BoltServer", str(root / "home"), str(root / "neo4j.conf")],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_SECONDS
        while "READY" not in (root / "server.log").read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"Neo4j did not start:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[BoltServer, Path, Path]]:
    """The running store, its CA and another CA's certificate (ca.crt files as a client mounts them)."""
    if shutil.which("mvn") is None or shutil.which("java") is None:
        pytest.skip("Java or Maven absent: apt-get install default-jdk-headless maven")
    run = tls_run("dev")
    root = Path(tempfile.mkdtemp(prefix="neo4j-tls-"))
    try:
        # The store's key and certificate (`BoltServer` reads them from root/tls), its CA and another CA.
        pki = issue(root / "tls", STORE, run)
        (container,) = pod_spec(run, "StatefulSet", STORE)["spec"]["containers"]
        bolt = BoltServer(root, build_server(root / "build"), settings_of(container["env"]))
        try:
            yield bolt, pki.ca, pki.other_ca
        finally:
            bolt.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cluster_dns(server: tuple[BoltServer, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every `*.svc.cluster.local` name, at any port, resolves to the test's server, as the Service would."""
    bolt, original = server[0], socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".svc.cluster.local"):
            return original("127.0.0.1", bolt.port, *args, **kwargs)
        return original(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def client_url() -> str:
    run = tls_run("dev")
    (secret,) = run.k8s("Secret", f"{STORE}-{CLIENT}", CLIENT_NAMESPACE)
    url: str = unwrap(secret.inputs["stringData"])["url"]
    return url


def query(url: str, ca: Path) -> Any:
    """`RETURN 1` as a client configured per docs/data-access.md: encryption on, the store's ca.crt trusted."""
    driver = neo4j.GraphDatabase.driver(
        url, auth=("neo4j", "unused"), encrypted=True, trusted_certificates=neo4j.TrustCustomCAs(str(ca))
    )
    try:
        records, _, _ = driver.execute_query("RETURN 1 AS one")
        return records[0]["one"]
    finally:
        driver.close()


@pytest.mark.usefixtures("cluster_dns")
def test_a_client_trusting_the_platform_ca_queries_the_store_by_its_service_name(
    server: tuple[BoltServer, Path, Path],
) -> None:
    url = client_url()
    assert url == f"neo4j://{HOST}:7687"
    assert query(url, server[1]) == 1


@pytest.mark.usefixtures("cluster_dns")
def test_another_ca_or_another_name_is_refused(server: tuple[BoltServer, Path, Path]) -> None:
    with pytest.raises(neo4j.exceptions.ServiceUnavailable):
        query(client_url(), server[2])
    # The right CA, but a name the certificate does not carry.
    with pytest.raises(neo4j.exceptions.ServiceUnavailable):
        query(f"neo4j://{STORE}.elsewhere.svc.cluster.local:7687", server[1])
    # The chain and the name, at the TLS layer: the certificate verifies for the Service's name only.
    context = ssl.create_default_context(cafile=str(server[1]))
    with (
        socket.create_connection(("127.0.0.1", server[0].port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as conn,
    ):
        conn.sendall(BOLT_HELLO)
        assert conn.recv(4) == bytes.fromhex("00000005")


def test_plaintext_bolt_gets_no_answer(server: tuple[BoltServer, Path, Path]) -> None:
    with socket.create_connection(("127.0.0.1", server[0].port), timeout=10) as raw:
        raw.sendall(BOLT_HELLO)
        try:
            answer = raw.recv(4)
        except ConnectionResetError:
            answer = b""
    assert answer == b""
