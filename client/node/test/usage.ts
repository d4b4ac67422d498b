// Type-checked (never run) by types.test.js: typical uses of the declarations compile, and
// each misuse marked @ts-expect-error must not.
import { readFileSync } from 'node:fs';
import { KgClient, KgCallsError, KgError, parseKey, status, Entity, ImportRecordInput, Neighbor, TraverseResponse } from '..';

async function usage(): Promise<void> {
  const kg = new KgClient('127.0.0.1:50051', {
    deadlineMs: 5000,
    retry: { maxAttempts: 3 },
    token: 'secret',
    tls: { rootCerts: readFileSync('ca.pem') },
    channelOptions: { 'grpc.keepalive_time_ms': 30000 },
  });
  const mutual = new KgClient('127.0.0.1:50051', {
    token: null,
    tls: { rootCerts: readFileSync('ca.pem'), certChain: readFileSync('client.pem'), privateKey: readFileSync('client.key'), serverName: 'kg.example' },
  });
  mutual.close();
  const serving: string = await kg.health();
  const fast = new KgClient('127.0.0.1:50051', { transport: 'native' });
  const isNative: boolean = fast.native;
  const batches: Array<Array<Entity | null>> = await fast.getEntitiesMany([['PRODUCT:1'], ['PRODUCT:2', 'PRODUCT:3']],
    { maxInFlight: 16, fields: 'name' });
  try {
    const replies: unknown[] = await fast.callMany(fast.graph, 'GetEntities', [{ keys: [parseKey('PRODUCT:1')] }], { maxInFlight: 4 });
  } catch (err) {
    if (err instanceof KgCallsError) console.log(err.failures[0].index, err.failures[0].error.details, err.replies.length);
  }
  fast.close();
  const entities: Array<Entity | null> = await kg.getEntities(['PRODUCT:1', { type: 'BRAND', id: 3n }, parseKey('buyer:7')],
    { fields: ['name', 'metrics.price'] });
  const price: number | undefined = entities[0]?.metrics.price;
  const statuses = await kg.upsertEntities([{ key: 'PRODUCT:1', name: 'Shoe', metrics: { price: 9.5 } }], { merge: true });
  const failed = statuses.filter((s) => s.code !== status.OK);
  await kg.upsertEdges({ src: 'BUYER:1', type: 'PURCHASED', dst: 'PRODUCT:1', timeMs: Date.now(), weight: 2 });
  const [deleted] = await kg.deleteEntities('PRODUCT:2');
  const removed: string = deleted.edgesRemoved;
  await kg.deleteEdges([{ src: 'BUYER:1', type: 'purchased', dst: 'PRODUCT:1' }]);
  for await (const n of kg.neighbors('BUYER:1', 'PURCHASED', { pageSize: 100, includeEntities: true })) {
    const neighbor: Neighbor = n;
    const title: string | undefined = n.entity?.name;
  }
  const [counts] = await kg.countNeighbors('PRODUCT:1', { edgeTypes: ['VIEWED', 'PURCHASED'], directions: 'IN' });
  const total: number = counts.reduce((sum, c) => sum + Number(c.count), 0);
  const walk: TraverseResponse = await kg.traverse('PRODUCT:1', ['in:PURCHASED', { edgeType: 'PURCHASED' }],
    { maxResults: 5, ranking: 'WEIGHT_SUM' });
  const { results, modelVersion } = await kg.categorize({ texts: ['red dress', { title: 'phone', brand: 'Acme' }], keys: ['PRODUCT:1'], topK: 2 });
  const path: string[] = results[0].predictions[0].path;
  async function* records(): AsyncGenerator<ImportRecordInput> {
    yield { entity: { key: 'PRODUCT:1', name: 'Shoe' } };
    yield { edge: { src: 'PRODUCT:1', type: 'HAS_BRAND', dst: 'BRAND:1' } };
  }
  const imported = await kg.importRecords(records(), { batchSize: 500, onProgress: ({ recordsSent }) => recordsSent.toFixed() });
  const rejected: number = Number(imported.recordsRejected);
  kg.graph.GetEntities({ keys: [] }, (err: Error | null, response: unknown) => undefined);
  try {
    await kg.health();
  } catch (err) {
    if (err instanceof KgError && err.code === status.UNAVAILABLE) console.log(err.codeName, err.details, err.method);
  }
  kg.close();

  // @ts-expect-error a key is a string or {type, id}
  await kg.getEntities([42]);
  // @ts-expect-error the transports are 'auto', 'native' and 'grpc-js'
  new KgClient('127.0.0.1:50051', { transport: 'quic' });
  // @ts-expect-error ids are strings in replies
  const id: number = entities[0]!.key.id;
  // @ts-expect-error pageSize is a number
  kg.neighbors('BUYER:1', 'VIEWED', { pageSize: '10' });
  // @ts-expect-error an ImportRecord has an entity or an edge
  await kg.importRecords([{ vertex: {} }]);
  // @ts-expect-error tls certificates are Buffers
  new KgClient('x:1', { tls: { rootCerts: 'ca.pem' } });
  // @ts-expect-error serverName is a string
  new KgClient('x:1', { tls: { serverName: true } });
  // @ts-expect-error the health status is one of four names
  const s: 'SERVING' = await kg.health();
}

export { usage };
