"""Live kg_server processes on 127.0.0.1 for the client's tests, in both modes:
embedded (one --role=all process) and split (a front end and two partition servers).

KG_SERVER names the kg_server binary (default: build/server/app/kg_server of the repo).
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

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
    """A running cluster reached at `address` (the role=all process or the front end)."""

    def __init__(self, mode: str, extra_flags=()):
        if not os.access(KG_SERVER, os.X_OK):
            raise RuntimeError(f"kg_server not found at {KG_SERVER} (build it, or set KG_SERVER)")
        self.mode = mode
        self.dir = tempfile.mkdtemp(prefix=f"kgclient-{mode}-")
        self.servers = []
        try:
            count = f"--partition_count={PARTITIONS}"
            if mode == "embedded":
                self.servers.append(Server(self.dir, "all", ["--role=all", count, *extra_flags]))
            else:
                halves = [f"0-{PARTITIONS // 2 - 1}", f"{PARTITIONS // 2}-{PARTITIONS - 1}"]
                parts = [Server(self.dir, f"partition{i}",
                                ["--role=partition", count, f"--partitions={h}", *extra_flags])
                         for i, h in enumerate(halves)]
                self.servers += parts
                cluster_file = os.path.join(self.dir, "cluster.txt")
                with open(cluster_file, "w", encoding="utf-8") as f:
                    f.write(f"partitions {PARTITIONS}\n")
                    for server, half in zip(parts, halves):
                        f.write(f"server {server.wait_serving()} {half}\n")
                self.servers.append(Server(self.dir, "frontend",
                                           ["--role=frontend", f"--cluster_file={cluster_file}"]))
            self.address = self.servers[-1].wait_serving()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


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
