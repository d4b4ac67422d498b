"""The client against live servers, in both modes (the `cluster` fixture): each test writes
its own ids, so tests share a cluster without seeing each other's data."""
import json
import socket
import threading
import time

import grpc
import pytest

from conftest import Server, assert_fails_within, free_port
from kgclient import (KgClient, KgError, KgItemError, RetryPolicy, edge, entity, hop, key,
                      key_text)
from kgclient import client as client_module
from kgclient_proto.kg.v1 import graph_pb2
from kgclient_proto.kg.v1.types_pb2 import PURCHASED

T0 = 1_700_000_000_000  # edge times (ms)


def test_health(kg):
    assert kg.health() == "SERVING"


def test_upsert_then_get_returns_what_was_written(kg):
    written = [entity(f"PRODUCT:{1000 + i}", f"Shoe {i}", {"color": "red" if i % 2 else "blue"},
                      {"price": 10.5 + i}) for i in range(5)]
    assert kg.upsert_entities(written) == 5
    got = kg.get_entities([f"PRODUCT:{1000 + i}" for i in range(5)] + ["PRODUCT:1999"])
    assert [e.name for e in got[:5]] == [f"Shoe {i}" for i in range(5)]
    assert got[1].attributes["color"] == "red" and got[2].attributes["color"] == "blue"
    assert got[4].metrics["price"] == pytest.approx(14.5)
    assert got[5] is None  # does not exist
    # A field selection returns only those fields.
    only = kg.get_entities([("product", 1003)], fields=["attributes.color"])[0]
    assert only.name == "" and dict(only.attributes) == {"color": "red"}
    # merge keeps what the update does not name.
    kg.upsert_entities([entity("PRODUCT:1003", attributes={"size": "42"})], merge=True)
    merged = kg.get_entities(["PRODUCT:1003"])[0]
    assert merged.name == "Shoe 3" and dict(merged.attributes) == {"color": "red", "size": "42"}
    assert kg.delete_entities(["PRODUCT:1003", "PRODUCT:1999"]) == 1  # one existed
    assert kg.get_entities(["PRODUCT:1003"]) == [None]


def test_more_keys_than_one_call_takes_are_split(kg):
    kg.upsert_entities([entity(f"BRAND:{2000 + i}", f"B{i}") for i in range(1500)])
    keys = [f"BRAND:{2000 + i}" for i in range(1600)]  # 100 do not exist
    got = kg.get_entities(keys)
    assert len(got) == 1600
    assert [e.name for e in got[:1500]] == [f"B{i}" for i in range(1500)]
    assert got[1500:] == [None] * 100


def test_neighbors_pages_every_edge_once_newest_first(kg):
    buyer = "BUYER:3000"
    edges = [edge(buyer, "PURCHASED", f"PRODUCT:{3000 + i}", time_ms=T0 + i * 1000, weight=i)
             for i in range(45)]
    assert kg.upsert_edges(edges) == 45
    got = list(kg.neighbors(buyer, "purchased", page_size=10))
    assert [n.key.id for n in got] == [3000 + i for i in reversed(range(45))]
    assert [n.time_ms for n in got] == sorted((n.time_ms for n in got), reverse=True)
    # Bounded: two pages at most; and the IN side of one edge.
    assert len(list(kg.neighbors(buyer, "PURCHASED", page_size=10, max_pages=2))) == 20
    back = list(kg.neighbors("PRODUCT:3044", "PURCHASED", direction="in"))
    assert [key_text(n.key) for n in back] == [buyer]
    counts = kg.count_neighbors([buyer], edge_types=["PURCHASED"], directions=["OUT"])
    assert counts[0].counts[0].count == 45
    # Deleting edges: by (src, type, dst).
    assert kg.delete_edges([(buyer, "PURCHASED", "PRODUCT:3000")] * 2) == 1
    assert len(list(kg.neighbors(buyer, "PURCHASED", page_size=1000))) == 44


