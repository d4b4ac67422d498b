'use strict';
// Node.js client of the knowledge-graph service (kg.v1) over gRPC: @grpc/grpc-js with the
// repository's proto/ files loaded at run time by @grpc/proto-loader. CommonJS.
//
//   const { KgClient } = require('./client/node');
//   const kg = new KgClient('127.0.0.1:50051');
//   const [product] = await kg.getEntities(['PRODUCT:1']);
//
// Messages are plain objects with lowerCamelCase fields (protobuf's JSON names), enums as
// their names ('PRODUCT'), 64-bit integers as decimal strings ('1793491200000'), every
// field present (defaults filled in, unset messages null) and the set oneof named by a
// virtual field (`record: 'entity'`).
//
// Unary calls go through the native transport (kgclient_native.node: a gRPC C++ channel
// that takes the serialized request and resolves with the serialized reply) when it is
// built, else through grpc-js; both encode with the same proto-loader serializers. The
// native transport also decodes replies (its Codec, on gRPC's threads) into tapes from which
// tape.js builds the objects proto-loader would make, several times faster than JSON.parse
// of them (docs/PERFORMANCE.md); a reply its codec declines is decoded by proto-loader. Replies and
// errors are the same either way.
// Streaming calls and the raw stubs always use grpc-js.

const fs = require('node:fs');
const path = require('node:path');
const { setImmediate } = require('node:timers/promises');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const tape = require('./tape');

const DEFAULT_PROTO_DIR = path.resolve(__dirname, '..', '..', 'proto');
const KG_PROTOS = ['kg/v1/graph.proto', 'kg/v1/knowledge.proto', 'kg/v1/insight.proto', 'kg/v1/admin.proto'];
const HEALTH_PROTO = 'grpc/health/v1/health.proto';
// Where Debian's grpc-proto package (and a source install of gRPC) put health.proto.
const HEALTH_PROTO_DIRS = ['/usr/share/grpc-proto', '/usr/include', '/usr/local/include'];
const LOADER_OPTIONS = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024; // the server's limit each way
const MAX_BATCH = 1000; // keys per GetEntities call (proto/kg/v1/graph.proto)
const MAX_IN_FLIGHT = 1024; // calls of one callMany in flight at once
const IMPORT_DEADLINE_MS = 24 * 60 * 60 * 1000;

const TRANSPORTS = ['auto', 'native', 'grpc-js'];
// Where the native transport is looked for: $KG_NODE_NATIVE (must load when set), the
// node-gyp place beside this file, the CMake build of this checkout.
const NATIVE_PATHS = [
  path.join(__dirname, 'build', 'Release', 'kgclient_native.node'),
  path.resolve(__dirname, '..', '..', 'build', 'client', 'node', 'kgclient_native.node'),
];
let nativeModule; // undefined: not looked for yet; null: not built

function loadNative() {
  if (nativeModule !== undefined) return nativeModule;
  nativeModule = null;
  if (process.env.KG_NODE_NATIVE) {
    nativeModule = require(path.resolve(process.env.KG_NODE_NATIVE));
    return nativeModule;
  }
  for (const candidate of NATIVE_PATHS) {
    if (!fs.existsSync(candidate)) continue;
    try {
      nativeModule = require(candidate);
      break;
    } catch {
      // Not loadable here (another platform's build): grpc-js serves.
    }
  }
  return nativeModule;
}

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));

// An RPC (or one item of a batch) that failed: `code` is the numeric gRPC status,
// `details` the server's message unchanged.
class KgError extends Error {
  constructor(code, details, { method = '', metadata = null } = {}) {
    const codeName = CODE_NAMES[code] ?? `CODE_${code}`;
    super(`${method ? `${method}: ` : ''}${codeName}: ${details}`);
    this.name = 'KgError';
    this.code = code;
    this.codeName = codeName;
    this.details = details;
    this.method = method;
    // The trailing metadata; not enumerable, to keep logged errors short.
    Object.defineProperty(this, 'metadata', { value: metadata, writable: true, configurable: true });
  }
}

