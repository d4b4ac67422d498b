'use strict';
// Client options against a scripted in-process server: the bearer token (given or from
// KG_TOKEN) and the default deadline on helper and raw calls, TLS with a client
// certificate; and keys in both forms, checked before any call.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const grpc = require('@grpc/grpc-js');
const { KgClient, parseKey } = require('..');
const { makeTempDir, removeTempDir } = require('./cluster');
const { FakeServer } = require('./fake_server');

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

  it('reads KG_TOKEN when no token is given, and sends none without either', async () => {
    const saved = process.env.KG_TOKEN;
    try {
      process.env.KG_TOKEN = 'from-env';
      const withEnv = new KgClient(fake.address);
      delete process.env.KG_TOKEN;
      const without = new KgClient(fake.address);
      fake.calls = [];
      await withEnv.health();
      await without.health();
      assert.deepEqual(fake.calls.map(authorization), [['Bearer from-env'], []]);
      withEnv.close();
      without.close();
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
  let pem;
  before(async () => {
    dir = makeTempDir('tls');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    pem = { cert: fs.readFileSync(path.join(dir, 'cert.pem')), key: fs.readFileSync(path.join(dir, 'key.pem')) };
    // The self-signed certificate serves as the CA, the server's and the client's.
    fake = await FakeServer.start(grpc.ServerCredentials.createSsl(pem.cert,
      [{ cert_chain: pem.cert, private_key: pem.key }], true));
  });
  after(async () => {
    if (fake) await fake.stop();
    removeTempDir(dir);
  });

  it('connects with the CA and a client certificate, and only so', async () => {
    const kg = new KgClient(fake.address, { token: 't', tls: { rootCerts: pem.cert, certChain: pem.cert, privateKey: pem.key } });
    fake.calls = [];
    assert.equal(await kg.health(), 'SERVING');
    assert.deepEqual(fake.calls[0].metadata.get('authorization'), ['Bearer t']);
    kg.close();

    const anonymous = new KgClient(fake.address, { deadlineMs: 2000, tls: { rootCerts: pem.cert } });
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
