'use strict';
// KgClient against a live kg_server, in the embedded mode and in the split mode (a front
// end and two partition servers): writes read back, missing keys, paging, ranking, import,
// errors from the server unchanged, and categorization before and after training.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { KgClient, KgError, status } = require('..');
const { Cluster } = require('./cluster');

// Runs a raw unary call; resolves to { err, response }.
const raw = (stub, method, request) => new Promise((resolve) => {
  stub[method](request, (err, response) => resolve({ err, response }));
});

async function collect(iterable) {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
}

// A small catalog to train on: 3 roots x 2 x 2 leaf categories, 6 brands and 480 products
// whose titles carry their leaf's words; every 10th product has no IN_CATEGORY edge.
function catalog() {
  const records = [];
  const leaves = [];
  const leafOf = new Map();
  let nextId = 1;
  const category = (name, parent) => {
    const id = nextId++;
    records.push({ entity: { key: `CATEGORY:${id}`, name } });
    if (parent) records.push({ edge: { src: `CATEGORY:${id}`, type: 'SUBCATEGORY_OF', dst: `CATEGORY:${parent}` } });
    return id;
  };
  for (let r = 0; r < 3; r++) {
    const root = category(`Root${r}`);
    for (let m = 0; m < 2; m++) {
      const mid = category(`Mid${r}${m}`, root);
      for (let l = 0; l < 2; l++) leaves.push(category(`Leaf${r}${m}${l}`, mid));
    }
  }
  for (let b = 1; b <= 6; b++) records.push({ entity: { key: `BRAND:${b}`, name: `Brand${b}` } });
  for (let p = 1; p <= 480; p++) {
    const leaf = leaves[(p - 1) % leaves.length];
    const brand = 1 + (leaf % 6);
    leafOf.set(p, leaf);
    const words = `leaf${leaf}word${Math.floor(p / 12) % 4} leaf${leaf}term${Math.floor(p / 48) % 3}`;
    records.push({ entity: { key: `PRODUCT:${p}`, name: `Brand${brand} ${words} noise${(p * 7) % 40} item ${p}` } });
    if (p % 10 !== 0) records.push({ edge: { src: `PRODUCT:${p}`, type: 'IN_CATEGORY', dst: `CATEGORY:${leaf}` } });
    records.push({ edge: { src: `PRODUCT:${p}`, type: 'HAS_BRAND', dst: `BRAND:${brand}` } });
  }
  return { records, leaves, leafOf };
}

