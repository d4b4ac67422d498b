"""Live kg_server processes on 127.0.0.1 for the client's tests, in both modes:
embedded (one --role=all process) and split (a front end and two partition servers);
certificates (made with `openssl`) and token files for the TLS and token tests.

KG_SERVER names the kg_server binary (default: build/server/app/kg_server of the repo).
"""
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import grpc
import pytest

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
KG_SERVER = os.environ.get("KG_SERVER") or os.path.join(REPO, "build", "server", "app",
                                                        "kg_server")
PARTITIONS = 4
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One kg_server process; its gRPC address is read from its --port_file."""

    def __init__(self, directory: str, name: str, flags):
        self.name = name
        self.port_file = os.path.join(directory, name + ".ports")
        self.log_path = os.path.join(directory, name + ".log")
        if not any(f.startswith("--port=") for f in flags):
            flags = [*flags, "--port=0"]
        args = [KG_SERVER, "--host=127.0.0.1", "--metrics_port=-1", "--log_level=warn",
                f"--port_file={self.port_file}", *flags]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.address = None

    def wait_serving(self, timeout_s: float = START_TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: "
                                   f"{self.log()}")
            if os.path.exists(self.port_file):
                with open(self.port_file, encoding="utf-8") as f:
                    for line in f:
                        if line.startswith("grpc="):
                            self.address = line.strip()[len("grpc="):]
                            return self.address
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not serve within {timeout_s} s: {self.log()}")

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()[-2000:]

    def stop(self, timeout_s: float = 10) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Cluster:
    """A running cluster reached at `address` (the role=all process or the front end).
    `extra_flags` are added to that process's flags (e.g. --tls_cert, --auth_tokens);
    `partitions` is the --partition_count."""

    def __init__(self, mode: str, extra_flags=(), partitions: int = PARTITIONS):
        if not os.access(KG_SERVER, os.X_OK):
            raise RuntimeError(f"kg_server not found at {KG_SERVER} (build it, or set KG_SERVER)")
        self.mode = mode
        self.dir = tempfile.mkdtemp(prefix=f"kgclient-{mode}-")
        self.servers = []
        try:
            count = f"--partition_count={partitions}"
            if mode == "embedded":
                self.servers.append(Server(self.dir, "all", ["--role=all", count, *extra_flags]))
            else:
                halves = [f"0-{partitions // 2 - 1}", f"{partitions // 2}-{partitions - 1}"]
                parts = [Server(self.dir, f"partition{i}",
                                ["--role=partition", count, f"--partitions={h}"])
                         for i, h in enumerate(halves)]
                self.servers += parts
                cluster_file = os.path.join(self.dir, "cluster.txt")
                with open(cluster_file, "w", encoding="utf-8") as f:
                    f.write(f"partitions {partitions}\n")
                    for server, half in zip(parts, halves):
                        f.write(f"server {server.wait_serving()} {half}\n")
                self.servers.append(Server(self.dir, "frontend",
                                           ["--role=frontend", f"--cluster_file={cluster_file}",
                                            *extra_flags]))
            self.address = self.servers[-1].wait_serving()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _openssl(*args) -> None:
    result = subprocess.run(["openssl", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.decode(errors='replace')}")


class Certificates:
    """P-256 certificates valid for a day, made with `openssl` in `directory`: `ca`, a
    `server` certificate from it (subjectAltName IP:127.0.0.1 and DNS:SERVER_NAME), a
    `client` certificate from it, and a `rogue_ca` (trusted by no server here) with a
    `rogue_client` certificate of its own. Each is a (certificate, key) pair of PEM paths."""
    SERVER_NAME = "kg.test"

    def __init__(self, directory: str):
        self.dir = directory
        self.ca = self._make("ca", "/CN=kg test CA")
        self.server = self._make("server", "/CN=kg-server", self.ca,
                                 f"subjectAltName=IP:127.0.0.1,DNS:{self.SERVER_NAME}")
        self.client = self._make("client", "/CN=kg-client", self.ca)
        self.rogue_ca = self._make("rogue-ca", "/CN=rogue CA")
        self.rogue_client = self._make("rogue-client", "/CN=rogue-client", self.rogue_ca)

    def _make(self, name, subject, issuer=None, *extensions):
        cert, key = (os.path.join(self.dir, f"{name}.{ext}") for ext in ("pem", "key"))
        args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-days", "1", "-subj", subject, "-keyout", key, "-out", cert]
        if issuer:  # a leaf signed by the issuer (openssl's default config makes CAs)
            args += ["-CA", issuer[0], "-CAkey", issuer[1],
                     "-addext", "basicConstraints=critical,CA:FALSE"]
        for extension in extensions:
            args += ["-addext", extension]
        _openssl(*args)
        return cert, key


def write_token_file(path: str, roles) -> str:
    """Writes an --auth_tokens file granting each token of `roles` ({token: role}); returns
    `path`."""
    with open(path, "w", encoding="utf-8") as f:
        for i, (token, role) in enumerate(roles.items()):
            f.write(f"sha256:{hashlib.sha256(token.encode()).hexdigest()} {role} user{i}\n")
    return path


def assert_fails_within(address, deadline_s, call, slack_s=0.5, **client_options):
    """`call(client)` against `address` raises KgError with a message, UNAVAILABLE or
    DEADLINE_EXCEEDED, before the deadline plus `slack_s`; returns the KgError.
    `client_options` go to KgClient (e.g. tls)."""
    from kgclient import KgClient, KgError
    with KgClient(address, deadline_s=deadline_s, **client_options) as client:
        start = time.monotonic()
        with pytest.raises(KgError) as e:
            call(client)
        elapsed = time.monotonic() - start
    assert e.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert e.value.message
    assert elapsed < deadline_s + slack_s
    return e.value


@pytest.fixture(scope="module", params=["embedded", "split"])
def cluster(request):
    c = Cluster(request.param)
    yield c
    c.stop()


@pytest.fixture
def kg(cluster):
    from kgclient import KgClient
    with KgClient(cluster.address, deadline_s=20) as client:
        yield client
