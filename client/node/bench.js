#!/usr/bin/env node
'use strict';
// GetEntities throughput of the Node.js client (KgClient.getEntities, replies decoded
// into objects) against a running server: a closed loop of --concurrency calls in flight
// spread over --channels connections (and over --workers threads, each with its own event
// loop and clients), each call --batch keys drawn uniformly from PRODUCT:1..--products (0:
// the PRODUCT count from GetClusterInfo), --warmup seconds unmeasured, then --duration
// seconds measured. --transport picks the client's transport for unary calls (auto: native
// when built). With --pipeline, each event loop makes its calls with getEntitiesMany in
// rounds of --round calls, its share of --concurrency in flight (latencies are then not
// measured per call). Prints calls/s, keys/s and latency percentiles.
//   node bench.js --addr=127.0.0.1:50051 --batch=100 --concurrency=32 --duration=10

const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { KgClient } = require('.');

const USAGE = `usage: node bench.js [--addr=127.0.0.1:50051] [--batch=1] [--concurrency=32] [--channels=2]
                     [--workers=1] [--duration=10] [--warmup=2] [--products=0] [--deadline_ms=5000] [--json]
                     [--transport=auto|native|grpc-js] [--pipeline] [--round=512]`;

function parseFlags(argv) {
  const flags = { addr: '127.0.0.1:50051', batch: 1, concurrency: 32, channels: 2, workers: 1, duration: 10,
    warmup: 2, products: 0, deadline_ms: 5000, json: false, transport: 'auto',
    pipeline: false, round: 512 };
  for (const arg of argv) {
    const match = /^--([a-z_]+)(?:=(.*))?$/.exec(arg);
    if (!match || !(match[1] in flags)) throw new Error(`unknown argument ${arg}\n${USAGE}`);
    const [, name, value] = match;
    if (typeof flags[name] === 'boolean') flags[name] = value === undefined || value === 'true';
    else if (typeof flags[name] === 'number') {
      flags[name] = Number(value);
      if (!Number.isFinite(flags[name]) || flags[name] < 0) throw new Error(`--${name}: not a number >= 0\n${USAGE}`);
    } else flags[name] = value;
  }
  return flags;
}

async function productCount(client) {
  const info = await new Promise((resolve, reject) => {
    client.admin.GetClusterInfo({}, (err, response) => (err ? reject(err) : resolve(response)));
  });
  let count = 0;
  for (const partition of info.partitions) {
    for (const { type, count: n } of partition.entitiesByType) if (type === 'PRODUCT') count += Number(n);
  }
  return count;
}

