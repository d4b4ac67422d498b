'use strict';
// The native transport's Codec (native/wire_tape.cc) and tape.js: for every message type of
// the client's .proto files, random messages (every field kind, oneofs, maps, unicode,
// extreme and non-finite numbers) made tapes by the codec read back to exactly the object
// proto-loader makes (protobuf.js decode + toObject with the client's options), and bytes
// it cannot vouch for (damaged, malformed UTF-8, a singular field twice, two oneof members)
// are declined (null) instead of answered differently. Without the addon: skipped.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');
// The protobuf.js that proto-loader itself uses (its dependency, wherever npm put it).
const protobuf = require(require.resolve('protobufjs', { paths: [path.dirname(require.resolve('@grpc/proto-loader'))] }));
const { KgClient } = require('..');
const { reader } = require('../tape');

const probe = new KgClient('127.0.0.1:1');
const BUILT = probe.native;
probe.close();
const ADDON = path.resolve(process.env.KG_NODE_NATIVE || path.join(__dirname, '..', '..', '..', 'build', 'client', 'node', 'kgclient_native.node'));

const PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'proto');
const FILES = ['kg/v1/graph.proto', 'kg/v1/knowledge.proto', 'kg/v1/insight.proto', 'kg/v1/admin.proto', 'grpc/health/v1/health.proto'];
const HEALTH_DIR = [PROTO_DIR, '/usr/share/grpc-proto', '/usr/include', '/usr/local/include']
  .find((dir) => fs.existsSync(path.join(dir, 'grpc/health/v1/health.proto')));
const INCLUDE_DIRS = [PROTO_DIR, HEALTH_DIR];
const OPTIONS = { longs: String, enums: String, defaults: true, oneofs: true }; // index.js's

// The same files through protobuf.js, as proto-loader loads them (keepCase: false).
function loadRoot(includeDirs, files) {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    for (const dir of includeDirs) {
      const full = path.join(dir, target);
      if (fs.existsSync(full)) return full;
    }
    return protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(files, { keepCase: false });
  root.resolveAll();
  return root;
}

function messageTypes(ns, out = []) {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) out.push(nested);
    if (nested.nestedArray) messageTypes(nested, out);
  }
  return out;
}

// A deterministic generator (xorshift), so that a failure can be replayed.
function rng(seed) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  const pick = (list) => list[int(list.length)];
  return { next, int, pick };
}

const STRINGS = ['', 'a', 'PRODUCT', 'Navy Blue "quoted" \\ back', 'tab\there\nnew line\u0001\u001f', 'ünïcödé café',
  '日本語の商品名', 'emoji 👗🛍️', '\u2028\u2029', 'x'.repeat(300), '€9.99 – 50% off', '__proto__', 'constructor'];
const INT64 = ['0', '1', '-1', '9007199254740993', '-9223372036854775808', '9223372036854775807', '1793491200000'];
const UINT64 = ['0', '1', '18446744073709551615', '9007199254740993', '1793491200000'];
const DOUBLES = [0, -0, 1, -1, 0.1, 39.99, 1e300, -1e-300, 5e-324, 2 ** 53 + 2, 123456.789, Number.MAX_VALUE, NaN, Infinity, -Infinity];
const INT32 = [0, 1, -1, 2147483647, -2147483648, 300, -300];
const UINT32 = [0, 1, 4294967295, 2147483648, 300];

function scalar(type, r) {
  switch (type) {
    case 'double': return r.pick(DOUBLES);
    case 'float': return Math.fround(r.pick(DOUBLES.filter((d) => !(Math.abs(d) >= 3e38))) * (r.next() + 0.5));
    case 'int32': case 'sint32': case 'sfixed32': return r.pick(INT32);
    case 'uint32': case 'fixed32': return r.pick(UINT32);
    case 'int64': case 'sint64': case 'sfixed64': return protobuf.util.Long.fromString(r.pick(INT64), false);
    case 'uint64': case 'fixed64': return protobuf.util.Long.fromString(r.pick(UINT64), true);
    case 'bool': return r.next() < 0.5;
    case 'string': return r.pick(STRINGS) + (r.next() < 0.3 ? String(r.int(1000)) : '');
    default: throw new Error(`no generator for ${type}`);
  }
}

function value(field, r, depth) {
  const t = field.resolvedType;
  if (t instanceof protobuf.Enum) {
    const numbers = Object.values(t.values);
    return r.next() < 0.1 ? 99 : r.pick(numbers); // now and then a value the enum does not name
  }
  if (t instanceof protobuf.Type) return randomMessage(t, r, depth + 1);
  return scalar(field.type, r);
}

function mapKey(field, r) {
  if (field.keyType === 'string') return r.pick(STRINGS.filter((s) => s !== '__proto__')) + r.int(5);
  if (field.keyType === 'bool') return r.next() < 0.5 ? 'true' : 'false';
  return String(scalar(field.keyType, r));
}

