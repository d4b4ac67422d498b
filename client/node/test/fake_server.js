'use strict';
// An in-process grpc-js server of kg.v1.GraphService and grpc.health.v1.Health whose
// answers the tests script: each call takes the next status code of its method's plan
// (OK when the plan is empty) and is recorded with its metadata and deadline.

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { DEFAULT_PROTO_DIR } = require('..');

const definition = protoLoader.loadSync(['kg/v1/graph.proto', 'grpc/health/v1/health.proto'], {
  includeDirs: [DEFAULT_PROTO_DIR, '/usr/share/grpc-proto'],
  longs: String, enums: String, defaults: true, oneofs: true,
});
const pkg = grpc.loadPackageDefinition(definition);

class FakeServer {
  // credentials: grpc.ServerCredentials (default insecure).
  static async start(credentials = grpc.ServerCredentials.createInsecure()) {
    const fake = new FakeServer();
    await new Promise((resolve, reject) => {
      fake.server.bindAsync('127.0.0.1:0', credentials, (err, port) => {
        if (err) return reject(err);
        fake.address = `127.0.0.1:${port}`;
        return resolve();
      });
    });
    return fake;
  }

  constructor() {
    this.plans = {}; // method -> [status code, ...]
    this.calls = []; // { method, metadata, deadline, request }
    this.neighborItemPlan = []; // per-key status codes of the next GetNeighbors replies
    this.server = new grpc.Server();
    const unary = (method, reply) => (call, callback) => {
      this.calls.push({ method, metadata: call.metadata, deadline: call.getDeadline(), request: call.request });
      const code = (this.plans[method] || []).shift() ?? grpc.status.OK;
      if (code !== grpc.status.OK) return callback({ code, details: `scripted ${method} failure` });
      return callback(null, reply(call.request));
    };
    this.server.addService(pkg.grpc.health.v1.Health.service, {
      Check: unary('Check', () => ({ status: 'SERVING' })),
      Watch: (call) => call.end(),
    });
    const graph = pkg.kg.v1.GraphService.service;
    const handlers = Object.fromEntries(Object.keys(graph).map((name) => [name, unary(name, () => ({}))]));
    handlers.GetEntities = unary('GetEntities', (req) => ({
      results: req.keys.map((key) => ({ key, found: true, entity: { key, name: `entity ${key.id}` } })),
    }));
    handlers.GetNeighbors = unary('GetNeighbors', (req) => ({
      results: [{
        key: req.keys[0],
        status: { code: this.neighborItemPlan.shift() ?? grpc.status.OK, message: 'partition 1 is loading' },
        neighbors: [{ key: { type: 'PRODUCT', id: '7' }, timeMs: '5' }],
      }],
    }));
    handlers.Import = (call, callback) => {
      this.calls.push({ method: 'Import', metadata: call.metadata, deadline: call.getDeadline() });
      const code = (this.plans.Import || []).shift() ?? grpc.status.OK;
      call.on('data', () => {});
      call.on('end', () => {
        if (code !== grpc.status.OK) callback({ code, details: 'scripted Import failure' });
        else callback(null, {});
      });
    };
    this.server.addService(graph, handlers);
  }

  callsOf(method) {
    return this.calls.filter((c) => c.method === method);
  }

  stop() {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}

module.exports = { FakeServer };