def test_traverse_ranks_by_shared_buyers(kg):
    # Buyers 4001 and 4002 bought 4001 and 4002; buyer 4001 also bought 4003.
    edges = [edge(f"BUYER:{b}", "PURCHASED", f"PRODUCT:{p}", time_ms=T0)
             for b, p in [(4001, 4001), (4001, 4002), (4002, 4001), (4002, 4002), (4001, 4003)]]
    kg.upsert_edges(edges)
    resp = kg.traverse(["PRODUCT:4001"], [("PURCHASED", "in"), hop("PURCHASED", "out")])
    ranked = [(key_text(r.key), r.path_count) for r in resp.results]
    assert ranked == [("PRODUCT:4002", 2), ("PRODUCT:4003", 1)]


def test_import_streams_records_with_progress(kg):
    records = []
    for i in range(2500):
        p = {"type": "PRODUCT", "id": str(5000 + i)}
        if i % 3 == 0:
            records.append({"entity": {"key": p, "name": f"Imported {i}"}})
        elif i % 3 == 1:  # a JSONL line of the import format
            records.append(json.dumps({"entity": {"key": p, "name": f"Imported {i}"}}))
        else:
            records.append(entity(f"PRODUCT:{5000 + i}", f"Imported {i}"))
    records.insert(7, "# a comment line is skipped")
    progress = []
    resp = kg.import_records(iter(records), batch_size=1000, on_progress=progress.append)
    assert progress == [1000, 2000, 2500]
    assert (resp.records_received, resp.entities_upserted, resp.records_rejected) == (2500, 2500, 0)
    got = kg.get_entities([f"PRODUCT:{5000 + i}" for i in (0, 1, 2, 2499)])
    assert [e.name for e in got] == ["Imported 0", "Imported 1", "Imported 2", "Imported 2499"]
    # A bad record is rejected with a message naming the field; the others are written.
    bad = [edge("BUYER:5001", "PURCHASED", "PRODUCT:5001", time_ms=T0),
           {"edge": {"src": {"type": "PRODUCT", "id": "5001"}, "type": "PURCHASED",
                     "dst": {"type": "PRODUCT", "id": "5002"}}}]
    resp = kg.import_records(bad, max_errors=5)
    assert (resp.edges_upserted, resp.records_rejected) == (1, 1)
    assert resp.first_errors[0].record_index == 1
    assert "src" in resp.first_errors[0].message


def test_server_errors_surface_unchanged(kg, cluster):
    request = graph_pb2.GetNeighborsRequest(keys=[key("BUYER:1")], edge_type=PURCHASED,
                                            limit=5000)
    with pytest.raises(grpc.RpcError) as raw:
        kg.graph.GetNeighbors(request, timeout=5)
    with pytest.raises(KgError) as ours:
        kg.call(kg.graph.GetNeighbors, request)
    assert ours.value.code == raw.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ours.value.message == raw.value.details()
    assert "limit" in ours.value.message
    assert ours.value.method == "/kg.v1.GraphService/GetNeighbors"


def test_rejected_items_raise_with_the_rest_written(kg):
    good = edge("BUYER:6001", "PURCHASED", "PRODUCT:6001", time_ms=T0)
    wrong = edge("PRODUCT:6001", "PURCHASED", "PRODUCT:6002", time_ms=T0)  # src must be a buyer
    with pytest.raises(KgItemError) as e:
        kg.upsert_edges([good, wrong])
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f[0] for f in e.value.failures] == [1]
    assert "src" in e.value.failures[0][2]
    assert len(list(kg.neighbors("BUYER:6001", "PURCHASED"))) == 1


def test_a_key_that_could_not_be_read_raises_with_its_index():
    # GetEntities results: found, not found (None), and one whose partition failed: the
    # failure names the key's index in the caller's list (offset: a later chunk).
    resp = graph_pb2.GetEntitiesResponse()
    found = resp.results.add(found=True)
    found.entity.name = "shoe"
    resp.results.add()
    resp.results.add(status={"code": 14, "message": "partition 2 unreachable"})
    with pytest.raises(KgItemError) as e:
        client_module._found_entities(resp, offset=1000)
    assert e.value.code == grpc.StatusCode.UNAVAILABLE
    assert e.value.failures == [(1002, grpc.StatusCode.UNAVAILABLE, "partition 2 unreachable")]
    del resp.results[2]
    assert [x.name if x else None for x in client_module._found_entities(resp)] == ["shoe", None]


