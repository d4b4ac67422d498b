'use strict';
// Run by transport.test.js in a child process: native calls in flight (to a socket that
// never answers, so they end at their deadline) while the worker threads that made them
// are terminated (their channels' last references then go with the calls' completions);
// then the process exits. Exits 0 (printing "survived") unless node crashes. argv[2]: the
// addon's path; argv[3]: "exit" to exit with calls of the main thread still in flight.
const { Worker, isMainThread, workerData } = require('node:worker_threads');
const net = require('node:net');

function callsInFlight(addon, port) {
  const { Channel } = require(addon);
  const c = new Channel(`127.0.0.1:${port}`);
  for (let i = 0; i < 100; i++) c.call('/grpc.health.v1.Health/Check', Buffer.alloc(0), 1000);
  c.callMany('/grpc.health.v1.Health/Check', new Array(50).fill(Buffer.alloc(0)), 1000, [], 8);
  return c;
}

if (isMainThread) {
  const addon = process.argv[2];
  const silent = net.createServer(() => {}).listen(0, '127.0.0.1', async () => {
    const { port } = silent.address();
    for (let i = 0; i < 5; i++) {
      const worker = new Worker(__filename, { workerData: { addon, port } });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await worker.terminate();
    }
    await new Promise((resolve) => setTimeout(resolve, 1500)); // their deadlines pass
    console.log('survived');
    silent.close();
    if (process.argv[3] === 'exit') {
      callsInFlight(addon, port);
      process.exit(0);
    }
  });
} else {
  callsInFlight(workerData.addon, workerData.port);
}