// Calls of a callMany failed: `failures` lists { index, error } (a KgError each) in order;
// `replies` has every reply, null where the call failed. `code` and `details` are the
// first failure's, unchanged.
class KgCallsError extends KgError {
  constructor(method, failures, replies) {
    const first = failures[0].error;
    super(first.code, first.details, { method });
    this.name = 'KgCallsError';
    this.failures = failures;
    this.replies = replies;
  }
}

// The name of an argument in an error message: a string, or a function that makes it.
const label = (what) => (typeof what === 'function' ? what() : what);
// ... and of its element `index` when given.
const argName = (what, index) => (index === undefined ? label(what) : `${label(what)}[${index}]`);

// 'PRODUCT:1' (any case) -> { type: 'PRODUCT', id: '1' }.
function parseKey(text) {
  const match = /^\s*([A-Za-z_]+):(\d+)\s*$/.exec(text);
  if (!match) throw new TypeError(`key ${JSON.stringify(text)}: expected TYPE:ID, e.g. PRODUCT:1`);
  return { type: match[1].toUpperCase(), id: match[2] };
}

const loaded = new Map(); // protoDir -> { kg, Health, enums, files, includeDirs, codec, read }

function loadProtos(protoDir) {
  let protos = loaded.get(protoDir);
  if (protos) return protos;
  const healthDir = [protoDir, ...HEALTH_PROTO_DIRS].find((dir) => fs.existsSync(path.join(dir, HEALTH_PROTO)));
  if (!healthDir) {
    throw new Error(`${HEALTH_PROTO} not found under ${[protoDir, ...HEALTH_PROTO_DIRS].join(', ')} ` +
      "(Debian's grpc-proto package installs it)");
  }
  const files = [...KG_PROTOS, HEALTH_PROTO];
  const includeDirs = [protoDir, healthDir];
  const definition = protoLoader.loadSync(files, { ...LOADER_OPTIONS, includeDirs });
  const pkg = grpc.loadPackageDefinition(definition);
  const names = (enumType) => new Set(enumType.value.map((v) => v.name));
  const ranking = definition['kg.v1.TraverseRequest'].type.enumType.find((e) => e.name === 'Ranking');
  protos = {
    files,
    includeDirs,
    codec: undefined, // the native Codec, made on first use
    read: null, // tape.reader(codec)
    kg: pkg.kg.v1,
    Health: pkg.grpc.health.v1.Health,
    enums: {
      EntityType: names(definition['kg.v1.EntityType'].type),
      EdgeType: names(definition['kg.v1.EdgeType'].type),
      Direction: names(definition['kg.v1.Direction'].type),
      Ranking: names(ranking),
    },
  };
  loaded.set(protoDir, protos);
  return protos;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A native reply: the codec's tape ([ArrayBuffer, pool, strings]), else the bytes for proto-loader.
const decodeReply = (definition, reply, read) =>
  (Array.isArray(reply) ? read(reply) : definition.responseDeserialize(reply));

function unaryCall(stub, method, request, deadline) {
  return new Promise((resolve, reject) => {
    stub[method](request, { deadline }, (err, response) => {
      if (err) reject(new KgError(err.code, err.details, { method, metadata: err.metadata }));
      else resolve(response);
    });
  });
}

// Throws the first non-OK per-item status of `items` (read with `statusOf`).
function throwItemError(method, items, statusOf) {
  items.forEach((item, i) => {
    const status = statusOf(item);
    if (status && status.code !== grpc.status.OK) {
      throw new KgError(status.code, status.message, { method: `${method} item ${i}` });
    }
  });
}

// Fills in the deadline of calls that set none and adds the bearer token (a grpc-js call
// invocation transformer: cheaper per call than an interceptor).
function callDefaults(deadlineMs, token) {
  return (call) => {
    let { metadata, callOptions } = call;
    if (token) {
      metadata = metadata.clone();
      metadata.set('authorization', `Bearer ${token}`);
    }
    if (!callOptions.deadline) callOptions = { ...callOptions, deadline: Date.now() + deadlineMs };
    return { ...call, metadata, callOptions };
  };
}

function credentialsFor(tls) {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.rootCerts ?? null, tls.privateKey ?? null, tls.certChain ?? null);
}

