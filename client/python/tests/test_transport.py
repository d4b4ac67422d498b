"""The two transports of unary calls (native: kgclient_native; grpcio) against live servers
in both modes: the same replies and errors, call_many and get_entities_many, bounds on
their arguments, and failures of the connection within the deadline."""
import os
import shutil
import subprocess
import sys
import time

import grpc
import pytest
from google.protobuf.internal import api_implementation

from conftest import assert_fails_within, free_port
from kgclient import KgCallsError, KgClient, entity, key
from kgclient import client as client_module
from kgclient_proto.grpc_health.v1 import health_pb2
from kgclient_proto.kg.v1 import graph_pb2
from kgclient_proto.kg.v1.types_pb2 import PURCHASED, EntityKey

BUILT = client_module.kgclient_native is not None
TRANSPORTS = ["grpcio", pytest.param("native", marks=pytest.mark.skipif(
    not BUILT, reason="kgclient_native is not built"))]


def test_the_native_transport_is_built_and_used_by_default():
    # The CMake build makes it; its tests say so (KG_EXPECT_NATIVE=1).
    if os.environ.get("KG_EXPECT_NATIVE") != "1":
        pytest.skip("the native transport is not expected in this environment")
    assert BUILT
    with KgClient("127.0.0.1:1") as auto, KgClient("127.0.0.1:1", transport="grpcio") as plain:
        assert auto.native and not plain.native


def test_the_messages_use_the_generated_cpp_classes_of_the_native_module():
    # Built beside the stubs, kgclient_native is loaded first and carries the C++ classes of
    # every kg/v1 file, which Python's protobuf (C++ implementation) then uses.
    if os.environ.get("KG_EXPECT_NATIVE") != "1" or api_implementation.Type() != "cpp":
        pytest.skip("no native module, or Python's protobuf is not its C++ implementation")
    import kgclient_native
    import kgclient_proto
    assert kgclient_proto.GENERATED_CPP
    stubs = os.path.join(os.path.dirname(kgclient_proto.__file__), "kg", "v1")
    files = {f"kg/v1/{f[:-len('_pb2.py')]}.proto" for f in os.listdir(stubs)
             if f.endswith("_pb2.py")}
    assert files == set(kgclient_native.MESSAGE_FILES)


GUARD_SCRIPT = r'''
import sys
import kgclient_proto
from kgclient_proto.kg.v1 import graph_pb2
from kgclient import KgClient
assert not kgclient_proto.GENERATED_CPP, "a native module from elsewhere was loaded first"
reply = graph_pb2.GetEntitiesRequest(keys=[{"type": 1, "id": 5}])
assert graph_pb2.GetEntitiesRequest.FromString(reply.SerializeToString()).keys[0].id == 5
with KgClient(sys.argv[1], deadline_s=5) as kg:
    assert kg.health() == "SERVING"
print("ok")
'''


