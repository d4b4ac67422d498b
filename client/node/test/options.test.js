'use strict';
// Client options against a scripted in-process server: the bearer token (given or from
// KG_TOKEN) and the default deadline on helper and raw calls, TLS with a client
// certificate; and keys in both forms, checked before any call.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const grpc = require('@grpc/grpc-js');
const { KgClient, parseKey } = require('..');
const { makeTempDir, removeTempDir } = require('./cluster');
const { FakeServer } = require('./fake_server');
const { makeCertificates } = require('./pki');

const rawCall = (stub, method, request, options = {}) => new Promise((resolve, reject) => {
  stub[method](request, options, (err, response) => (err ? reject(err) : resolve(response)));
});

describe('token and deadlines', () => {
  let fake;
  before(async () => {
    fake = await FakeServer.start();
  });
  after(() => fake.stop());

  const authorization = (call) => call.metadata.get('authorization');

  it('sends the token on every call, raw stubs included', async () => {
    const kg = new KgClient(fake.address, { token: 's3cret' });
    fake.calls = [];
    await kg.health();
    await kg.getEntities('PRODUCT:1');
    await kg.importRecords([{ entity: { key: 'PRODUCT:1' } }]);
    await rawCall(kg.graph, 'UpsertEdges', { edges: [] });
    assert.equal(fake.calls.length, 4);
    for (const call of fake.calls) assert.deepEqual(authorization(call), ['Bearer s3cret'], call.method);
    kg.close();
  });

  it('reads KG_TOKEN when no token is given, and sends none without either or with null', async () => {
    const saved = process.env.KG_TOKEN;
    try {
      process.env.KG_TOKEN = 'from-env';
      const withEnv = new KgClient(fake.address);
      const optedOut = new KgClient(fake.address, { token: null });
      delete process.env.KG_TOKEN;
      const without = new KgClient(fake.address);
      fake.calls = [];
      await withEnv.health();
      await optedOut.health();
      await without.health();
      assert.deepEqual(fake.calls.map(authorization), [['Bearer from-env'], [], []]);
      for (const kg of [withEnv, optedOut, without]) kg.close();
      // A token that cannot be a header value is refused at once, without repeating it.
      assert.throws(() => new KgClient(fake.address, { token: 'two words' }),
        { name: 'TypeError', message: 'token: must be visible ASCII characters (no spaces or line ends)' });
    } finally {
      if (saved === undefined) delete process.env.KG_TOKEN;
      else process.env.KG_TOKEN = saved;
    }
  });

  it('puts a deadline on every call', async () => {
    const kg = new KgClient(fake.address, { deadlineMs: 3000 });
    fake.calls = [];
    const start = Date.now();
    await kg.getEntities('PRODUCT:1');
    await kg.getEntities('PRODUCT:1', { deadlineMs: 60000 });
    await rawCall(kg.graph, 'GetEntities', { keys: [] });
    await rawCall(kg.graph, 'GetEntities', { keys: [] }, { deadline: start + 20000 });
    const remaining = fake.calls.map((c) => Number(c.deadline) - start);
    const expected = [3000, 60000, 3000, 20000];
    remaining.forEach((ms, i) => assert.ok(Math.abs(ms - expected[i]) < 500, `call ${i}: ${ms} ms left`));
    kg.close();
  });
});

describe('TLS', () => {
  let dir;
  let fake;
  let pki;
  before(async () => {
    dir = makeTempDir('tls');
    pki = makeCertificates(dir);
    fake = await FakeServer.start(grpc.ServerCredentials.createSsl(pki.ca.cert,
      [{ cert_chain: pki.server.cert, private_key: pki.server.key }], true));
  });
  after(async () => {
    if (fake) await fake.stop();
    removeTempDir(dir);
  });

  it('connects with the CA and a client certificate, and only so', async () => {
    const kg = new KgClient(fake.address, { token: 't', tls: { rootCerts: pki.ca.cert, certChain: pki.client.cert, privateKey: pki.client.key } });
    fake.calls = [];
    assert.equal(await kg.health(), 'SERVING');
    assert.deepEqual(fake.calls[0].metadata.get('authorization'), ['Bearer t']);
    kg.close();

    const anonymous = new KgClient(fake.address, { deadlineMs: 2000, tls: { rootCerts: pki.ca.cert } });
    await assert.rejects(anonymous.health(), (err) => err.code === grpc.status.UNAVAILABLE);
    anonymous.close();
    const plaintext = new KgClient(fake.address, { deadlineMs: 2000 });
    await assert.rejects(plaintext.health(), (err) => err.code === grpc.status.UNAVAILABLE);
    plaintext.close();
  });
});

describe('keys', () => {
  it('parses TYPE:ID text', () => {
    assert.deepEqual(parseKey('PRODUCT:1'), { type: 'PRODUCT', id: '1' });
    assert.deepEqual(parseKey(' buyer:18446744073709551615 '), { type: 'BUYER', id: '18446744073709551615' });
    for (const bad of ['PRODUCT', 'PRODUCT:', ':1', 'PRODUCT:-1', 'PRODUCT:1.5', 'PRODUCT:0x1', 'A B:1']) {
      assert.throws(() => parseKey(bad), TypeError, bad);
    }
  });

  it('refuses malformed keys and enum names before any call', async () => {
    const kg = new KgClient('127.0.0.1:1');
    const refusals = [
      [kg.getEntities(['PRODUCT:1', { type: 'PRODUCT', id: -1 }]), /^keys\[1\]\.id: -1 is not a uint64/],
      [kg.getEntities([{ type: 'PRODUCT', id: 2 ** 53 }]), /^keys\[0\]\.id/],
      [kg.getEntities([null]), /^keys\[0\]: expected/],
      [kg.upsertEdges({ src: 'BUYER:1', type: 'BOUGHT', dst: 'PRODUCT:1' }), /^edges\[0\]\.type: "BOUGHT" is not a EdgeType/],
      [kg.traverse('PRODUCT:1', 'sideways:PURCHASED'), /^hops\[0\]: "sideways:PURCHASED"/],
      [kg.neighbors('BUYER:1', 'VIEWED', { direction: 'UP' }).next(), /^direction: "UP" is not a Direction/],
      [kg.importRecords([{ entity: { key: 'PRODUCT:1' } }, { vertex: {} }]), /^records\[1\]: expected \{entity\} or \{edge\}/],
    ];
    for (const [promise, message] of refusals) await assert.rejects(promise, { name: 'TypeError', message });
    kg.close();
  });
});
