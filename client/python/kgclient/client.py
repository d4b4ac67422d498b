"""KgClient: a thin synchronous client of the kg.v1 services.

Every helper takes keys and names in short forms (kgclient.types), puts a deadline on the
call, retries UNAVAILABLE with exponential backoff and jitter when the call is idempotent
(reads, upserts, deletes; never Import or TrainModels), and raises KgError with the
server's status code and message unchanged. Items of a batch that fail raise KgItemError,
which keeps the whole reply. The raw stubs (`graph`, `knowledge`, `insight`, `admin`,
`health_stub`) reach every RPC; pass `metadata=client.metadata` to them when a token is set.

Unary calls go through the native transport (the `kgclient_native` extension: a gRPC C++
channel that takes serialized requests and returns serialized replies, with the
interpreter lock released while calls are on the wire) when it is built; otherwise, or
with transport="grpcio", through grpcio. Both give the same replies and the same errors;
streaming calls and the raw stubs always use grpcio.
"""
import collections
import dataclasses
import os
import random
import re
import time
from typing import Callable, Iterable, Iterator, List, Optional, Sequence

import grpc
from google.protobuf import field_mask_pb2, symbol_database

from kgclient import types as t
from kgclient.errors import KgCallsError, KgError, KgItemError, status_code
from kgclient_proto.grpc_health.v1 import health_pb2, health_pb2_grpc
from kgclient_proto.kg.v1 import (admin_pb2, admin_pb2_grpc, graph_pb2, graph_pb2_grpc,
                                  insight_pb2, insight_pb2_grpc, knowledge_pb2,
                                  knowledge_pb2_grpc)

try:  # built by CMake into build/client/python, or by pip with the package
    import kgclient_native
except ImportError:
    kgclient_native = None
# The process that started gRPC C++ (made the first native channel). gRPC C++ does not
# survive fork(), grpcio does: a process forked from it uses grpcio.
_native_pid = None


def native_available() -> bool:
    """Whether the native transport can serve in this process: built, and gRPC C++ was not
    started by a process this one was forked from."""
    return kgclient_native is not None and _native_pid in (None, os.getpid())