def test_bad_arguments_are_refused_before_any_call(kg):
    with pytest.raises(ValueError, match="TYPE:ID"):
        kg.get_entities(["PRODUCT-1"])
    with pytest.raises(ValueError, match="EdgeType"):
        list(kg.neighbors("BUYER:1", "BOUGHT"))
    with pytest.raises(ValueError, match="page_size"):
        list(kg.neighbors("BUYER:1", "PURCHASED", page_size=0))


def test_categorize_without_a_model_says_to_train(kg):
    with pytest.raises(KgError) as e:
        kg.categorize(["red running shoe"])
    assert e.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "TrainModels" in e.value.message


# --- failures of the connection: no cluster needed ---------------------------------------

def test_a_dead_server_fails_within_the_deadline():
    # Nothing listens on the port.
    assert_fails_within(f"127.0.0.1:{free_port()}", 1.0, lambda c: c.get_entities(["PRODUCT:1"]))


def test_a_wrong_address_fails_with_a_clear_message():
    assert_fails_within("no-such-host.invalid:50051", 2.0, lambda c: c.health())


def test_a_server_that_never_answers_fails_at_the_deadline():
    # A socket that accepts connections and never speaks HTTP/2.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        assert_fails_within(f"127.0.0.1:{silent.getsockname()[1]}", 1.0,
                            lambda c: c.get_entities(["PRODUCT:1"]), slack_s=0.8)


def test_unavailable_is_retried_until_the_server_comes_up():
    port = free_port()
    holder = {}

    def start_later():
        time.sleep(1.0)
        holder["server"] = Server(holder["dir"], "late", ["--role=all", f"--port={port}"])

    import tempfile
    with tempfile.TemporaryDirectory() as directory:
        holder["dir"] = directory
        thread = threading.Thread(target=start_later)
        retry = RetryPolicy(max_attempts=100, initial_backoff_s=0.05, max_backoff_s=0.3)
        with KgClient(f"127.0.0.1:{port}", deadline_s=30, retry=retry) as client:
            start = time.monotonic()
            thread.start()
            try:
                assert client.get_entities(["PRODUCT:1"]) == [None]
                assert time.monotonic() - start > 0.9
                # Writes are retried too; an Import is not (and needs none here).
                assert client.upsert_entities([entity("PRODUCT:1", "late")]) == 1
            finally:
                thread.join()
                holder["server"].stop()


def test_no_retry_when_the_policy_allows_one_attempt():
    port = free_port()
    with KgClient(f"127.0.0.1:{port}", deadline_s=5,
                  retry=RetryPolicy(max_attempts=1)) as client:
        start = time.monotonic()
        with pytest.raises(KgError) as e:
            client.health()
    assert e.value.code == grpc.StatusCode.UNAVAILABLE
    assert time.monotonic() - start < 1.0


def test_token_is_sent_as_bearer_metadata(monkeypatch):
    monkeypatch.setenv("KG_TOKEN", "from-env")
    with KgClient("127.0.0.1:1") as client:
        assert client.metadata == (("authorization", "Bearer from-env"),)
    with KgClient("127.0.0.1:1", token="given") as client:
        assert client.metadata == (("authorization", "Bearer given"),)
    with KgClient("127.0.0.1:1", token="") as client:  # none, KG_TOKEN or not
        assert client.metadata == ()
    monkeypatch.delenv("KG_TOKEN")
    with KgClient("127.0.0.1:1") as client:
        assert client.metadata == ()
    with pytest.raises(ValueError, match="^token: must be visible ASCII"):
        KgClient("127.0.0.1:1", token="two words")