// A message instance with a random subset of fields set (at most one member per oneof).
function randomMessage(type, r, depth = 0) {
  const m = type.create();
  const chosen = new Map(type.oneofsArray.map((o) => [o, depth < 4 && r.next() < 0.7 ? r.pick(o.fieldsArray) : null]));
  for (const field of type.fieldsArray) {
    if (field.partOf && chosen.get(field.partOf) !== field) continue;
    if (!field.partOf && r.next() < 0.35) continue;
    const nested = field.resolvedType instanceof protobuf.Type;
    if (nested && depth >= 4) continue;
    if (field.map) {
      const map = {};
      for (let i = r.int(4); i > 0; i--) map[mapKey(field, r)] = value(field, r, depth);
      m[field.name] = map;
    } else if (field.repeated) {
      m[field.name] = Array.from({ length: r.int(4) }, () => value(field, r, depth));
    } else {
      m[field.name] = value(field, r, depth);
    }
  }
  return m;
}

describe('the native Codec', { skip: !BUILT }, () => {
  const { Codec } = BUILT ? require(ADDON) : {};
  const root = loadRoot(INCLUDE_DIRS, FILES);
  const types = messageTypes(root).filter((t) => !t.fullName.startsWith('.google.protobuf.') || t.name === 'FieldMask');
  const codec = BUILT ? new Codec(INCLUDE_DIRS, FILES) : null;
  const decode = BUILT ? decoder(codec) : null;

  it('supports every message type of the files, and every reply of the client goes through it', () => {
    for (const t of types) assert.ok(codec.supports(name(t)), name(t));
    const kg = new KgClient('127.0.0.1:1');
    const services = [kg.graph, kg.knowledge, kg.insight, kg.admin, kg.healthStub];
    for (const stub of services) {
      for (const method of Object.values(stub.constructor.service)) {
        if (method.responseStream) continue;
        assert.ok(codec.decodesReplies(method.path), method.path);
      }
    }
    kg.close();
  });

  it('reads back proto-loader\'s object for random messages of every type', () => {
    const count = checkRandom(decode, types, 60, 20261202);
    assert.ok(types.length >= 80 && count === types.length * 60, `${types.length} types, ${count} messages`);
  });

  it('answers damaged bytes as proto-loader does, or declines them', () => {
    // KG_CODEC_DAMAGED: damaged messages per type (default 100; more for a longer fuzz).
    const { answered, declined } = checkDamaged(decode, types, Number(process.env.KG_CODEC_DAMAGED || 100), 7);
    assert.ok(answered > 100 && declined > 100, `answered ${answered}, declined ${declined}`);
  });

  it('answers as protobuf.js or declines: non-finite numbers, bad UTF-8, split and repeated fields', () => {
    const Entity = root.lookupType('kg.v1.Entity');
    const GetEntitiesResponse = root.lookupType('kg.v1.GetEntitiesResponse');
    for (const price of [NaN, Infinity, -Infinity, -0]) {
      const bytes = Entity.encode({ name: 'x', metrics: { price } }).finish();
      assert.deepStrictEqual(decode('kg.v1.Entity', bytes), expected(Entity, bytes));
      assert.ok(Object.is(decode('kg.v1.Entity', bytes).metrics.price, price));
    }
    // name = "\xff" (not UTF-8), an overlong form and a surrogate
    assert.equal(decode('kg.v1.Entity', Buffer.from([0x12, 0x01, 0xff])), null);
    assert.equal(decode('kg.v1.Entity', Buffer.from([0x12, 0x02, 0xc0, 0x80])), null);
    assert.equal(decode('kg.v1.Entity', Buffer.from([0x12, 0x03, 0xed, 0xa0, 0x80])), null);
    // text beyond ASCII and beyond the BMP (such strings are made by the addon from UTF-8)
    const wide = Entity.encode({ name: 'Ünïcødé 商品 😀 title long enough to be sliced', attributes: { '颜色': '红色', e: '😀' } }).finish();
    assert.deepStrictEqual(decode('kg.v1.Entity', wide), expected(Entity, wide));
    // a map (attributes, 3) split by another field (name, 2): protobuf.js adds to the one
    // object, so does the tape; an unknown field between (127) is skipped
    const a = Entity.encode({ attributes: { colour: 'red' } }).finish();
    const b = Entity.encode({ attributes: { size: 'M' } }).finish();
    const split = Buffer.concat([a, Entity.encode({ name: 'n' }).finish(), b]);
    assert.deepEqual(Object.keys(expected(Entity, split).attributes), ['colour', 'size']);
    for (const joined of [split, Buffer.concat([a, b]), Buffer.concat([a, Buffer.from([0xf8, 0x07, 0x01]), b])]) {
      assert.deepStrictEqual(decode('kg.v1.Entity', joined), expected(Entity, joined));
    }
    const one = GetEntitiesResponse.encode({ results: [{ found: true }] }).finish();
    const together = Buffer.concat([one, one]);
    assert.deepStrictEqual(decode('kg.v1.GetEntitiesResponse', together), expected(GetEntitiesResponse, together));
    // a map entry "__proto__" (protobuf.js sets the prototype instead of a key)
    const key = Buffer.from('__proto__');
    const entry = Buffer.concat([Buffer.from([0x0a, key.length]), key, Buffer.from([0x12, 0x01, 0x76])]);
    assert.equal(decode('kg.v1.Entity', Buffer.concat([Buffer.from([0x1a, entry.length]), entry])), null);
    // a singular field given twice (protobuf.js keeps the last, no merge): declined, and
    // proto-loader decodes it as before
    const twice = Buffer.concat([Entity.encode({ name: 'a', key: { type: 1, id: 5 } }).finish(),
      Entity.encode({ name: 'b', key: { id: 6 } }).finish()]);
    assert.equal(decode('kg.v1.Entity', twice), null);
    assert.equal(expected(Entity, twice).name, 'b');
  });

  it('shares the strings of a tape without mixing tapes', () => {
    const Entity = root.lookupType('kg.v1.Entity');
    const x = Entity.encode({ name: 'first', attributes: { color: 'red', size: 'red' } }).finish();
    const y = Entity.encode({ name: 'second', attributes: { color: 'blue' }, metrics: { price: 2.5 } }).finish();
    const read = reader(codec);
    const tx = codec.decode('kg.v1.Entity', x);
    const ty = codec.decode('kg.v1.Entity', y);
    assert.deepStrictEqual(read(ty), expected(Entity, y));
    assert.deepStrictEqual(read(tx), expected(Entity, x));
    assert.deepStrictEqual(read(tx), expected(Entity, x)); // a tape can be read again
  });

  it('keeps no reply\'s text alive through a string kept from it', () => {
    const v8 = require('node:v8');
    v8.setFlagsFromString('--expose-gc');
    const gc = require('node:vm').runInNewContext('gc');
    const Entity = root.lookupType('kg.v1.Entity');
    const read = reader(codec);
    const heap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    // Per reply 200 kB of text: 10,000 short keys (12 characters, out of the pool) and a long
    // value; one short key and the 20-character name are kept from each of 100 replies.
    const attributes = {};
    for (let k = 0; k < 10000; k++) attributes[`k${String(k).padStart(11, '0')}`] = '';
    attributes.long = 'v'.repeat(80000);
    const kept = [];
    const before = heap();
    for (let r = 0; r < 100; r++) {
      const bytes = Entity.encode({ name: `name-${String(r).padStart(15, '0')}`, attributes }).finish();
      const object = read(codec.decode('kg.v1.Entity', bytes));
      assert.equal(Object.keys(object.attributes).length, 10001);
      kept.push(object.name, Object.keys(object.attributes)[r]);
    }
    const grown = heap() - before;
    assert.equal(kept.length, 200);
    assert.ok(grown < 4e6, `the heap grew by ${grown} bytes for 200 short strings kept`);
  });

  it('refuses bad arguments without crashing', () => {
    assert.throws(() => new Codec(), /includeDirs|arrays/);
    assert.throws(() => new Codec([PROTO_DIR], ['kg/v1/none.proto']), /none\.proto/);
    assert.throws(() => new Codec([PROTO_DIR], [5]), /files\[0\]/);
    assert.throws(() => codec.decode('kg.v1.NoSuchType', Buffer.alloc(0)), /NoSuchType/);
    assert.throws(() => codec.decode('kg.v1.Entity', 5), /bytes/);
    assert.equal(codec.supports('kg.v1.NoSuchType'), false);
    assert.deepStrictEqual(decode('kg.v1.Entity', Buffer.alloc(0)), expected(root.lookupType('kg.v1.Entity'), Buffer.alloc(0)));
    const { Channel } = require(ADDON);
    assert.throws(() => new Channel('127.0.0.1:1', { codec: {} }), /codec/);
    const c = new Channel('127.0.0.1:1', { codec });
    // each class's methods on the other's objects (both wrap native state)
    assert.throws(() => Channel.prototype.call.call(codec, '/x/y', Buffer.alloc(0), 100), /Illegal invocation|not a Channel/);
    assert.throws(() => Channel.prototype.close.call(codec), /Illegal invocation|Channel/);
    assert.throws(() => Codec.prototype.decode.call(c, 'kg.v1.Entity', Buffer.alloc(0)), /Illegal invocation|not a Codec/);
    assert.throws(() => Codec.prototype.layout.call(c), /Illegal invocation|not a Codec/);
    assert.throws(() => Codec.prototype.supports.call({}, 'kg.v1.Entity'), /Illegal invocation|not a Codec/);
    assert.equal(codec.decodesReplies('/x/y'), false);
    assert.equal(codec.decodesReplies('/kg.v1.GraphService/NoSuchMethod'), false);
    c.close();
  });
});