# The server's per-request limits (proto/kg/v1/graph.proto); larger batches are split.
MAX_BATCH = 1000
MAX_NEIGHBOR_PAGE = 1000
MAX_IMPORT_BATCH = 10000
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Calls of call_many in flight at once (the native transport's bound too).
MAX_IN_FLIGHT = 1024
TRANSPORTS = ("auto", "native", "grpcio")


def _unary_replies():
    """Method path ("/kg.v1.GraphService/GetEntities") -> reply class, for every unary RPC
    of the generated services: what the native transport parses replies into."""
    replies = {}
    for module in (graph_pb2, knowledge_pb2, insight_pb2, admin_pb2, health_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                if not m.client_streaming and not m.server_streaming:
                    replies[f"/{service.full_name}/{m.name}"] = \
                        symbol_database.Default().GetSymbol(m.output_type.full_name)
    return replies


_REPLIES = _unary_replies()
# A token goes into an HTTP/2 header: visible ASCII, no spaces (kgctl's are base64url).
_TOKEN = re.compile(r"[\x21-\x7e]+")


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Retries of UNAVAILABLE (server starting, draining or unreachable) for idempotent
    calls: at most `max_attempts` tries, sleeping a random 50..100% of a backoff that starts
    at `initial_backoff_s` and grows by `multiplier` up to `max_backoff_s`. Never past the
    call's deadline: when the next try cannot start before it, the last error is raised."""
    max_attempts: int = 4
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 2.0
    multiplier: float = 2.0


@dataclasses.dataclass(frozen=True)
class TlsOptions:
    """TLS for the channel: PEM bytes (or paths to PEM files). `root_certificates` None uses
    the system's roots; `certificate_chain` and `private_key` present a client certificate
    (mTLS); `server_name` overrides the name checked against the server's certificate."""
    root_certificates: Optional[object] = None
    certificate_chain: Optional[object] = None
    private_key: Optional[object] = None
    server_name: Optional[str] = None


def _pem(value):
    if value is None or isinstance(value, bytes):
        return value
    with open(value, "rb") as f:
        return f.read()


def _field_mask(fields: Optional[Sequence[str]]):
    return field_mask_pb2.FieldMask(paths=list(fields)) if fields else None


def _chunks(items: Sequence, size: int):
    for i in range(0, len(items), size):
        yield i, items[i:i + size]


def _method_name(method) -> str:
    name = getattr(method, "_method", b"")
    return name.decode() if isinstance(name, bytes) else str(name)


def _check_indexed(method: str, indexed_statuses, response, offset: int = 0):
    """Raises KgItemError when an ItemStatus of the (index, status) pairs is not OK."""
    failures = [(offset + i, status_code(s.code), s.message) for i, s in indexed_statuses
                if s.code != 0]
    if failures:
        raise KgItemError(method, failures, response)


def _check_items(method: str, statuses, response, offset: int = 0):
    """Raises KgItemError when an ItemStatus of `statuses` is not OK."""
    _check_indexed(method, enumerate(statuses), response, offset)


def _found_entities(resp, offset: int = 0) -> List[Optional[t.Entity]]:
    """The entity of each result of a GetEntitiesResponse, None where not found; raises
    KgItemError (as _check_items) when a result's status is not OK. One pass over the
    results, reading a status only where the entity was not found (found implies OK)."""
    out: List[Optional[t.Entity]] = []
    missing = []  # (index, status) of the results not found
    for i, r in enumerate(resp.results):
        if r.found:
            out.append(r.entity)
        else:
            out.append(None)
            missing.append((i, r.status))
    _check_indexed("GetEntities", missing, resp, offset)
    return out


class KgClient:
    """A client of one kg_server (role all or frontend).

    target: "HOST:PORT". deadline_s: the default deadline of a call (each helper also
    takes `timeout`). token: sent as "authorization: Bearer TOKEN" on every call (servers
    started with --auth_tokens require one); when None, the environment's KG_TOKEN (if set
    and not empty); "" sends none. A token of other than visible ASCII raises ValueError
    (without the token in the message). tls: TlsOptions for a TLS channel, None for plain
    text. options: extra gRPC channel arguments (name, int or str). transport: "auto" (the
    native transport for unary calls when `kgclient_native` is built, else grpcio),
    "native" (ValueError when it is not built) or "grpcio"; `native` tells which is used.
    """

    def __init__(self, target: str, *, deadline_s: float = 10.0,
                 retry: RetryPolicy = RetryPolicy(), tls: Optional[TlsOptions] = None,
                 token: Optional[str] = None, options: Sequence = (),
                 transport: str = "auto"):
        if deadline_s <= 0:
            raise ValueError("deadline_s: must be > 0")
        if transport not in TRANSPORTS:
            raise ValueError(f"transport: must be one of {', '.join(TRANSPORTS)}, "
                             f"got {transport!r}")
        if transport == "native" and kgclient_native is None:
            raise ValueError("transport: the native transport (kgclient_native) is not built "
                             "(build target kgclient_native, or pip install the package with a "
                             "C++ compiler and libgrpc++-dev)")
        if transport == "native" and not native_available():
            raise ValueError("transport: the native transport cannot serve in a process forked "
                             "after it started (gRPC C++ does not survive fork()): use "
                             "transport='grpcio' here, or start processes with 'spawn'")
        self.target = target
        self.deadline_s = deadline_s
        self.retry = retry
        source = "token"
        if token is None:
            source, token = "KG_TOKEN", os.environ.get("KG_TOKEN")
        if token and not _TOKEN.fullmatch(token):
            raise ValueError(f"{source}: must be visible ASCII characters (no spaces or line ends)")
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        channel_options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # Reconnect soon after a server (re)starts, so a retry can reach it.
            ("grpc.initial_reconnect_backoff_ms", int(retry.initial_backoff_s * 1000) or 1),
            ("grpc.min_reconnect_backoff_ms", int(retry.initial_backoff_s * 1000) or 1),
            ("grpc.max_reconnect_backoff_ms", int(retry.max_backoff_s * 1000) or 1),
        ]
        if tls is not None and tls.server_name:
            channel_options.append(("grpc.ssl_target_name_override", tls.server_name))
        channel_options.extend(options)
        pems = {} if tls is None else {
            "root_certificates": _pem(tls.root_certificates),
            "private_key": _pem(tls.private_key),
            "certificate_chain": _pem(tls.certificate_chain)}
        if tls is None:
            self.channel = grpc.insecure_channel(target, options=channel_options)
        else:
            credentials = grpc.ssl_channel_credentials(**pems)
            self.channel = grpc.secure_channel(target, credentials, options=channel_options)
        self._native = None
        if transport != "grpcio" and native_available():
            global _native_pid
            _native_pid = os.getpid()
            self._native_pid = _native_pid
            self._native = kgclient_native.Channel(
                target, tls=tls is not None, **pems,
                int_options=[(k, v) for k, v in channel_options if isinstance(v, int)],
                string_options=[(k, v) for k, v in channel_options if isinstance(v, str)])
        self.graph = graph_pb2_grpc.GraphServiceStub(self.channel)
        self.knowledge = knowledge_pb2_grpc.KnowledgeServiceStub(self.channel)
        self.insight = insight_pb2_grpc.InsightServiceStub(self.channel)
        self.admin = admin_pb2_grpc.AdminServiceStub(self.channel)
        self.health_stub = health_pb2_grpc.HealthStub(self.channel)

    @property
    def _live_native(self):
        """The native channel, when this process made it (a fork's child uses grpcio)."""
        if self._native is not None and self._native_pid == os.getpid():
            return self._native
        return None

    @property
    def native(self) -> bool:
        """Whether unary calls go through the native transport."""
        return self._live_native is not None

    def close(self) -> None:
        self.channel.close()
        if self._live_native is not None:
            self._native.close()

    def __enter__(self) -> "KgClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the call frame -------------------------------------------------------------------

    def call(self, method: Callable, request, *, timeout: Optional[float] = None,
             idempotent: bool = True):
        """Calls a unary stub method (e.g. `client.insight.TopProducts`) with the client's
        deadline, token and retries; raises KgError."""
        timeout = self.deadline_s if timeout is None else timeout
        name = _method_name(method)
        native = self._live_native
        reply_class = _REPLIES.get(name) if native is not None else None
        payload = request.SerializeToString() if reply_class is not None else None
        deadline = time.monotonic() + timeout
        backoff = self.retry.initial_backoff_s
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KgError(grpc.StatusCode.DEADLINE_EXCEEDED,
                              f"deadline of {timeout:g} s passed before attempt {attempt}", name)
            if reply_class is not None:
                code, details, reply = native.call(name, payload, remaining, self.metadata)
                if code == 0:
                    return reply_class.FromString(reply)
                error = KgError(status_code(code), details, name)
            else:
                try:
                    return method(request, timeout=remaining, metadata=self.metadata)
                except grpc.RpcError as e:
                    error = KgError.from_rpc_error(e, name)
            retryable = idempotent and error.code == grpc.StatusCode.UNAVAILABLE
            if not retryable or attempt >= self.retry.max_attempts:
                raise error
            pause = backoff * random.uniform(0.5, 1.0)
            if time.monotonic() + pause >= deadline:
                raise error
            time.sleep(pause)
            backoff = min(backoff * self.retry.multiplier, self.retry.max_backoff_s)

    def call_many(self, method: Callable, requests: Sequence, *, max_in_flight: int = 32,
                  timeout: Optional[float] = None, idempotent: bool = True) -> list:
        """Calls a unary stub method once per request, up to `max_in_flight` (1..1024) calls
        at a time, and returns the replies in order. Each call has its own deadline
        (`timeout`, default the client's); a call that fails UNAVAILABLE is retried alone
        by `call` when idempotent (all such retries within one more `timeout`). When calls fail, KgCallsError (the first failure's code
        and message) lists every failure and keeps the replies of the others."""
        if not 1 <= max_in_flight <= MAX_IN_FLIGHT:
            raise ValueError(f"max_in_flight: must be 1..{MAX_IN_FLIGHT}, got {max_in_flight}")
        timeout = self.deadline_s if timeout is None else timeout
        if not 0 < timeout < float("inf"):
            raise ValueError(f"timeout: must be > 0 s, got {timeout}")
        name = _method_name(method)
        requests = list(requests)
        replies, failures, unavailable = [None] * len(requests), [], []

        def failed(i, error):
            if idempotent and error.code == grpc.StatusCode.UNAVAILABLE:
                unavailable.append((i, error))
            else:
                failures.append((i, error))

        native = self._live_native
        reply_class = _REPLIES.get(name) if native is not None else None
        if reply_class is not None:
            outcomes = native.call_many(
                name, [r.SerializeToString() for r in requests], timeout, self.metadata,
                max_in_flight)
            for i, (code, details, reply) in enumerate(outcomes):
                if code == 0:
                    replies[i] = reply_class.FromString(reply)
                else:
                    failed(i, KgError(status_code(code), details, name))
        else:
            window = collections.deque()

            def settle():
                i, future = window.popleft()
                try:
                    replies[i] = future.result()
                except grpc.RpcError as e:
                    failed(i, KgError.from_rpc_error(e, name))

            for i, request in enumerate(requests):
                if len(window) >= max_in_flight:
                    settle()
                window.append((i, method.future(request, timeout=timeout,
                                                metadata=self.metadata)))
            while window:
                settle()
        # The calls that found no server are retried one by one (`call`: backoff), all
        # within one more `timeout`, so a dead server costs at most twice the deadline.
        retry_until = time.monotonic() + timeout
        for i, error in unavailable:
            remaining = retry_until - time.monotonic()
            if remaining <= 0:
                failures.append((i, error))
                continue
            try:
                replies[i] = self.call(method, requests[i], timeout=remaining)
            except KgError as again:
                failures.append((i, again))
        if failures:
            raise KgCallsError(name, sorted(failures, key=lambda f: f[0]), replies)
        return replies

    # --- health ---------------------------------------------------------------------------

    def health(self, service: str = "", *, timeout: Optional[float] = None) -> str:
        """grpc.health.v1 status of `service` ("" = the server): "SERVING", "NOT_SERVING"."""
        resp = self.call(self.health_stub.Check, health_pb2.HealthCheckRequest(service=service),
                         timeout=timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)

    # --- entities and edges ---------------------------------------------------------------

    def get_entities(self, keys: Iterable[t.KeyLike], *, fields: Optional[Sequence[str]] = None,
                     timeout: Optional[float] = None) -> List[Optional[t.Entity]]:
        """The entity of each key, in order; None where it does not exist. `fields` selects
        fields ("name", "attributes.color", ...; default all). More than 1000 keys are sent
        in several calls. KgItemError when a key could not be looked up (e.g. its partition
        is unreachable): never reported as "does not exist"."""
        keys = [t.key(k, "keys") for k in keys]
        out: List[Optional[t.Entity]] = []
        for offset, chunk in _chunks(keys, MAX_BATCH):
            req = graph_pb2.GetEntitiesRequest(keys=chunk, read_mask=_field_mask(fields))
            resp = self.call(self.graph.GetEntities, req, timeout=timeout)
            out.extend(_found_entities(resp, offset))
        return out

    def get_entities_many(self, key_batches: Iterable[Iterable[t.KeyLike]], *,
                          fields: Optional[Sequence[str]] = None, max_in_flight: int = 32,
                          timeout: Optional[float] = None) -> List[List[Optional[t.Entity]]]:
        """get_entities for many batches of keys (at most 1000 each), one GetEntities call
        per batch with up to `max_in_flight` calls at a time (call_many): for bulk reads,
        e.g. the features of many users' candidates. Returns one list per batch, in order.
        KgCallsError when calls fail; KgItemError (indexes into the first such batch's keys,
        `response` its reply) when a key could not be looked up."""
        requests, asked = [], []  # an empty batch needs no call
        out: List[List[Optional[t.Entity]]] = []
        for b, batch in enumerate(key_batches):
            keys = [t.key(k, f"key_batches[{b}]") for k in batch]
            if len(keys) > MAX_BATCH:
                raise ValueError(f"key_batches[{b}]: at most {MAX_BATCH} keys, got {len(keys)}")
            out.append([])
            if keys:
                asked.append(b)
                requests.append(graph_pb2.GetEntitiesRequest(keys=keys,
                                                             read_mask=_field_mask(fields)))
        replies = self.call_many(self.graph.GetEntities, requests, max_in_flight=max_in_flight,
                                 timeout=timeout)
        for b, resp in zip(asked, replies):
            out[b] = _found_entities(resp)
        return out

    def upsert_entities(self, entities: Iterable[t.Entity], *, merge: bool = False,
                        timeout: Optional[float] = None) -> int:
        """Writes entities (kgclient.types.entity builds one); with merge, attributes and
        metrics are merged key by key. Returns the number written; KgItemError names the
        rejected ones (the others are written)."""
        return self._write("UpsertEntities", self.graph.UpsertEntities, list(entities),
                           lambda chunk: graph_pb2.UpsertEntitiesRequest(entities=chunk,
                                                                         merge=merge), timeout)

    def delete_entities(self, keys: Iterable[t.KeyLike], *,
                        timeout: Optional[float] = None) -> int:
        """Deletes entities and their edges. Returns how many existed (a key that did not
        is not an error: deletes are idempotent)."""
        keys = [t.key(k, "keys") for k in keys]
        return self._write("DeleteEntities", self.graph.DeleteEntities, keys,
                           lambda chunk: graph_pb2.DeleteEntitiesRequest(keys=chunk), timeout,
                           status_of=lambda r: r.status)

    def upsert_edges(self, edges: Iterable[t.Edge], *, timeout: Optional[float] = None) -> int:
        """Writes edges (kgclient.types.edge builds one). Returns the number written."""
        return self._write("UpsertEdges", self.graph.UpsertEdges, list(edges),
                           lambda chunk: graph_pb2.UpsertEdgesRequest(edges=chunk), timeout)

    def delete_edges(self, edges: Iterable, *, timeout: Optional[float] = None) -> int:
        """Deletes edges given as Edge, EdgeKey or (src, type, dst). Returns how many
        existed."""
        keys = [t.edge_key(e) for e in edges]
        return self._write("DeleteEdges", self.graph.DeleteEdges, keys,
                           lambda chunk: graph_pb2.DeleteEdgesRequest(edges=chunk), timeout)

    def _write(self, name, method, items, make_request, timeout, status_of=lambda r: r) -> int:
        """Sends `items` in calls of at most MAX_BATCH; returns the items answered OK.
        NOT_FOUND (a delete of nothing) is not a failure; any other item error raises
        KgItemError once every call was made, with the replies."""
        failures, replies, done = [], [], 0
        for offset, chunk in _chunks(items, MAX_BATCH):
            resp = self.call(method, make_request(chunk), timeout=timeout)
            replies.append(resp)
            for i, result in enumerate(resp.results):
                status = status_of(result)
                if status.code == 0:
                    done += 1
                elif status_code(status.code) != grpc.StatusCode.NOT_FOUND:
                    failures.append((offset + i, status_code(status.code), status.message))
        if failures:
            raise KgItemError(name, failures, replies)
        return done

    # --- neighbors and traversal ----------------------------------------------------------

    def neighbors(self, key: t.KeyLike, edge_type: t.EnumLike, *, direction: t.EnumLike = "OUT",
                  since_ms: int = 0, until_ms: int = 0, page_size: int = 100,
                  include_entities: bool = False, fields: Optional[Sequence[str]] = None,
                  max_pages: Optional[int] = None,
                  timeout: Optional[float] = None) -> Iterator[graph_pb2.Neighbor]:
        """Every edge of one type and direction of `key`, newest first, fetched page by page
        (`page_size` 1..1000 per call) as the iterator is consumed; stable under concurrent
        writes (the server's cursor). `max_pages` bounds the calls. Each page's call gets
        its own deadline."""
        if not 1 <= page_size <= MAX_NEIGHBOR_PAGE:
            raise ValueError(f"page_size: must be 1..{MAX_NEIGHBOR_PAGE}, got {page_size}")
        req = graph_pb2.GetNeighborsRequest(
            keys=[t.key(key)], edge_type=t.edge_type(edge_type), direction=t.direction(direction),
            min_time_ms=since_ms, max_time_ms=until_ms, limit=page_size,
            include_entities=include_entities, entity_read_mask=_field_mask(fields))
        pages = 0
        while max_pages is None or pages < max_pages:
            resp = self.call(self.graph.GetNeighbors, req, timeout=timeout)
            pages += 1
            result = resp.results[0]
            _check_items("GetNeighbors", [result.status], resp)
            yield from result.neighbors
            if not result.next_page_token:
                return
            req.page_token = result.next_page_token

    def count_neighbors(self, keys: Iterable[t.KeyLike], *, edge_types: Sequence = (),
                        directions: Sequence = (), since_ms: int = 0, until_ms: int = 0,
                        timeout: Optional[float] = None) -> List[graph_pb2.KeyCounts]:
        """Edge counts per type and direction of each key (default: every type the schema
        allows, both directions), in order."""
        req = graph_pb2.CountNeighborsRequest(
            keys=[t.key(k, "keys") for k in keys],
            edge_types=[t.edge_type(e, "edge_types") for e in edge_types],
            directions=[t.direction(d, "directions") for d in directions],
            min_time_ms=since_ms, max_time_ms=until_ms)
        resp = self.call(self.graph.CountNeighbors, req, timeout=timeout)
        _check_items("CountNeighbors", [r.status for r in resp.results], resp)
        return list(resp.results)

    def traverse(self, start: Iterable[t.KeyLike], hops: Sequence, *, max_results: int = 0,
                 ranking: t.EnumLike = "PATH_COUNT", include_start: bool = False,
                 include_entities: bool = False, fields: Optional[Sequence[str]] = None,
                 max_frontier: int = 0,
                 timeout: Optional[float] = None) -> graph_pb2.TraverseResponse:
        """A multi-hop walk from `start`, ranked by PATH_COUNT or WEIGHT_SUM. Each hop is a
        Hop, kgclient.types.hop(...), or a tuple of hop()'s arguments, e.g.
        [("PURCHASED", "in"), ("PURCHASED", "out")] for "bought by the same buyers"."""
        hop_messages = [h if isinstance(h, t.Hop) else t.hop(*h) if isinstance(h, tuple)
                        else t.hop(h) for h in hops]
        req = graph_pb2.TraverseRequest(
            start=[t.key(k, "start") for k in start], hops=hop_messages,
            max_results=max_results,
            ranking=graph_pb2.TraverseRequest.Ranking.Value(str(ranking).upper())
            if isinstance(ranking, str) else ranking,
            include_start=include_start, include_entities=include_entities,
            entity_read_mask=_field_mask(fields), max_frontier=max_frontier)
        return self.call(self.graph.Traverse, req, timeout=timeout)

    # --- bulk import ----------------------------------------------------------------------

    def import_records(self, records: Iterable, *, batch_size: int = 1000, max_errors: int = 0,
                       on_progress: Optional[Callable[[int], None]] = None,
                       timeout: float = 86400.0) -> graph_pb2.ImportResponse:
        """Streams records (ImportRecord, Entity, Edge, dict or JSONL line of
        docs/FORMATS.md; read lazily, so a file object works) to GraphService.Import in
        messages of `batch_size` (1..10000) records. on_progress(records_sent) runs after
        each message. The server stops at the first rejected record unless `max_errors` are
        tolerated; the reply counts what was written and lists the first errors. Not
        retried: re-running an import is safe (upserts)."""
        if not 1 <= batch_size <= MAX_IMPORT_BATCH:
            raise ValueError(f"batch_size: must be 1..{MAX_IMPORT_BATCH}, got {batch_size}")

        def messages():
            sent, batch, first = 0, [], True
            for record in records:
                if isinstance(record, (str, bytes)):
                    text = record.strip()
                    if not text or text.startswith(b"#" if isinstance(text, bytes) else "#"):
                        continue
                batch.append(t.import_record(record))
                if len(batch) == batch_size:
                    yield self._import_message(batch, first, max_errors)
                    sent, batch, first = sent + len(batch), [], False
                    if on_progress:
                        on_progress(sent)
            if batch or first:
                yield self._import_message(batch, first, max_errors)
                if on_progress:
                    on_progress(sent + len(batch))

        try:
            return self.graph.Import(messages(), timeout=timeout, metadata=self.metadata)
        except grpc.RpcError as e:
            raise KgError.from_rpc_error(e, "/kg.v1.GraphService/Import") from None

    @staticmethod
    def _import_message(batch, first, max_errors):
        req = graph_pb2.ImportRequest(records=batch)
        if first:
            req.options.max_errors = max_errors
        return req

    # --- knowledge ------------------------------------------------------------------------

    def categorize(self, texts: Iterable = (), keys: Iterable[t.KeyLike] = (), *,
                   top_k: int = 0,
                   timeout: Optional[float] = None) -> knowledge_pb2.CategorizeResponse:
        """Categories of product texts (a title, a ProductText or a dict with title,
        description, brand, attributes) and of keys (a PRODUCT by its stored data; a
        MERCHANT, INFLUENCER or CONTENT by the mix of what it sells, promotes or features).
        Results are in order: texts, then keys. FAILED_PRECONDITION until TrainModels has
        run. KgItemError when an item fails (e.g. an unknown key)."""
        items = [t.knowledge_item({"title": x} if isinstance(x, str) else x) for x in texts]
        items += [t.KnowledgeItem(key=t.key(k, "keys")) for k in keys]
        req = knowledge_pb2.CategorizeRequest(items=items, top_k=top_k)
        resp = self.call(self.knowledge.Categorize, req, timeout=timeout)
        _check_items("Categorize", [r.status for r in resp.results], resp)
        return resp

    def train_models(self, *, on_progress: Optional[Callable] = None, timeout: float = 3600.0,
                     **request_fields) -> admin_pb2.TrainModelsProgress:
        """Runs AdminService.TrainModels (fields of TrainModelsRequest as keyword arguments;
        their defaults are good) and returns the last message (`done`, the new
        model_version and the validation figures). on_progress gets every message. Not
        retried."""
        req = admin_pb2.TrainModelsRequest(**request_fields)
        last = None
        try:
            for message in self.admin.TrainModels(req, timeout=timeout, metadata=self.metadata):
                last = message
                if on_progress:
                    on_progress(message)
        except grpc.RpcError as e:
            raise KgError.from_rpc_error(e, "/kg.v1.AdminService/TrainModels") from None
        if last is None or not last.done:
            raise KgError(grpc.StatusCode.UNKNOWN, "TrainModels ended without its last message",
                          "/kg.v1.AdminService/TrainModels")
        return last