@pytest.mark.skipif(not BUILT, reason="kgclient_native is not built")
def test_a_native_module_from_another_build_is_not_loaded_before_the_stubs(cluster, tmp_path):
    # The stubs copied elsewhere: kgclient_native (still importable from its own directory)
    # may come from other .proto files, so the stubs build their classes themselves.
    import kgclient_proto
    shutil.copytree(os.path.dirname(kgclient_proto.__file__), tmp_path / "kgclient_proto")
    native_dir = os.path.dirname(client_module.kgclient_native.__file__)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path), native_dir, os.path.dirname(os.path.dirname(client_module.__file__))]))
    result = subprocess.run([sys.executable, "-c", GUARD_SCRIPT, cluster.address], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.fixture(scope="module")
def both(cluster):
    """A client of each transport on the same cluster, and ids 7001..7050 written."""
    with KgClient(cluster.address, deadline_s=20, transport="grpcio") as plain:
        plain.upsert_entities([entity(f"PRODUCT:{i}", f"item {i}", attributes={"colour": "red"})
                               for i in range(7001, 7051)])
        if not BUILT:
            yield plain, plain
            return
        with KgClient(cluster.address, deadline_s=20, transport="native") as native:
            assert native.native
            yield plain, native


def test_both_transports_give_the_same_replies(both):
    plain, native = both
    keys = [f"PRODUCT:{i}" for i in range(6990, 7060)]  # some exist, some do not
    assert plain.get_entities(keys) == native.get_entities(keys)
    assert native.get_entities(["PRODUCT:7001"])[0].name == "item 7001"
    assert native.get_entities(["PRODUCT:7000"]) == [None]
    assert plain.health() == native.health() == "SERVING"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_get_entities_many_equals_one_call_per_batch(cluster, both, transport):
    batches = [[f"PRODUCT:{i}", ("product", i + 1), "PRODUCT:6000"] for i in range(7001, 7050)]
    batches.append([])
    with KgClient(cluster.address, deadline_s=20, transport=transport) as kg:
        many = kg.get_entities_many(batches, max_in_flight=4)
        assert many == [kg.get_entities(b) for b in batches]
        assert [e.name for e in many[0][:2]] == ["item 7001", "item 7002"]
        assert many[0][2] is None and many[-1] == []
        assert kg.get_entities_many([]) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_call_many_keeps_the_replies_of_calls_that_succeed(cluster, both, transport):
    ok = graph_pb2.GetNeighborsRequest(keys=[key("BUYER:1")], edge_type=PURCHASED, limit=5)
    bad = graph_pb2.GetNeighborsRequest(keys=[key("BUYER:1")], edge_type=PURCHASED, limit=5000)
    with KgClient(cluster.address, deadline_s=20, transport=transport) as kg:
        with pytest.raises(grpc.RpcError) as raw:
            kg.graph.GetNeighbors(bad, timeout=5)
        with pytest.raises(KgCallsError) as e:
            kg.call_many(kg.graph.GetNeighbors, [ok, bad, ok, bad], max_in_flight=2)
    assert [i for i, _ in e.value.failures] == [1, 3]
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT == raw.value.code()
    assert e.value.message == raw.value.details()  # the server's message, unchanged
    assert all(f.method == "/kg.v1.GraphService/GetNeighbors" for _, f in e.value.failures)
    assert e.value.replies[1] is None and e.value.replies[3] is None
    assert isinstance(e.value.replies[0], graph_pb2.GetNeighborsResponse)
    assert isinstance(e.value.replies[2], graph_pb2.GetNeighborsResponse)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_refused_batch_names_its_field_and_keeps_the_others(cluster, both, transport):
    with KgClient(cluster.address, deadline_s=20, transport=transport) as kg:
        with pytest.raises(KgCallsError) as e:  # type 0 is not an entity type
            kg.get_entities_many([["PRODUCT:7001"], [EntityKey(id=1)]])
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "keys[0].type" in e.value.message
    assert [i for i, _ in e.value.failures] == [1]
    assert e.value.replies[0].results[0].entity.name == "item 7001"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bounds_are_checked_before_any_call(transport):
    with KgClient("127.0.0.1:1", transport=transport) as kg:
        for bad in (0, 1025):
            with pytest.raises(ValueError, match="max_in_flight"):
                kg.call_many(kg.health_stub.Check, [health_pb2.HealthCheckRequest()],
                             max_in_flight=bad)
        with pytest.raises(ValueError, match="timeout"):
            kg.call_many(kg.health_stub.Check, [health_pb2.HealthCheckRequest()], timeout=0)
        with pytest.raises(ValueError, match=r"key_batches\[1\]: at most 1000"):
            kg.get_entities_many([["PRODUCT:1"], [f"PRODUCT:{i}" for i in range(1, 1002)]])
        with pytest.raises(ValueError, match=r"key_batches\[0\]"):
            kg.get_entities_many([["PRODUCT-1"]])
    with pytest.raises(ValueError, match="transport"):
        KgClient("127.0.0.1:1", transport="quic")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_dead_server_fails_within_the_deadline(transport):
    address = f"127.0.0.1:{free_port()}"  # nothing listens
    assert_fails_within(address, 1.0, lambda c: c.get_entities(["PRODUCT:1"]),
                        transport=transport)
    assert_fails_within("no-such-host.invalid:50051", 2.0, lambda c: c.health(),
                        transport=transport)
    # call_many retries each UNAVAILABLE call within one more deadline: at most two in all.
    with KgClient(address, deadline_s=1.0, transport=transport) as kg:
        start = time.monotonic()
        with pytest.raises(KgCallsError) as e:
            kg.get_entities_many([["PRODUCT:1"]] * 40, max_in_flight=8)
        elapsed = time.monotonic() - start
    assert e.value.code == grpc.StatusCode.UNAVAILABLE and e.value.message
    assert len(e.value.failures) == 40 and e.value.replies == [None] * 40
    assert elapsed < 2 * 1.0 + 1.0


@pytest.mark.skipif(not BUILT, reason="kgclient_native is not built")
def test_the_native_channel_refuses_bad_arguments_without_crashing():
    native = client_module.kgclient_native
    channel = native.Channel("127.0.0.1:1")
    with pytest.raises(TypeError):
        channel.call("/grpc.health.v1.Health/Check", 12, 1.0)
    with pytest.raises(TypeError, match="metadata"):
        channel.call("/grpc.health.v1.Health/Check", b"", 1.0, [("only-a-key",)])
    with pytest.raises(TypeError):
        channel.call_many("/grpc.health.v1.Health/Check", [b"", None], 1.0)
    with pytest.raises(ValueError, match="max_in_flight"):
        channel.call_many("/grpc.health.v1.Health/Check", [b""], 1.0, (), 0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="timeout_s"):
            channel.call("/grpc.health.v1.Health/Check", b"", bad)
        with pytest.raises(ValueError, match="timeout_s"):
            channel.call_many("/grpc.health.v1.Health/Check", [b""], bad)
    code, details, reply = channel.call("/grpc.health.v1.Health/Check", b"", 0.5)
    assert code in (grpc.StatusCode.UNAVAILABLE.value[0],
                    grpc.StatusCode.DEADLINE_EXCEEDED.value[0]) and details and reply is None
    assert channel.call_many("/grpc.health.v1.Health/Check", [], 1.0) == []
    channel.close()
    with pytest.raises(ValueError, match="closed"):
        channel.call("/grpc.health.v1.Health/Check", b"", 1.0)
    with pytest.raises(TypeError):
        native.Channel("127.0.0.1:1", tls=True, root_certificates=5)
    with pytest.raises(ValueError, match="out of range"):
        native.Channel("127.0.0.1:1", int_options=[("grpc.max_receive_message_length", 1 << 40)])


@pytest.mark.skipif(not BUILT, reason="kgclient_native is not built")
def test_an_unknown_method_is_unimplemented(cluster):
    with KgClient(cluster.address, transport="native") as kg:
        code, details, _ = kg._native.call("/kg.v1.GraphService/NoSuchMethod", b"", 5.0)
    assert code == grpc.StatusCode.UNIMPLEMENTED.value[0]


FORK_SCRIPT = r'''
import os, sys
from kgclient import KgClient, client
parent = KgClient(sys.argv[1], deadline_s=5)
assert parent.native and parent.health() == "SERVING"
pid = os.fork()
if pid == 0:  # gRPC C++ does not survive fork(): the child's clients use grpcio
    child = KgClient(sys.argv[1], deadline_s=5)
    assert not child.native and child.health() == "SERVING"
    assert not parent.native and parent.health() == "SERVING"  # the inherited client too
    try:
        KgClient(sys.argv[1], transport="native")
        raise SystemExit("transport='native' was accepted in a forked child")
    except ValueError as e:
        assert "fork" in str(e)
    try:
        parent._native.call("/grpc.health.v1.Health/Check", b"", 1.0)
        raise SystemExit("the parent's native channel served in the child")
    except RuntimeError as e:
        assert "fork" in str(e)
    print("child ok", flush=True)
    sys.exit(0)  # a normal exit: the inherited channel is not torn down
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert parent.health() == "SERVING"
print("parent ok", flush=True)
'''


@pytest.mark.skipif(not BUILT, reason="kgclient_native is not built")
def test_a_forked_child_uses_grpcio_and_never_hangs(cluster):
    result = subprocess.run([sys.executable, "-c", FORK_SCRIPT, cluster.address],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "child ok" in result.stdout and "parent ok" in result.stdout


CLOSE_SCRIPT = r'''
import socket, sys, threading, time
import kgclient_native
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(64)  # accepts, never answers: calls end at their deadline
target = f"127.0.0.1:{silent.getsockname()[1]}"
for _ in range(5):
    channel = kgclient_native.Channel(target)
    outcomes = []
    worker = threading.Thread(target=lambda: outcomes.extend(channel.call_many(
        "/grpc.health.v1.Health/Check", [b""] * 64, 0.3, (), 64)))
    worker.start()
    time.sleep(0.1)
    channel.close()  # the calls in flight now hold the channel's last references
    del channel
    worker.join()
    assert len(outcomes) == 64 and all(code != 0 for code, _, _ in outcomes)
print("survived", flush=True)
'''


@pytest.mark.skipif(not BUILT, reason="kgclient_native is not built")
def test_closing_a_channel_with_calls_in_flight_never_crashes():
    for run in range(4):
        result = subprocess.run([sys.executable, "-c", CLOSE_SCRIPT], capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode == 0 and "survived" in result.stdout, \
            f"run {run}: {result.returncode} {result.stdout}{result.stderr}"