// The token option, else KG_TOKEN; '' or null: none. It goes into an HTTP/2 header, so it
// must be visible ASCII (kgctl's are base64url); the error does not repeat it.
function tokenFrom(token) {
  const source = token === undefined ? 'KG_TOKEN' : 'token';
  const value = token === undefined ? process.env.KG_TOKEN : token;
  if (value && !/^[\x21-\x7e]+$/.test(value)) {
    throw new TypeError(`${source}: must be visible ASCII characters (no spaces or line ends)`);
  }
  return value || null;
}

const readMask = (fields) => (fields == null ? null : { paths: typeof fields === 'string' ? fields.split(',') : fields });
const list = (value) => (value == null ? [] : [].concat(value));

class KgClient {
  constructor(target, options = {}) {
    if (typeof target !== 'string' || target === '') throw new TypeError('target: expected "HOST:PORT"');
    const { deadlineMs = 10000, retry = {}, tls = null, channelOptions = {}, protoDir = DEFAULT_PROTO_DIR,
      transport = 'auto' } = options;
    if (!TRANSPORTS.includes(transport)) {
      throw new TypeError(`transport: expected one of ${TRANSPORTS.join(', ')}, got ${JSON.stringify(transport)}`);
    }
    const native = transport === 'grpc-js' ? null : loadNative();
    if (transport === 'native' && !native) {
      throw new Error('transport: the native transport (kgclient_native.node) is not built ' +
        '(CMake target kgclient_node_native, or set KG_NODE_NATIVE)');
    }
    const token = tokenFrom(options.token);
    this.deadlineMs = deadlineMs;
    this.retry = { maxAttempts: 4, initialBackoffMs: 50, maxBackoffMs: 2000, multiplier: 2, ...retry };
    const protos = loadProtos(path.resolve(protoDir));
    this._enums = protos.enums;
    // Reconnects follow the retry schedule, so that a retry can find a restarted server.
    const channelArgs = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.initial_reconnect_backoff_ms': this.retry.initialBackoffMs,
      'grpc.max_reconnect_backoff_ms': this.retry.maxBackoffMs,
      // The name checked in the server's certificate (and sent as SNI) instead of the host.
      ...(tls && tls.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {}),
      ...channelOptions,
    };
    this.channel = new grpc.Channel(target, credentialsFor(tls), channelArgs);
    this._native = null;
    this._read = null;
    if (native) {
      if (protos.codec === undefined) {
        try {
          protos.codec = new native.Codec(protos.includeDirs, protos.files);
          protos.read = tape.reader(protos.codec);
        } catch {
          protos.codec = null; // .proto files libprotoc cannot read: proto-loader decodes
        }
      }
      // grpc-js's own options (grpc-node.*) mean nothing to the C++ channel.
      const nativeArgs = Object.fromEntries(Object.entries(channelArgs).filter(([name, value]) =>
        name.startsWith('grpc.') && (typeof value === 'number' || typeof value === 'string')));
      this._native = new native.Channel(target, {
        tls: Boolean(tls),
        rootCertificates: tls?.rootCerts ?? null,
        privateKey: tls?.privateKey ?? null,
        certificateChain: tls?.certChain ?? null,
        channelArgs: nativeArgs,
        codec: protos.codec ?? undefined,
      });
      this._read = protos.read;
    }
    this._metadata = token ? [['authorization', `Bearer ${token}`]] : [];
    const stubOptions = { channelOverride: this.channel, callInvocationTransformer: callDefaults(deadlineMs, token) };
    this.graph = new protos.kg.GraphService(target, null, stubOptions);
    this.knowledge = new protos.kg.KnowledgeService(target, null, stubOptions);
    this.insight = new protos.kg.InsightService(target, null, stubOptions);
    this.admin = new protos.kg.AdminService(target, null, stubOptions);
    this.healthStub = new protos.Health(target, null, stubOptions);
  }

  // Whether unary calls go through the native transport.
  get native() {
    return this._native !== null;
  }

  close() {
    this.channel.close();
    if (this._native) this._native.close();
  }

  // grpc.health.v1.Health/Check: 'SERVING', 'NOT_SERVING', 'UNKNOWN' or 'SERVICE_UNKNOWN'.
  async health(service = '', { deadlineMs } = {}) {
    const response = await this._call(this.healthStub, 'Check', { service }, { deadlineMs, idempotent: true });
    return response.status;
  }

  // One Entity per key, in order; null for a key with no entity.
  async getEntities(keys, { fields, deadlineMs } = {}) {
    const request = { keys: this._keys(keys, 'keys'), readMask: readMask(fields) };
    const { results } = await this._call(this.graph, 'GetEntities', request, {
      deadlineMs, idempotent: true, check: (r) => throwItemError('GetEntities', r.results, (x) => x.status),
    });
    return results.map((r) => (r.found ? r.entity : null));
  }

  // getEntities for many batches of keys (at most 1000 each): one GetEntities call per
  // batch, up to maxInFlight (1..1024) at a time (callMany). One array per batch, in order.
  // KgCallsError when calls fail; a KgError naming the batch when a key could not be read.
  async getEntitiesMany(keyBatches, { fields, maxInFlight = 32, deadlineMs } = {}) {
    const batches = list(keyBatches);
    const requests = [];
    const asked = []; // an empty batch needs no call
    batches.forEach((batch, b) => {
      const keys = this._keys(batch, () => `keyBatches[${b}]`);
      if (keys.length > MAX_BATCH) throw new RangeError(`keyBatches[${b}]: at most ${MAX_BATCH} keys, got ${keys.length}`);
      if (keys.length > 0) {
        asked.push(b);
        requests.push({ keys, readMask: readMask(fields) });
      }
    });
    const replies = await this.callMany(this.graph, 'GetEntities', requests, { maxInFlight, deadlineMs });
    const out = batches.map(() => []);
    replies.forEach(({ results }, r) => {
      throwItemError(`GetEntities keyBatches[${asked[r]}]`, results, (x) => x.status);
      out[asked[r]] = results.map((x) => (x.found ? x.entity : null));
    });
    return out;
  }

  // Calls stub[method] once per request, up to maxInFlight (1..1024) at a time, and returns
  // the replies in order. Each call has its own deadline (deadlineMs, default the
  // client's); an idempotent call that fails UNAVAILABLE is retried alone (as every call
  // is), all such retries within one more deadline. Throws KgCallsError when calls fail.
  async callMany(stub, method, requests, { maxInFlight = 32, deadlineMs = this.deadlineMs, idempotent = true } = {}) {
    if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1 && maxInFlight <= MAX_IN_FLIGHT)) {
      throw new RangeError(`maxInFlight: expected 1..${MAX_IN_FLIGHT}, got ${maxInFlight}`);
    }
    if (!(deadlineMs > 0 && Number.isFinite(deadlineMs))) {
      throw new RangeError(`deadlineMs: expected a number of milliseconds > 0, got ${deadlineMs}`);
    }
    const all = list(requests);
    const replies = new Array(all.length).fill(null);
    const failures = [];
    const unavailable = [];
    const failed = (index, error) => {
      if (idempotent && error.code === grpc.status.UNAVAILABLE) unavailable.push({ index, error });
      else failures.push({ index, error });
    };
    if (this._native) {
      const definition = stub.constructor.service[method];
      const outcomes = await this._native.callMany(definition.path,
        all.map((r) => definition.requestSerialize(r)), deadlineMs, this._metadata, maxInFlight);
      outcomes.forEach(([code, details, reply], i) => {
        if (code === grpc.status.OK) replies[i] = decodeReply(definition, reply, this._read);
        else failed(i, new KgError(code, details, { method }));
      });
    } else {
      let next = 0;
      const worker = async () => {
        while (next < all.length) {
          const i = next++;
          try {
            replies[i] = await unaryCall(stub, method, all[i], Date.now() + deadlineMs);
          } catch (err) {
            failed(i, err);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(maxInFlight, all.length) }, worker));
    }
    const retryUntil = Date.now() + deadlineMs;
    for (const { index, error } of unavailable) {
      const remainingMs = retryUntil - Date.now();
      if (remainingMs <= 0) {
        failures.push({ index, error });
        continue;
      }
      try {
        replies[index] = await this._call(stub, method, all[index], { deadlineMs: remainingMs, idempotent: true });
      } catch (err) {
        failures.push({ index, error: err });
      }
    }
    if (failures.length > 0) {
      failures.sort((a, b) => a.index - b.index);
      throw new KgCallsError(method, failures, replies);
    }
    return replies;
  }

  async upsertEntities(entities, { merge = false, deadlineMs } = {}) {
    const request = { entities: list(entities).map((e, i) => this._entity(e, `entities[${i}]`)), merge };
    return (await this._call(this.graph, 'UpsertEntities', request, { deadlineMs, idempotent: true })).results;
  }

  async upsertEdges(edges, { deadlineMs } = {}) {
    const request = { edges: list(edges).map((e, i) => this._edge(e, `edges[${i}]`)) };
    return (await this._call(this.graph, 'UpsertEdges', request, { deadlineMs, idempotent: true })).results;
  }

  async deleteEntities(keys, { deadlineMs } = {}) {
    const request = { keys: this._keys(keys, 'keys') };
    return (await this._call(this.graph, 'DeleteEntities', request, { deadlineMs, idempotent: true })).results;
  }

  async deleteEdges(edges, { deadlineMs } = {}) {
    const request = { edges: list(edges).map((e, i) => this._edge(e, `edges[${i}]`)) };
    return (await this._call(this.graph, 'DeleteEdges', request, { deadlineMs, idempotent: true })).results;
  }

  // The key's edges of one type and direction, newest first, following next_page_token
  // (one call per page, each with its own deadline), at most maxPages pages.
  async *neighbors(key, edgeType, options = {}) {
    const { direction = 'OUT', sinceMs = 0, untilMs = 0, pageSize = 0, includeEntities = false, fields,
      maxPages = Infinity, deadlineMs } = options;
    const request = {
      keys: [this._key(key, 'key')],
      edgeType: this._enum('EdgeType', edgeType, 'edgeType'),
      direction: this._enum('Direction', direction, 'direction'),
      minTimeMs: sinceMs,
      maxTimeMs: untilMs,
      limit: pageSize,
      includeEntities,
      entityReadMask: readMask(fields),
      pageToken: '',
    };
    for (let page = 0; page < maxPages; page++) {
      const { results: [result] } = await this._call(this.graph, 'GetNeighbors', request, {
        deadlineMs, idempotent: true, check: (r) => throwItemError('GetNeighbors', r.results, (x) => x.status),
      });
      yield* result.neighbors;
      if (!result.nextPageToken) return;
      request.pageToken = result.nextPageToken;
    }
  }

  // Per key, in order: its edge counts per type and direction ([{edgeType, direction, count}]).
  async countNeighbors(keys, { edgeTypes, directions, sinceMs = 0, untilMs = 0, deadlineMs } = {}) {
    const request = {
      keys: this._keys(keys, 'keys'),
      edgeTypes: list(edgeTypes).map((t, i) => this._enum('EdgeType', t, `edgeTypes[${i}]`)),
      directions: list(directions).map((d, i) => this._enum('Direction', d, `directions[${i}]`)),
      minTimeMs: sinceMs,
      maxTimeMs: untilMs,
    };
    const { results } = await this._call(this.graph, 'CountNeighbors', request, {
      deadlineMs, idempotent: true, check: (r) => throwItemError('CountNeighbors', r.results, (x) => x.status),
    });
    return results.map((r) => r.counts);
  }

  // A multi-hop walk; hops are 'in:PURCHASED[:LIMIT]' strings or Hop objects. sinceMs and
  // untilMs apply to the hops without a window of their own.
  async traverse(start, hops, options = {}) {
    const { maxResults = 0, includeStart = false, includeEntities = false, fields, ranking = 'PATH_COUNT',
      maxFrontier = 0, sinceMs = 0, untilMs = 0, deadlineMs } = options;
    const request = {
      start: this._keys(start, 'start'),
      hops: list(hops).map((h, i) => this._hop(h, `hops[${i}]`, sinceMs, untilMs)),
      maxResults,
      includeStart,
      includeEntities,
      entityReadMask: readMask(fields),
      ranking: this._enum('Ranking', ranking, 'ranking'),
      maxFrontier,
    };
    return this._call(this.graph, 'Traverse', request, { deadlineMs, idempotent: true });
  }

  // Texts (titles, or ProductText objects) then keys; one result per item, in that order.
  async categorize({ texts = [], keys = [], topK = 0, deadlineMs } = {}) {
    const items = [
      ...list(texts).map((t) => ({ text: typeof t === 'string' ? { title: t } : t })),
      ...list(keys).map((k, i) => ({ key: this._key(k, 'keys', i) })),
    ];
    return this._call(this.knowledge, 'Categorize', { items, topK }, { deadlineMs, idempotent: true });
  }

  // Streams ImportRecords ({entity} or {edge}, as in the JSONL format) from a sync or async
  // iterable through one Import call, batchSize records per message; never retried.
  async importRecords(records, { batchSize = 1000, maxErrors = 0, onProgress, deadlineMs = IMPORT_DEADLINE_MS } = {}) {
    if (!(batchSize >= 1 && batchSize <= 10000)) throw new RangeError('batchSize: 1..10000');
    let finished = false;
    let call;
    const response = new Promise((resolve, reject) => {
      call = this.graph.Import({ deadline: Date.now() + deadlineMs }, (err, result) => {
        finished = true;
        if (err) reject(new KgError(err.code, err.details, { method: 'Import', metadata: err.metadata }));
        else resolve(result);
      });
    });
    const ended = response.then(() => {}, () => {});
    let batch = [];
    let sent = 0;
    let index = 0;
    const flush = async () => {
      const request = sent === 0 ? { records: batch, options: { maxErrors } } : { records: batch };
      sent += batch.length;
      batch = [];
      if (call.write(request)) {
        await setImmediate(); // lets the call's end be seen when the server stops the import
      } else {
        await Promise.race([new Promise((resolve) => call.once('drain', resolve)), ended]);
      }
      if (onProgress) onProgress({ recordsSent: sent });
    };
    try {
      for await (const record of records) {
        if (finished) break;
        batch.push(this._record(record, `records[${index++}]`));
        if (batch.length >= batchSize) await flush();
      }
      if (batch.length > 0 && !finished) await flush();
    } catch (err) {
      call.cancel();
      await ended;
      throw err;
    }
    call.end();
    return response;
  }

  // Runs a unary call with one overall deadline; an idempotent call that fails with
  // UNAVAILABLE (or whose `check` of the response throws it) is retried with exponential
  // backoff (each delay uniform in [backoff/2, backoff]) while attempts and time remain.
  async _call(stub, method, request, { deadlineMs = this.deadlineMs, idempotent, check }) {
    const deadline = Date.now() + deadlineMs;
    const { maxAttempts, initialBackoffMs, maxBackoffMs, multiplier } = this.retry;
    let backoff = initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await (this._native ? this._nativeCall(stub, method, request, deadline)
          : unaryCall(stub, method, request, deadline));
        if (check) check(response);
        return response;
      } catch (err) {
        const delay = backoff * (0.5 + Math.random() / 2);
        if (!idempotent || err.code !== grpc.status.UNAVAILABLE || attempt >= maxAttempts ||
            Date.now() + delay >= deadline) {
          throw err;
        }
        await sleep(delay);
        backoff = Math.min(backoff * multiplier, maxBackoffMs);
      }
    }
  }

  // One unary call through the native transport, encoded and decoded with the stub's own
  // (proto-loader) serializers.
  async _nativeCall(stub, method, request, deadline) {
    const definition = stub.constructor.service[method];
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) throw new KgError(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded', { method });
    const [code, details, reply] = await this._native.call(definition.path,
      definition.requestSerialize(request), remainingMs, this._metadata);
    if (code !== grpc.status.OK) throw new KgError(code, details, { method });
    return decodeReply(definition, reply, this._read);
  }

  // `what` names the argument in the error: a string, or a function making it (so that
  // batches build no label unless one is needed).
  _enum(enumName, value, what) {
    const names = this._enums[enumName];
    if (names.has(value) || typeof value === 'number') return value;
    const name = typeof value === 'string' ? value.toUpperCase() : value;
    if (!names.has(name)) {
      throw new TypeError(`${label(what)}: ${JSON.stringify(value)} is not a ${enumName} (${[...names].join(', ')})`);
    }
    return name;
  }

  // A key of the request (`what` as for _enum; `index`: its place in a list named `what`).
  _key(key, what, index) {
    let k = key;
    if (typeof key === 'string') {
      try {
        k = parseKey(key);
      } catch (err) {
        throw new TypeError(`${argName(what, index)}: ${err.message}`);
      }
    }
    if (k === null || typeof k !== 'object') throw new TypeError(`${argName(what, index)}: expected {type, id} or "TYPE:ID"`);
    const { id } = k;
    const valid = typeof id === 'bigint' ? id >= 0n
      : typeof id === 'number' ? Number.isSafeInteger(id) && id >= 0
        : typeof id === 'string' && /^\d+$/.test(id);
    if (!valid) throw new TypeError(`${argName(what, index)}.id: ${String(id)} is not a uint64 (a decimal string, a number or a bigint)`);
    // Up to 15 digits (below 2^53, so exact) go to the encoder as a number, which
    // protobuf.js turns into a uint64 about twice as fast as it parses a decimal string.
    const type = this._enums.EntityType.has(k.type) ? k.type : this._enum('EntityType', k.type, () => `${argName(what, index)}.type`);
    if (typeof id === 'number') return { type, id };
    const text = String(id);
    return { type, id: text.length <= 15 ? Number(text) : text };
  }

  // Keys of a list argument named `what`.
  _keys(keys, what) {
    return list(keys).map((k, i) => this._key(k, what, i));
  }

  _entity(entity, what) {
    return { ...entity, key: this._key(entity.key, `${what}.key`) };
  }

  _edge(edge, what) {
    return {
      ...edge,
      src: this._key(edge.src, `${what}.src`),
      type: this._enum('EdgeType', edge.type, `${what}.type`),
      dst: this._key(edge.dst, `${what}.dst`),
    };
  }

  _record(record, what) {
    if (record && record.entity) return { entity: this._entity(record.entity, `${what}.entity`) };
    if (record && record.edge) return { edge: this._edge(record.edge, `${what}.edge`) };
    throw new TypeError(`${what}: expected {entity} or {edge}`);
  }

  _hop(hop, what, sinceMs, untilMs) {
    if (typeof hop === 'string') {
      const match = /^(in|out):([A-Za-z_]+)(?::(\d+))?$/i.exec(hop);
      if (!match) throw new TypeError(`${what}: ${JSON.stringify(hop)}: expected DIR:EDGE_TYPE[:LIMIT], e.g. in:PURCHASED`);
      hop = { direction: match[1], edgeType: match[2], limit: match[3] === undefined ? 0 : Number(match[3]) };
    }
    const own = hop.sinceMs || hop.untilMs;
    return {
      edgeType: this._enum('EdgeType', hop.edgeType, `${what}.edgeType`),
      direction: this._enum('Direction', hop.direction ?? 'OUT', `${what}.direction`),
      limit: hop.limit ?? 0,
      minTimeMs: own ? hop.sinceMs ?? 0 : sinceMs,
      maxTimeMs: own ? hop.untilMs ?? 0 : untilMs,
    };
  }
}

module.exports = { KgClient, KgError, KgCallsError, parseKey, status: grpc.status, DEFAULT_PROTO_DIR };