const name = (t) => t.fullName.slice(1);
// codec.decode read by tape.js: the object, or null when the codec declines.
function decoder(codec) {
  const read = reader(codec);
  return (type, bytes) => {
    const tape = codec.decode(type, bytes);
    return tape === null ? null : read(tape);
  };
}
const expected = (t, bytes) => t.toObject(t.decode(bytes), OPTIONS);

// Random messages of each type through the codec: each must be answered, as protobuf.js.
function checkRandom(decode, types, perType, seed) {
  const r = rng(seed);
  let count = 0;
  for (const t of types) {
    for (let i = 0; i < perType; i++) {
      const bytes = t.encode(randomMessage(t, r)).finish();
      const object = decode(name(t), bytes);
      assert.notEqual(object, null, `${name(t)} #${i} declined: ${Buffer.from(bytes).toString('hex')}`);
      assert.deepStrictEqual(object, expected(t, bytes), `${name(t)} #${i}`);
      count++;
    }
  }
  return count;
}

// Damaged random messages: each answered one as protobuf.js answers it (never one it refuses).
function checkDamaged(decode, types, perType, seed) {
  const r = rng(seed);
  let answered = 0;
  let declined = 0;
  for (const t of types) {
    for (let i = 0; i < perType; i++) {
      const bytes = Buffer.from(t.encode(randomMessage(t, r)).finish());
      if (bytes.length === 0) continue;
      let damaged = Buffer.from(bytes);
      const at = r.int(damaged.length);
      switch (r.int(5)) {
        case 0: damaged[at] = r.int(256); break; // a byte replaced
        case 1: damaged = damaged.subarray(0, at); break; // cut short
        case 2: for (let k = 0; k < 3; k++) damaged[r.int(damaged.length)] ^= 1 << r.int(8); break; // bits flipped
        case 3: damaged = Buffer.concat([damaged.subarray(0, at), Buffer.from([r.int(256)]), damaged.subarray(at)]); break; // a byte inserted
        default: damaged = Buffer.concat([damaged, damaged.subarray(at)]); // a tail repeated
      }
      const object = decode(name(t), damaged);
      if (object === null) {
        declined++;
        continue;
      }
      answered++;
      let want;
      try {
        want = expected(t, damaged);
      } catch (err) {
        assert.fail(`${name(t)}: the codec answered bytes proto-loader refuses (${err.message}): ${damaged.toString('hex')}`);
      }
      assert.deepStrictEqual(object, want, `${name(t)}: ${damaged.toString('hex')}`);
    }
  }
  return { answered, declined };
}

