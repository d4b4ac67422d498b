'use strict';
// KgClient against an embedded kg_server serving TLS and requiring bearer tokens
// (--tls_cert, --auth_tokens), and one that also requires client certificates
// (--tls_client_ca), with certificates made by openssl (test/pki.js).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const { KgClient, status } = require('..');
const { Cluster, makeTempDir, removeTempDir } = require('./cluster');
const { SERVER_NAME, makeCertificates, writeTokenFile } = require('./pki');

const TOKENS = Object.fromEntries(['read', 'write', 'admin'].map((role) => [role, crypto.randomBytes(24).toString('base64url')]));
const DEADLINE_MS = 3000;

describe('TLS and tokens against kg_server (embedded)', () => {
  let dir;
  let pki;
  let tlsServer;
  let mtlsServer;
  const clients = [];
  const savedToken = process.env.KG_TOKEN;

  before(async () => {
    delete process.env.KG_TOKEN;
    dir = makeTempDir('security');
    pki = makeCertificates(dir);
    const tokenFile = writeTokenFile(path.join(dir, 'tokens.txt'),
      Object.fromEntries(Object.entries(TOKENS).map(([role, token]) => [token, role])));
    const flags = [`--tls_cert=${pki.server.certFile}`, `--tls_key=${pki.server.keyFile}`, `--auth_tokens=${tokenFile}`];
    [tlsServer, mtlsServer] = await Promise.all([
      Cluster.start('embedded', { flags, partitions: 2 }),
      Cluster.start('embedded', { flags: [...flags, `--tls_client_ca=${pki.ca.certFile}`], partitions: 2 }),
    ]);
  });
  after(async () => {
    clients.forEach((kg) => kg.close());
    await Promise.all([tlsServer, mtlsServer].filter(Boolean).map((c) => c.stop()));
    if (dir) removeTempDir(dir);
    if (savedToken === undefined) delete process.env.KG_TOKEN;
    else process.env.KG_TOKEN = savedToken;
  });

  // A client of `server` trusting `root` (a certificate of test/pki.js), closed after the tests.
  const client = (server, root, { cert, serverName, ...options } = {}) => {
    const tls = { rootCerts: root.cert, certChain: cert?.cert, privateKey: cert?.key, serverName };
    const kg = new KgClient(server.address, { deadlineMs: DEADLINE_MS, tls, ...options });
    clients.push(kg);
    return kg;
  };
  const rejectsWith = (promise, codeName) => assert.rejects(promise, { name: 'KgError', codeName });
  // `call` fails with UNAVAILABLE before the client's deadline.
  const unavailableInTime = async (call) => {
    const start = Date.now();
    await rejectsWith(call(), 'UNAVAILABLE');
    assert.ok(Date.now() - start < DEADLINE_MS + 500, `${Date.now() - start} ms`);
  };

  it('writes and reads back with the CA and a write token', async () => {
    const kg = client(tlsServer, pki.ca, { token: TOKENS.write });
    assert.deepEqual((await kg.upsertEntities({ key: 'PRODUCT:9001', name: 'TLS shoe' })).map((s) => s.code), [0]);
    assert.equal((await kg.getEntities('PRODUCT:9001'))[0].name, 'TLS shoe');
    assert.equal((await kg.importRecords([{ entity: { key: 'PRODUCT:9002', name: 'imported' } }])).entitiesUpserted, '1');
    // The server's other name checked instead of its IP address.
    const byName = client(tlsServer, pki.ca, { token: TOKENS.read, serverName: SERVER_NAME });
    assert.deepEqual((await byName.getEntities(['PRODUCT:9001', 'PRODUCT:9002'])).map((e) => e.name), ['TLS shoe', 'imported']);
  });

  it('is UNAUTHENTICATED without a token or with an unknown one; health stays open', async () => {
    for (const token of [null, 'not-a-known-token']) {
      const kg = client(tlsServer, pki.ca, { token });
      assert.equal(await kg.health(), 'SERVING');
      await assert.rejects(kg.getEntities('PRODUCT:1'),
        { name: 'KgError', code: status.UNAUTHENTICATED, codeName: 'UNAUTHENTICATED', method: 'GetEntities' });
      await rejectsWith(kg.importRecords([{ entity: { key: 'PRODUCT:1' } }]), 'UNAUTHENTICATED');
    }
  });

  it('is PERMISSION_DENIED for a role too low', async () => {
    const reader = client(tlsServer, pki.ca, { token: TOKENS.read });
    assert.deepEqual(await reader.getEntities('PRODUCT:9101'), [null]);
    await rejectsWith(reader.upsertEntities({ key: 'PRODUCT:9101', name: 'no' }), 'PERMISSION_DENIED');
    await rejectsWith(reader.deleteEntities('PRODUCT:9101'), 'PERMISSION_DENIED');
    await rejectsWith(reader.importRecords([{ entity: { key: 'PRODUCT:9101' } }]), 'PERMISSION_DENIED');
    const writer = client(tlsServer, pki.ca, { token: TOKENS.write });
    const trained = new Promise((resolve) => {
      writer.admin.TrainModels({}).on('error', resolve).on('data', () => {});
    });
    assert.equal((await trained).code, status.PERMISSION_DENIED); // needs admin
    assert.deepEqual(await reader.getEntities('PRODUCT:9101'), [null]);
  });

  it('takes the token from KG_TOKEN unless one is given', async () => {
    try {
      process.env.KG_TOKEN = TOKENS.write;
      const fromEnv = client(tlsServer, pki.ca);
      assert.deepEqual((await fromEnv.upsertEntities({ key: 'PRODUCT:9201', name: 'from env' })).map((s) => s.code), [0]);
      await rejectsWith(client(tlsServer, pki.ca, { token: TOKENS.read }).upsertEntities({ key: 'PRODUCT:9201' }),
        'PERMISSION_DENIED');
      await rejectsWith(client(tlsServer, pki.ca, { token: '' }).getEntities('PRODUCT:9201'), 'UNAUTHENTICATED');
      process.env.KG_TOKEN = `${TOKENS.write}\n`;
      assert.throws(() => client(tlsServer, pki.ca), (err) =>
        err instanceof TypeError && /^KG_TOKEN: /.test(err.message) && !err.message.includes(TOKENS.write));
    } finally {
      delete process.env.KG_TOKEN;
    }
  });

  it('fails with UNAVAILABLE within its deadline when it does not trust the server', async () => {
    await unavailableInTime(() => client(tlsServer, pki.rogueCa, { token: TOKENS.write }).health());
    await unavailableInTime(() => client(tlsServer, pki.ca, { token: TOKENS.write, serverName: 'other.test' }).health());
    const plaintext = new KgClient(tlsServer.address, { deadlineMs: DEADLINE_MS, token: TOKENS.read });
    clients.push(plaintext);
    await unavailableInTime(() => plaintext.getEntities('PRODUCT:1'));
  });

  it('with --tls_client_ca, works with a client certificate from its CA and only so', async () => {
    const kg = client(mtlsServer, pki.ca, { cert: pki.client, token: TOKENS.write });
    await kg.upsertEntities({ key: 'PRODUCT:9301', name: 'mTLS shoe' });
    assert.equal((await kg.getEntities('PRODUCT:9301'))[0].name, 'mTLS shoe');
    for (const cert of [undefined, pki.rogueClient]) {
      await unavailableInTime(() => client(mtlsServer, pki.ca, { cert, token: TOKENS.write }).getEntities('PRODUCT:9301'));
    }
  });
});
