'use strict';
// Starts kg_server for the tests, on 127.0.0.1 with ports picked by the server and read
// from --port_file, in a temporary directory: 'embedded' (--role=all) or 'split' (a front
// end and two partition servers). Every process started is killed when the test process
// exits, also on SIGINT or SIGTERM, and its temporary directories are removed.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const SERVER = process.env.KG_SERVER || path.resolve(__dirname, '..', '..', '..', 'build', 'server', 'app', 'kg_server');
const PARTITIONS = 4;
const START_TIMEOUT_MS = 30000;
const STOP_GRACE_MS = 5000;

const running = new Set(); // processes
const dirs = new Set(); // temporary directories
function cleanUp() {
  running.forEach((proc) => proc.kill('SIGKILL'));
  dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
}
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    cleanUp();
    process.kill(process.pid, signal);
  });
}

// A new temporary directory, removed at exit unless removeTempDir removed it before.
function makeTempDir(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kg-node-${name}-`));
  dirs.add(dir);
  return dir;
}

function removeTempDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A port that was free a moment ago (for a server that must come back on the same port).
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

class ServerProcess {
  // Starts kg_server with `args` (and --port, unless given) and waits until it serves.
  static async start(dir, name, args) {
    if (!fs.existsSync(SERVER)) throw new Error(`no kg_server at ${SERVER}: build it (scripts/build.sh) or set KG_SERVER`);
    const portFile = path.join(dir, `${name}.port`);
    fs.rmSync(portFile, { force: true });
    const logPath = path.join(dir, `${name}.log`);
    const log = fs.openSync(logPath, 'a');
    const hasPort = args.some((a) => a.startsWith('--port='));
    const proc = spawn(SERVER, ['--host=127.0.0.1', '--metrics_port=-1', `--port_file=${portFile}`,
      ...(hasPort ? [] : ['--port=0']), ...args], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    running.add(proc);
    const server = new ServerProcess(proc);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!fs.existsSync(portFile)) {
      if (server.exitStatus !== null || Date.now() > deadline) {
        await server.stop();
        throw new Error(`${name} (${SERVER}) did not start:\n${fs.readFileSync(logPath, 'utf8')}`);
      }
      await sleep(20);
    }
    server.address = /^grpc=(\S+)$/m.exec(fs.readFileSync(portFile, 'utf8'))[1];
    return server;
  }

  constructor(proc) {
    this.proc = proc;
    this.address = '';
    this.exitStatus = null;
    this.exited = new Promise((resolve) => {
      const exit = (status) => {
        running.delete(proc);
        this.exitStatus = this.exitStatus ?? status;
        resolve(this.exitStatus);
      };
      proc.once('exit', (code, signal) => exit({ code, signal }));
      proc.once('error', (error) => exit({ error }));
    });
  }

  // SIGTERM, then SIGKILL after STOP_GRACE_MS.
  async stop() {
    if (this.exitStatus !== null) return this.exitStatus;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), STOP_GRACE_MS);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }
}

class Cluster {
  // `flags` are added to those of the process clients reach (the role=all server or the
  // front end), e.g. --tls_cert or --auth_tokens; `partitions` is the --partition_count
  // (even, in the split mode).
  static async start(mode, { flags = [], partitions = PARTITIONS } = {}) {
    const dir = makeTempDir(mode);
    const cluster = new Cluster(mode, dir);
    try {
      if (mode === 'embedded') {
        cluster.frontend = await cluster.add('server', ['--role=all', `--partition_count=${partitions}`, ...flags]);
      } else {
        const half = partitions / 2;
        const hosted = [`0-${half - 1}`, `${half}-${partitions - 1}`];
        const partitionServers = await Promise.all(hosted.map((range, i) => cluster.add(`partition${i}`,
          ['--role=partition', `--partition_count=${partitions}`, `--partitions=${range}`])));
        const clusterFile = path.join(dir, 'cluster.txt');
        fs.writeFileSync(clusterFile, [`partitions ${partitions}`,
          ...partitionServers.map((s, i) => `server ${s.address} ${hosted[i]}`)].join('\n') + '\n');
        cluster.frontend = await cluster.add('frontend', ['--role=frontend', `--cluster_file=${clusterFile}`, ...flags]);
      }
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  constructor(mode, dir) {
    this.mode = mode;
    this.dir = dir;
    this.processes = [];
    this.frontend = null;
  }

  get address() {
    return this.frontend.address;
  }

  async add(name, args) {
    const server = await ServerProcess.start(this.dir, name, args);
    this.processes.push(server);
    return server;
  }

  // Stops every process (the front end first) and removes the directory.
  async stop() {
    for (const server of [...this.processes].reverse()) await server.stop();
    removeTempDir(this.dir);
  }
}

module.exports = { Cluster, ServerProcess, freePort, makeTempDir, removeTempDir };