describe('the native Codec on every field kind (test/fixtures/all_kinds.proto)', { skip: !BUILT }, () => {
  const FIXTURES = path.join(__dirname, 'fixtures');
  const root = loadRoot([FIXTURES], ['all_kinds.proto']);
  const types = messageTypes(root).filter((t) => t.fullName.startsWith('.kgtest.'));
  const codec = BUILT ? new (require(ADDON).Codec)([FIXTURES], ['all_kinds.proto']) : null;
  const decode = BUILT ? decoder(codec) : null;

  it('answers random messages as protobuf.js: 64-bit and zigzag integers, floats, aliases, optional, maps by numbers and bools', () => {
    assert.deepEqual(types.map(name).sort(), ['kgtest.Maps', 'kgtest.Nested', 'kgtest.Nested.Inner', 'kgtest.Repeated', 'kgtest.Scalars']);
    for (const t of types) assert.ok(codec.supports(name(t)), name(t));
    assert.equal(checkRandom(decode, types, 400, 99), types.length * 400);
    const Scalars = root.lookupType('kgtest.Scalars');
    const some = Scalars.encode({ fEnum: 1, maybeCount: 0, fSint64: protobuf.util.Long.fromString('-5'), largeNumber: 7 }).finish();
    const object = decode('kgtest.Scalars', some);
    assert.deepStrictEqual(object, expected(Scalars, some));
    assert.equal(object.fEnum, 'RED'); // the first name of an aliased value
    assert.equal(object._maybeCount, 'maybeCount'); // a proto3 optional field's oneof, set
    assert.equal(object.maybeNote, undefined); // unset: no default
    assert.equal(object.fSint64, '-5');
  });

  it('answers damaged messages as protobuf.js, or declines them', () => {
    const { answered, declined } = checkDamaged(decode, types, 600, 5);
    assert.ok(answered > 100 && declined > 100, `answered ${answered}, declined ${declined}`);
  });
});
