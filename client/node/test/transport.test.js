'use strict';
// The two transports of unary calls (native: kgclient_native.node; grpc-js) against live
// servers in both modes: the same replies and errors, callMany and getEntitiesMany, bounds
// on their arguments, failures of the connection within the deadline, and the addon's own
// argument checks.

const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { describe, it, before, after } = require('node:test');
const { KgClient, KgCallsError, status } = require('..');
const { Cluster, freePort } = require('./cluster');

const probe = new KgClient('127.0.0.1:1');
const BUILT = probe.native;
probe.close();
const TRANSPORTS = BUILT ? ['grpc-js', 'native'] : ['grpc-js'];

it('the native transport is built and used by default when the build says so', () => {
  // scripts/test.sh builds it and sets KG_EXPECT_NATIVE=1.
  if (process.env.KG_EXPECT_NATIVE !== '1') return;
  assert.ok(BUILT);
  const plain = new KgClient('127.0.0.1:1', { transport: 'grpc-js' });
  assert.equal(plain.native, false);
  plain.close();
  assert.throws(() => new KgClient('127.0.0.1:1', { transport: 'quic' }), /transport/);
});

for (const mode of ['embedded', 'split']) {
  describe(`transports against kg_server (${mode})`, () => {
    let cluster;
    const clients = {};

    before(async () => {
      cluster = await Cluster.start(mode);
      for (const transport of TRANSPORTS) clients[transport] = new KgClient(cluster.address, { transport, deadlineMs: 20000 });
      const entities = [];
      for (let i = 7001; i <= 7050; i++) entities.push({ key: `PRODUCT:${i}`, name: `item ${i}`, attributes: { colour: 'red' } });
      await clients['grpc-js'].upsertEntities(entities);
    });

    after(async () => {
      for (const c of Object.values(clients)) c.close();
      if (cluster) await cluster.stop();
    });

    it('both transports give the same replies', async () => {
      const keys = [];
      for (let i = 6990; i < 7060; i++) keys.push(`PRODUCT:${i}`);
      const replies = await Promise.all(TRANSPORTS.map((t) => clients[t].getEntities(keys)));
      for (const r of replies) assert.deepEqual(r, replies[0]);
      assert.equal(replies.at(-1)[11].name, 'item 7001');
      assert.equal(replies.at(-1)[10], null);
    });

    for (const transport of TRANSPORTS) {
      it(`${transport}: getEntitiesMany equals one getEntities per batch`, async () => {
        const kg = clients[transport];
        const batches = [];
        for (let i = 7001; i < 7050; i++) batches.push([`PRODUCT:${i}`, { type: 'product', id: i + 1 }, 'PRODUCT:6000']);
        batches.push([]);
        const many = await kg.getEntitiesMany(batches, { maxInFlight: 4 });
        const one = await Promise.all(batches.slice(0, -1).map((b) => kg.getEntities(b)));
        assert.deepEqual(many.slice(0, -1), one);
        assert.deepEqual(many[0].slice(0, 2).map((e) => e.name), ['item 7001', 'item 7002']);
        assert.equal(many[0][2], null);
        assert.deepEqual(many.at(-1), []);
        assert.deepEqual(await kg.getEntitiesMany([]), []);
      });

      it(`${transport}: callMany keeps the replies of the calls that succeed`, async () => {
        const kg = clients[transport];
        const ok = { keys: [kg._key('BUYER:1', 'k')], edgeType: 'PURCHASED', limit: 5 };
        const bad = { ...ok, limit: 5000 };
        const rawError = await new Promise((resolve) => kg.graph.GetNeighbors(bad, (err) => resolve(err)));
        const err = await kg.callMany(kg.graph, 'GetNeighbors', [ok, bad, ok, bad], { maxInFlight: 2 }).catch((e) => e);
        assert.ok(err instanceof KgCallsError);
        assert.deepEqual(err.failures.map((f) => f.index), [1, 3]);
        assert.equal(err.code, status.INVALID_ARGUMENT);
        assert.equal(err.code, rawError.code);
        assert.equal(err.details, rawError.details); // the server's message, unchanged
        assert.equal(err.replies[1], null);
        assert.ok(Array.isArray(err.replies[0].results));
        assert.ok(Array.isArray(err.replies[2].results));
      });

      it(`${transport}: a refused batch names its field`, async () => {
        const err = await clients[transport].getEntitiesMany([['PRODUCT:7001'], [{ type: 0, id: 1 }]]).catch((e) => e);
        assert.ok(err instanceof KgCallsError);
        assert.equal(err.code, status.INVALID_ARGUMENT);
        assert.match(err.details, /keys\[0\]\.type/);
        assert.deepEqual(err.failures.map((f) => f.index), [1]);
        assert.equal(err.replies[0].results[0].entity.name, 'item 7001');
      });
    }
  });
}