function percentile(sorted, p) {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

// Runs `concurrency` call loops over `channels` clients until `stopAt`; returns the
// latencies (us) of the calls that started and ended within [measureFrom, stopAt).
// getEntitiesMany rounds of `round` calls, `concurrency` in flight, until `stopAt`; the
// rate of the rounds that started in the measured window, as the one "latency" reported.
async function pipeline({ addr, batch, deadlineMs, products, concurrency, measureFrom, stopAt, transport, round }) {
  const client = new KgClient(addr, { deadlineMs, transport });
  const randomKeys = () => Array.from({ length: batch },
    () => ({ type: 'PRODUCT', id: 1 + Math.floor(Math.random() * products) }));
  let calls = 0;
  let first = null;
  let last = null;
  let errors = 0;
  let lastError = '';
  while (Date.now() < stopAt) {
    const begin = Date.now();
    try {
      await client.getEntitiesMany(Array.from({ length: round }, randomKeys), { maxInFlight: concurrency });
    } catch (err) {
      errors += 1;
      lastError = err.message;
      continue;
    }
    if (begin >= measureFrom) {
      first ??= begin;
      last = Date.now();
      calls += round;
    }
  }
  client.close();
  return { rate: calls > 0 ? calls / ((last - first) / 1000) : 0, latenciesUs: new Float64Array(0), errors, lastError };
}

async function callLoops(run) {
  if (run.pipeline) return pipeline(run);
  const { addr, batch, deadlineMs, products, concurrency, channels, measureFrom, stopAt, transport } = run;
  // Separate connections: gRPC shares one per target unless each channel has its own pool.
  const clients = Array.from({ length: channels }, () => new KgClient(addr,
    { deadlineMs, transport, channelOptions: { 'grpc.use_local_subchannel_pool': 1 } }));
  const randomKeys = () => Array.from({ length: batch },
    () => ({ type: 'PRODUCT', id: 1 + Math.floor(Math.random() * products) }));
  const latenciesUs = [];
  let errors = 0;
  let lastError = '';
  async function loop(client) {
    while (Date.now() < stopAt) {
      const started = Date.now();
      const t0 = process.hrtime.bigint();
      try {
        await client.getEntities(randomKeys());
      } catch (err) {
        errors += 1;
        lastError = err.message;
        continue;
      }
      if (started >= measureFrom && Date.now() < stopAt) latenciesUs.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(clients[i % clients.length])));
  clients.forEach((c) => c.close());
  return { latenciesUs: Float64Array.from(latenciesUs), errors, lastError };
}

function inWorker(settings) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: settings });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  let products = flags.products;
  if (!products) {
    const client = new KgClient(flags.addr);
    products = await productCount(client);
    client.close();
  }
  if (products < 1) throw new Error('no PRODUCT entities: load data or pass --products');
  const workers = Math.max(1, flags.workers);
  const measureFrom = Date.now() + flags.warmup * 1000;
  const share = (n, i) => Math.floor(n / workers) + (i < n % workers ? 1 : 0);
  const runs = Array.from({ length: workers }, (_, i) => ({
    addr: flags.addr, batch: flags.batch, deadlineMs: flags.deadline_ms, products, measureFrom, transport: flags.transport,
    pipeline: flags.pipeline, round: flags.round,
    stopAt: measureFrom + flags.duration * 1000,
    concurrency: share(flags.concurrency, i), channels: Math.max(1, share(flags.channels, i)),
  }));
  const results = await Promise.all(workers === 1 ? [callLoops(runs[0])] : runs.map(inWorker));
  const probe = new KgClient(flags.addr, { transport: flags.transport });
  const { native } = probe;
  probe.close();

  const sorted = Float64Array.from(results.flatMap((r) => Array.from(r.latenciesUs))).sort();
  const errors = results.reduce((sum, r) => sum + r.errors, 0);
  const callsPerSecond = flags.pipeline ? results.reduce((sum, r) => sum + r.rate, 0) : sorted.length / flags.duration;
  const result = {
    addr: flags.addr, batch: flags.batch, concurrency: flags.concurrency, transport: flags.transport,
    native,
    channels: runs.reduce((sum, r) => sum + r.channels, 0), workers, durationS: flags.duration, products,
    calls: flags.pipeline ? null : sorted.length, errors, callsPerSecond: Math.round(callsPerSecond),
    keysPerSecond: Math.round(callsPerSecond * flags.batch),
    p50Us: Math.round(percentile(sorted, 0.5)), p99Us: Math.round(percentile(sorted, 0.99)),
  };
  if (flags.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`bench.js ${result.addr}: GetEntities, closed loop, concurrency ${result.concurrency}, ` +
      `channels ${result.channels}, workers ${workers}, ${result.durationS}s, batch ${result.batch}, ` +
      `transport ${result.native ? 'native' : 'grpc-js'}, ` +
      `keys uniform (products 1..${products})`);
    console.log(`calls/s ${result.callsPerSecond}  keys/s ${result.keysPerSecond}  p50 ${result.p50Us} us  ` +
      `p99 ${result.p99Us} us  errors ${errors}`);
  }
  const lastError = results.map((r) => r.lastError).find(Boolean);
  if (lastError) console.error(`last error: ${lastError}`);
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
} else {
  callLoops(workerData).then((result) => parentPort.postMessage(result, [result.latenciesUs.buffer]));
}