for (const mode of ['embedded', 'split']) {
  describe(`KgClient against kg_server (${mode})`, () => {
    let cluster;
    let kg;

    before(async () => {
      cluster = await Cluster.start(mode);
      kg = new KgClient(cluster.address);
    });

    after(async () => {
      if (kg) kg.close();
      if (cluster) await cluster.stop();
    });

    it('reports SERVING', async () => {
      assert.equal(await kg.health(), 'SERVING');
    });

    it('reads back what was written; null for a missing key', async () => {
      const written = {
        key: { type: 'PRODUCT', id: '100001' },
        name: 'Nimbus Trail Runner 2, Blue, Size 42',
        attributes: { color: 'blue', size: '42' },
        metrics: { price: 89.5, rating: 4.5 },
        updateTimeMs: '1793491200000',
      };
      const statuses = await kg.upsertEntities([written, { key: 'brand:100001', name: 'Nimbus' }]);
      assert.deepEqual(statuses, [{ code: 0, message: '' }, { code: 0, message: '' }]);

      const [product, missing, brand, again] = await kg.getEntities(
        ['PRODUCT:100001', { type: 'PRODUCT', id: 100999 }, { type: 'BRAND', id: 100001n }, written.key]);
      assert.deepEqual(product, written);
      assert.equal(missing, null);
      assert.equal(brand.name, 'Nimbus');
      assert.deepEqual(again, written);

      const [masked] = await kg.getEntities('PRODUCT:100001', { fields: ['name', 'metrics.price'] });
      assert.equal(masked.name, written.name);
      assert.deepEqual(masked.metrics, { price: 89.5 });
      assert.deepEqual(masked.attributes, {});

      await kg.upsertEntities({ key: 'PRODUCT:100001', attributes: { color: 'red' } }, { merge: true });
      const [merged] = await kg.getEntities('PRODUCT:100001');
      assert.deepEqual(merged.attributes, { color: 'red', size: '42' });
      assert.equal(merged.name, written.name);
    });

    it('pages through every neighbor exactly once, newest first', async () => {
      const base = 1700000000000;
      // 45 edges, three per timestamp (ties: the larger neighbor id first), written shuffled.
      const edges = Array.from({ length: 45 }, (_, i) => ({
        src: 'BUYER:200001', type: 'PURCHASED', dst: `PRODUCT:${200001 + i}`,
        timeMs: base + Math.floor(i / 3) * 1000, weight: i,
      }));
      const shuffled = edges.map((e, i) => [(i * 17) % 45, e]).sort((a, b) => a[0] - b[0]).map(([, e]) => e);
      const statuses = await kg.upsertEdges(shuffled);
      assert.ok(statuses.every((s) => s.code === 0), JSON.stringify(statuses));

      const expected = [...edges].reverse().map((e) => e.dst.replace('PRODUCT:', ''));
      const got = await collect(kg.neighbors('BUYER:200001', 'PURCHASED', { pageSize: 10 }));
      assert.deepEqual(got.map((n) => n.key.id), expected);
      assert.equal(new Set(got.map((n) => n.key.id)).size, 45);
      assert.equal(got[0].timeMs, String(base + 14000));
      assert.equal(got[0].weight, 44);

      const firstTwoPages = await collect(kg.neighbors('BUYER:200001', 'purchased', { pageSize: 10, maxPages: 2 }));
      assert.deepEqual(firstTwoPages.map((n) => n.key.id), expected.slice(0, 20));

      const windowed = await collect(kg.neighbors('BUYER:200001', 'PURCHASED',
        { sinceMs: base + 3000, untilMs: base + 5000, pageSize: 4 }));
      assert.deepEqual(windowed.map((n) => n.key.id), expected.slice(27, 36));

      const inbound = await collect(kg.neighbors('PRODUCT:200001', 'PURCHASED', { direction: 'IN' }));
      assert.deepEqual(inbound.map((n) => `${n.key.type}:${n.key.id}`), ['BUYER:200001']);

      const [counts] = await kg.countNeighbors('BUYER:200001', { edgeTypes: ['PURCHASED', 'VIEWED'], directions: 'OUT' });
      assert.deepEqual(counts, [
        { edgeType: 'VIEWED', direction: 'OUT', count: '0' },
        { edgeType: 'PURCHASED', direction: 'OUT', count: '45' },
      ]);
    });

    it('returns neighbor entities inline', async () => {
      await kg.upsertEntities({ key: 'PRODUCT:200001', name: 'first', metrics: { price: 1 } });
      const [first] = await collect(kg.neighbors('PRODUCT:200002', 'PURCHASED', { direction: 'in' }));
      assert.equal(first.entityFound, false);
      const inline = await collect(kg.neighbors('BUYER:200001', 'PURCHASED',
        { untilMs: 1700000000000, includeEntities: true, fields: 'name' }));
      const byId = Object.fromEntries(inline.map((n) => [n.key.id, n]));
      assert.equal(byId['200001'].entityFound, true);
      assert.deepEqual(byId['200001'].entity.name, 'first');
      assert.deepEqual(byId['200001'].entity.metrics, {});
      assert.equal(byId['200002'].entity, null);
    });

    it('ranks a traversal by shared buyers and by weights', async () => {
      // Buyers 1..3 bought product 1; also product 2 (all three), 3 (buyer 1), 4 (buyer 3).
      const bought = [[1, 1], [2, 1], [3, 1], [1, 2], [2, 2], [3, 2], [1, 3], [3, 4]];
      const edges = bought.map(([b, p]) => ({
        src: `BUYER:${300000 + b}`, type: 'PURCHASED', dst: `PRODUCT:${300000 + p}`,
        timeMs: 1700000000000 + b, weight: p === 4 ? 10 : 1,
      }));
      await kg.upsertEdges(edges);
      const byPaths = await kg.traverse('PRODUCT:300001', ['in:PURCHASED', 'out:PURCHASED']);
      assert.deepEqual(byPaths.results.map((r) => [r.key.id, r.score, r.pathCount]),
        [['300002', 3, '3'], ['300003', 1, '1'], ['300004', 1, '1']]);
      assert.deepEqual(byPaths.frontierSizes, ['3', '4']);
      assert.equal(byPaths.truncated, false);

      const byWeights = await kg.traverse(['PRODUCT:300001'],
        [{ edgeType: 'PURCHASED', direction: 'IN' }, { edgeType: 'PURCHASED' }],
        { ranking: 'WEIGHT_SUM', maxResults: 2, includeStart: true });
      assert.deepEqual(byWeights.results.map((r) => [r.key.id, r.score]), [['300004', 10], ['300001', 3]]);
    });

    it('deletes edges and entities', async () => {
      await kg.upsertEntities({ key: 'PRODUCT:400001', name: 'to delete' });
      await kg.upsertEdges({ src: 'PRODUCT:400001', type: 'SOLD_BY', dst: 'MERCHANT:400001' });
      await kg.upsertEdges({ src: 'PRODUCT:400001', type: 'HAS_BRAND', dst: 'BRAND:400001' });
      assert.deepEqual(await kg.deleteEdges({ src: 'PRODUCT:400001', type: 'SOLD_BY', dst: 'MERCHANT:400001' }),
        [{ code: 0, message: '' }]);
      const [again] = await kg.deleteEdges({ src: 'PRODUCT:400001', type: 'SOLD_BY', dst: 'MERCHANT:400001' });
      assert.equal(again.code, status.NOT_FOUND);
      const [deleted, absent] = await kg.deleteEntities(['PRODUCT:400001', 'PRODUCT:400002']);
      assert.equal(deleted.status.code, status.OK);
      assert.equal(deleted.edgesRemoved, '1');
      assert.equal(absent.status.code, status.NOT_FOUND);
      assert.deepEqual(await kg.getEntities('PRODUCT:400001'), [null]);
    });

    it('imports records in batches and reports rejected ones', async () => {
      async function* records(n, bad) {
        for (let i = 0; i < n; i++) {
          if (i === bad) {
            yield { edge: { src: 'PRODUCT:500001', type: 'PURCHASED', dst: 'PRODUCT:500002' } };
          } else if (i % 2 === 0) {
            yield { entity: { key: { type: 'PRODUCT', id: String(500000 + i) }, name: `imported ${i}` } };
          } else {
            yield { edge: { src: `BUYER:500000`, type: 'VIEWED', dst: `PRODUCT:${500000 + i - 1}`, timeMs: 1000 + i } };
          }
        }
      }
      const progress = [];
      const ok = await kg.importRecords(records(250), { batchSize: 100, onProgress: (p) => progress.push(p.recordsSent) });
      assert.deepEqual(progress, [100, 200, 250]);
      assert.deepEqual(ok, {
        recordsReceived: '250', entitiesUpserted: '125', edgesUpserted: '125', recordsRejected: '0', firstErrors: [],
      });
      const [entity] = await kg.getEntities('PRODUCT:500248');
      assert.equal(entity.name, 'imported 248');
      const [[viewed]] = await kg.countNeighbors('BUYER:500000', { edgeTypes: 'VIEWED', directions: 'OUT' });
      assert.equal(viewed.count, '125');

      const tolerated = await kg.importRecords(records(20, 7), { maxErrors: 5, batchSize: 8 });
      assert.equal(tolerated.recordsReceived, '20');
      assert.equal(tolerated.recordsRejected, '1');
      assert.equal(tolerated.firstErrors.length, 1);
      assert.equal(tolerated.firstErrors[0].recordIndex, '7');
      assert.match(tolerated.firstErrors[0].message, /edge\.src\.type/);

      // Over max_errors the server stops the stream, while the client still has records.
      await assert.rejects(kg.importRecords(records(100000, 3), { batchSize: 10 }), (err) => {
        assert.ok(err instanceof KgError);
        assert.equal(err.code, status.INVALID_ARGUMENT);
        assert.match(err.details, /edge\.src\.type/);
        return true;
      });
    });

    it('surfaces the server\'s INVALID_ARGUMENT with its code and message unchanged', async () => {
      const request = { keys: [{ type: 'PRODUCT', id: '0' }] };
      const { err: rawErr } = await raw(kg.graph, 'GetEntities', request);
      assert.equal(rawErr.code, status.INVALID_ARGUMENT);
      await assert.rejects(kg.getEntities({ type: 'PRODUCT', id: 0 }), (err) => {
        assert.ok(err instanceof KgError);
        assert.equal(err.code, status.INVALID_ARGUMENT);
        assert.equal(err.codeName, 'INVALID_ARGUMENT');
        assert.equal(err.details, rawErr.details);
        assert.match(err.details, /^keys\[0\]\.id/);
        assert.equal(err.message, `GetEntities: INVALID_ARGUMENT: ${rawErr.details}`);
        return true;
      });
      // A per-key error of GetNeighbors (the wrong source type) is thrown the same way.
      await assert.rejects(collect(kg.neighbors('PRODUCT:1', 'PURCHASED')),
        (err) => err.code === status.INVALID_ARGUMENT && /^keys\[0\]\.type: /.test(err.details));
      // A batch write reports each item instead.
      const [item] = await kg.upsertEdges({ src: 'PRODUCT:1', type: 'PURCHASED', dst: 'PRODUCT:2' });
      assert.equal(item.code, status.INVALID_ARGUMENT);
      assert.match(item.message, /^edges\[0\]\.src\.type: /);
      // Names the client cannot send are refused before any call.
      await assert.rejects(kg.getEntities('GADGET:1'), /keys\[0\]\.type: "GADGET" is not a EntityType/);
      await assert.rejects(kg.getEntities('PRODUCT:x'), TypeError);
    });

    it('exposes the raw stubs', async () => {
      const { err, response } = await raw(kg.admin, 'GetClusterInfo', {});
      assert.equal(err, null);
      assert.equal(response.role, mode === 'embedded' ? 'all' : 'frontend');
      assert.equal(response.partitionCount, 4);
      assert.equal(response.partitions.length, 4);
    });

    it('categorizes only after TrainModels', async () => {
      await assert.rejects(kg.categorize({ texts: ['anything'] }), (err) => {
        assert.equal(err.code, status.FAILED_PRECONDITION);
        assert.match(err.details, /TrainModels/);
        return true;
      });
      const { records, leaves, leafOf } = catalog();
      const imported = await kg.importRecords(records);
      assert.equal(imported.recordsRejected, '0');

      let last;
      const training = kg.admin.TrainModels({ buckets: 10000, dim: 16 }, { deadline: Date.now() + 60000 });
      for await (const message of training) last = message;
      assert.equal(last.done, true);
      assert.equal(last.installedOn.length, mode === 'embedded' ? 1 : 2);

      const unlabelled = [...leafOf.keys()].filter((p) => p % 10 === 0);
      const response = await kg.categorize({
        texts: [...leaves.map((leaf) => `leaf${leaf}word1 leaf${leaf}term2 new`), { title: ' ... ' }],
        keys: [...unlabelled.map((p) => `PRODUCT:${p}`), 'BUYER:3'],
        topK: 2,
      });
      assert.equal(response.modelVersion, last.modelVersion);
      const { results } = response;
      assert.equal(results.length, leaves.length + 1 + unlabelled.length + 1);
      const top = (r) => Number(r.predictions[0].category.id);
      const textHits = leaves.filter((leaf, i) => top(results[i]) === leaf).length;
      assert.ok(textHits >= leaves.length - 1, `texts: ${textHits}/${leaves.length} right`);
      const keyResults = results.slice(leaves.length + 1, -1);
      const keyHits = unlabelled.filter((p, i) => top(keyResults[i]) === leafOf.get(p)).length;
      assert.ok(keyHits >= unlabelled.length * 0.9, `keys: ${keyHits}/${unlabelled.length} right`);
      for (const r of [...results.slice(0, leaves.length), ...keyResults]) {
        assert.equal(r.predictions.length, 2);
        assert.equal(r.predictions[0].path.length, 3);
        assert.ok(r.predictions[0].confidence >= 0 && r.predictions[0].confidence <= 1);
      }
      assert.equal(results[leaves.length].status.code, status.INVALID_ARGUMENT);
      assert.equal(results.at(-1).status.code, status.INVALID_ARGUMENT);
      assert.match(results.at(-1).status.message, /^items\[\d+\]/);
    });
  });
}