for (const transport of TRANSPORTS) {
  describe(`${transport}: arguments and dead servers`, () => {
    it('checks bounds before any call', async () => {
      const kg = new KgClient('127.0.0.1:1', { transport });
      for (const bad of [0, 1025, 1.5]) {
        await assert.rejects(kg.callMany(kg.healthStub, 'Check', [{}], { maxInFlight: bad }), /maxInFlight/);
      }
      await assert.rejects(kg.callMany(kg.healthStub, 'Check', [{}], { deadlineMs: 0 }), /deadlineMs/);
      const big = Array.from({ length: 1001 }, (_, i) => `PRODUCT:${i + 1}`);
      await assert.rejects(kg.getEntitiesMany([['PRODUCT:1'], big]), /keyBatches\[1\]: at most 1000/);
      await assert.rejects(kg.getEntitiesMany([['PRODUCT-1']]), /keyBatches\[0\]\[0\]/);
      kg.close();
    });

    it('a dead server fails within the deadline, a batch within two', async () => {
      const address = `127.0.0.1:${await freePort()}`;
      const kg = new KgClient(address, { transport, deadlineMs: 1000 });
      let start = Date.now();
      const one = await kg.getEntities(['PRODUCT:1']).catch((e) => e);
      assert.ok([status.UNAVAILABLE, status.DEADLINE_EXCEEDED].includes(one.code), one.message);
      assert.ok(one.details);
      assert.ok(Date.now() - start < 1500);
      start = Date.now();
      const many = await kg.getEntitiesMany(Array.from({ length: 40 }, () => ['PRODUCT:1']), { maxInFlight: 8 }).catch((e) => e);
      assert.ok(many instanceof KgCallsError, String(many));
      assert.ok([status.UNAVAILABLE, status.DEADLINE_EXCEEDED].includes(many.code));
      assert.equal(many.failures.length, 40);
      assert.ok(Date.now() - start < 3000);
      kg.close();
    });
  });
}

const ADDON = path.resolve(process.env.KG_NODE_NATIVE || path.join(__dirname, '..', '..', '..', 'build', 'client', 'node', 'kgclient_native.node'));

describe('the native channel', { skip: !BUILT }, () => {
  it('survives workers terminated, and node exiting, with calls in flight', () => {
    // Before completions were kept off the channel's own threads, about one run in two of
    // these crashed (heap corruption in gRPC at exit).
    for (let run = 0; run < 6; run++) {
      const child = spawnSync(process.execPath,
        [path.join(__dirname, 'native_teardown.js'), ADDON, run % 2 ? 'exit' : 'wait'],
        { encoding: 'utf8', timeout: 30000 });
      assert.equal(child.status, 0, `run ${run}: ${child.signal ?? ''} ${child.stdout}${child.stderr}`);
      assert.match(child.stdout, /survived/);
    }
  });

  it('refuses bad arguments without crashing', async () => {
    const { Channel } = require(ADDON);
    const c = new Channel('127.0.0.1:1');
    assert.throws(() => new Channel(''), /target/);
    assert.throws(() => new Channel('127.0.0.1:1', { tls: true, rootCertificates: 5 }), /rootCertificates/);
    assert.throws(() => new Channel('127.0.0.1:1', { channelArgs: { 'grpc.x': {} } }), /channelArgs/);
    assert.throws(() => c.call('/x/y', 5, 100), /request/);
    assert.throws(() => c.call('', Buffer.alloc(0), 100), /method/);
    assert.throws(() => c.call('/x/y', Buffer.alloc(0), -1), /timeoutMs/);
    assert.throws(() => c.call('/x/y', Buffer.alloc(0), 100, [['only-a-key']]), /metadata/);
    assert.throws(() => c.callMany('/x/y', [Buffer.alloc(0), null], 100), /requests\[1\]/);
    assert.throws(() => c.callMany('/x/y', 'abc', 100), /requests/);
    assert.throws(() => c.callMany('/x/y', [], 100, [], 0), /maxInFlight/);
    assert.deepEqual(await c.callMany('/x/y', [], 100), []);
    const [code, details, reply] = await c.call('/grpc.health.v1.Health/Check', Buffer.alloc(0), 500);
    assert.ok([status.UNAVAILABLE, status.DEADLINE_EXCEEDED].includes(code));
    assert.ok(details);
    assert.equal(reply, null);
    c.close();
    assert.throws(() => c.call('/x/y', Buffer.alloc(0), 100), /closed/);
  });
});
