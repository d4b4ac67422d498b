'use strict';
// Deadlines and retries: a dead server fails within the deadline; a server that comes up
// (or back) while a call retries answers it; which calls and codes are retried, how often,
// and never past the deadline (against a scripted in-process server).

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { KgClient, KgError, status } = require('..');
const { ServerProcess, freePort, makeTempDir, removeTempDir } = require('./cluster');
const { FakeServer } = require('./fake_server');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function timed(promise) {
  const start = Date.now();
  try {
    return { value: await promise, ms: Date.now() - start };
  } catch (error) {
    return { error, ms: Date.now() - start };
  }
}

describe('a server that is not there', () => {
  it('fails within the deadline with UNAVAILABLE or DEADLINE_EXCEEDED', async () => {
    const port = await freePort();
    const kg = new KgClient(`127.0.0.1:${port}`, { deadlineMs: 1000 });
    // Retrying as long as the deadline allows.
    const patient = new KgClient(`127.0.0.1:${port}`,
      { deadlineMs: 1000, retry: { maxAttempts: 1000, initialBackoffMs: 10, maxBackoffMs: 100 } });
    for (const call of [() => kg.health(), () => kg.getEntities('PRODUCT:1'), () => kg.importRecords([]),
      () => patient.getEntities('PRODUCT:1')]) {
      const { error, ms } = await timed(call());
      assert.ok(error instanceof KgError, String(error));
      assert.ok([status.UNAVAILABLE, status.DEADLINE_EXCEEDED].includes(error.code), error.message);
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}|Deadline`));
      assert.ok(ms < 1500, `${error.method} took ${ms} ms`);
    }
    kg.close();
    patient.close();
  });
});

describe('a kg_server that starts late, and restarts', () => {
  let dir;
  let server;
  before(() => {
    dir = makeTempDir('retry');
  });
  after(async () => {
    if (server) await server.stop();
    removeTempDir(dir);
  });

  it('answers a call that was retrying, within its deadline', async () => {
    const port = await freePort();
    const args = ['--role=all', '--partition_count=4', `--port=${port}`];
    const kg = new KgClient(`127.0.0.1:${port}`, { deadlineMs: 8000, retry: { maxAttempts: 20 } });
    try {
      const starting = sleep(300).then(async () => {
        server = await ServerProcess.start(dir, 'late', args);
      });
      const upsert = await timed(kg.upsertEntities({ key: 'PRODUCT:1', name: 'written on retry' }));
      await starting;
      assert.equal(upsert.error, undefined, upsert.error && upsert.error.message);
      assert.deepEqual(upsert.value, [{ code: 0, message: '' }]);
      assert.ok(upsert.ms >= 300 && upsert.ms < 8000, `${upsert.ms} ms`);
      const [entity] = await kg.getEntities('PRODUCT:1');
      assert.equal(entity.name, 'written on retry');

      await server.stop();
      const restarting = sleep(300).then(async () => {
        server = await ServerProcess.start(dir, 'restarted', args);
      });
      const read = await timed(kg.getEntities('PRODUCT:1'));
      await restarting;
      assert.equal(read.error, undefined, read.error && read.error.message);
      assert.deepEqual(read.value, [null]); // a new, empty server
      assert.ok(read.ms >= 300 && read.ms < 8000, `${read.ms} ms`);
    } finally {
      kg.close();
    }
  });
});

describe('retries against a scripted server', () => {
  let fake;
  before(async () => {
    fake = await FakeServer.start();
  });
  after(() => fake.stop());

  const client = (options = {}) => new KgClient(fake.address, { retry: { initialBackoffMs: 10 }, ...options });
  const { UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED } = status;

  it('retries UNAVAILABLE on idempotent calls, up to maxAttempts', async () => {
    const kg = client();
    fake.calls = [];
    fake.plans.GetEntities = [UNAVAILABLE, UNAVAILABLE];
    const [entity] = await kg.getEntities('PRODUCT:3');
    assert.equal(entity.name, 'entity 3');
    assert.equal(fake.callsOf('GetEntities').length, 3);

    fake.plans.UpsertEdges = Array(10).fill(UNAVAILABLE);
    await assert.rejects(kg.upsertEdges({ src: 'BUYER:1', type: 'VIEWED', dst: 'PRODUCT:1' }),
      (err) => err.code === UNAVAILABLE && err.details === 'scripted UpsertEdges failure');
    assert.equal(fake.callsOf('UpsertEdges').length, 4);
    fake.plans.UpsertEdges = [];
    kg.close();
  });

  it('retries a batch item that is UNAVAILABLE', async () => {
    const kg = client();
    fake.calls = [];
    fake.neighborItemPlan = [UNAVAILABLE];
    const keys = [];
    for await (const n of kg.neighbors('BUYER:1', 'VIEWED')) keys.push(n.key.id);
    assert.deepEqual(keys, ['7']);
    assert.equal(fake.callsOf('GetNeighbors').length, 2);
    kg.close();
  });

  it('does not retry other codes, nor Import', async () => {
    const kg = client();
    fake.calls = [];
    fake.plans.DeleteEntities = [INTERNAL];
    await assert.rejects(kg.deleteEntities('PRODUCT:1'), (err) => err.code === INTERNAL);
    assert.equal(fake.callsOf('DeleteEntities').length, 1);

    fake.plans.Import = [UNAVAILABLE];
    await assert.rejects(kg.importRecords([{ entity: { key: 'PRODUCT:1' } }]), (err) => err.code === UNAVAILABLE);
    assert.equal(fake.callsOf('Import').length, 1);
    kg.close();
  });

  it('stops retrying at the deadline', async () => {
    const kg = client({ deadlineMs: 600, retry: { maxAttempts: 1000, initialBackoffMs: 20, maxBackoffMs: 100 } });
    fake.calls = [];
    fake.plans.CountNeighbors = Array(1000).fill(UNAVAILABLE);
    const { error, ms } = await timed(kg.countNeighbors('PRODUCT:1'));
    assert.ok([UNAVAILABLE, DEADLINE_EXCEEDED].includes(error.code), error.message);
    // Without the deadline, 1000 attempts would take 50 s or more; the margins leave room
    // for a loaded machine (the suite runs its files in parallel).
    assert.ok(ms < 2000, `${ms} ms`);
    const attempts = fake.callsOf('CountNeighbors');
    assert.ok(attempts.length >= 2 && attempts.length < 50, `${attempts.length} attempts`);
    // Every attempt carried the call's one deadline.
    const first = Number(attempts[0].deadline);
    assert.ok(attempts.every((a) => Math.abs(Number(a.deadline) - first) < 50), 'one deadline');
    fake.plans.CountNeighbors = [];
    kg.close();
  });
});
