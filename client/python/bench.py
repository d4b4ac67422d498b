#!/usr/bin/env python3
"""GetEntities throughput of the Python client against a running server, for comparison
with kg_bench (the C++ load generator) at the same settings:

    bench.py --addr=127.0.0.1:50051 --batch=100 --concurrency=8 --duration=10
    kg_bench --addr=127.0.0.1:50051 --rpc=GetEntities --batch=100 --concurrency=8 \\
             --duration=10 --decode=full --baseline=false

Closed loop: `--concurrency` calls in flight, spread over `--processes` processes (each
with its own channel and threads: one Python process is bound by its interpreter lock),
each call `KgClient.get_entities` of `--batch` uniformly random PRODUCT keys 1..--products
(0 reads the count from GetClusterInfo), every reply fully decoded. `--transport` picks
the client's transport (auto: native when built). With `--pipeline`, each process makes
its calls with `get_entities_many` instead of threads: rounds of `--round` calls, its share
of `--concurrency` in flight (latencies are then not measured per call); with `--replies`
too, with `call_many(GetEntities)`, taking the replies as GetEntitiesResponse messages (as
kg_bench does) rather than as lists of entities. Prints one JSON
line: calls/s, keys/s, p50 and p99 in microseconds.
"""
import argparse
import json
import multiprocessing
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kgclient import KgClient  # noqa: E402
from kgclient import key  # noqa: E402
from kgclient_proto.kg.v1 import admin_pb2, graph_pb2  # noqa: E402


def product_count(addr: str) -> int:
    with KgClient(addr) as client:
        info = client.call(client.admin.GetClusterInfo, admin_pb2.GetClusterInfoRequest())
    count = 0
    for partition in info.partitions:
        for entry in partition.entities_by_type:
            if entry.type == 1:  # PRODUCT
                count += entry.count
    return count


def worker(args, threads: int, seed: int, start_at: float, queue) -> None:
    """Runs `threads` closed-loop callers until start_at + warmup + duration; reports the
    latencies (seconds) of the calls that started in the measured window."""
    client = KgClient(args.addr, deadline_s=5, transport=args.transport)
    measure_from = start_at + args.warmup
    stop_at = measure_from + args.duration
    latencies, errors, lock = [], [0], threading.Lock()
    if args.pipeline:
        queue.put(pipeline(args, client, threads, seed, measure_from, stop_at))
        client.close()
        return

    def loop(n):
        rng = random.Random(seed * 1000 + n)
        ids = range(1, args.products + 1)  # uniform keys at a small cost per key (choices)
        mine, failed = [], 0
        while True:
            begin = time.monotonic()
            if begin >= stop_at:
                break
            keys = [("PRODUCT", i) for i in rng.choices(ids, k=args.batch)]
            try:
                client.get_entities(keys)
            except Exception:  # noqa: BLE001 - counted and reported
                failed += 1
                continue
            if begin >= measure_from:
                mine.append(time.monotonic() - begin)
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    pool = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    client.close()
    queue.put((latencies, errors[0]))


def pipeline(args, client, in_flight: int, seed: int, measure_from: float, stop_at: float):
    """Rounds of get_entities_many until stop_at; returns (calls/s of the rounds that
    started in the measured window, errors) in the workers' report format."""
    rng = random.Random(seed)
    ids = range(1, args.products + 1)
    calls, errors, first, last = 0, 0, None, None
    while True:
        begin = time.monotonic()
        if begin >= stop_at:
            break
        batches = [[("PRODUCT", i) for i in rng.choices(ids, k=args.batch)]
                   for _ in range(args.round)]
        try:
            if args.replies:
                requests = [graph_pb2.GetEntitiesRequest(keys=[key(k) for k in b]) for b in batches]
                client.call_many(client.graph.GetEntities, requests, max_in_flight=in_flight)
            else:
                client.get_entities_many(batches, max_in_flight=in_flight)
        except Exception:  # noqa: BLE001 - counted and reported
            errors += 1
            continue
        if begin >= measure_from:
            first = begin if first is None else first
            last = time.monotonic()
            calls += len(batches)
    rate = calls / (last - first) if calls else 0.0
    return [rate], errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", default="127.0.0.1:50051")
    parser.add_argument("--batch", type=int, default=1, help="keys per call")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight")
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    parser.add_argument("--duration", type=float, default=10, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before measuring")
    parser.add_argument("--products", type=int, default=0, help="ids 1..N; 0 = ask")
    parser.add_argument("--transport", default="auto", choices=["auto", "native", "grpcio"],
                        help="the client's transport for unary calls")
    parser.add_argument("--pipeline", action="store_true",
                        help="get_entities_many rounds instead of one thread per call in flight")
    parser.add_argument("--replies", action="store_true",
                        help="with --pipeline: call_many(GetEntities) with the replies as "
                             "GetEntitiesResponse messages (as kg_bench takes them) instead of "
                             "get_entities_many's lists of entities")
    parser.add_argument("--round", type=int, default=512, help="calls per pipeline round")
    args = parser.parse_args()
    if args.products <= 0:
        args.products = product_count(args.addr)
    if args.products <= 0 or args.concurrency < args.processes:
        sys.exit("bench: no products on the server, or fewer calls in flight than processes")
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.monotonic() + 1.0  # CLOCK_MONOTONIC is system-wide on Linux
    shares = [args.concurrency // args.processes + (i < args.concurrency % args.processes)
              for i in range(args.processes)]
    procs = [ctx.Process(target=worker, args=(args, shares[i], i, start_at, queue))
             for i in range(args.processes)]
    for p in procs:
        p.start()
    latencies, errors = [], 0
    for _ in procs:
        lat, err = queue.get(timeout=args.warmup + args.duration + 120)
        latencies += lat
        errors += err
    for p in procs:
        p.join()
    if args.pipeline:  # each process reported its rate
        calls = sum(latencies)
        latencies = []
    else:
        latencies.sort()
        calls = len(latencies) / args.duration

    def pct(q):
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e6) \
            if latencies else None

    print(json.dumps({"client": "python", "rpc": "GetEntities", "batch": args.batch,
                      "concurrency": args.concurrency, "processes": args.processes,
                      "transport": args.transport, "pipeline": args.pipeline,
                      "calls_per_s": round(calls), "keys_per_s": round(calls * args.batch),
                      "p50_us": pct(0.5), "p99_us": pct(0.99), "errors": errors}))


if __name__ == "__main__":
    main()
