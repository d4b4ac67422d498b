'use strict';
// A start of the rendered topology on this machine's loopback, when kg_server is built:
// every partition pod through its real entrypoint (the rendered command, with a `kg_server`
// on PATH that runs the built binary), then a front end with its rendered arguments and the
// rendered cluster file, its host names mapped to the local servers. Each must reach
// SERVING, and each must stop cleanly on SIGTERM within --drain_timeout_ms. Proves that
// kg_server accepts every flag value and the cluster file as rendered, which a name check
// can't (e.g. --log_level=verbose, a partition list the server parses differently).
// The container-only settings are replaced: --host=127.0.0.1, --port=0 (a free port),
// --metrics_port=-1, a temporary --data_dir, and --port_file to learn the port; kg_server
// takes the last value of a repeated flag.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const WRAPPER = '#!/bin/sh\nexec "$KG_SMOKE_BINARY" "$@" --host=127.0.0.1 --port=0 --metrics_port=-1 '
  + '--data_dir="$KG_SMOKE_DIR/data" --port_file="$KG_SMOKE_DIR/port"\n';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function start(argv, env, dir, label) {
  fs.mkdirSync(dir, { recursive: true });
  const log = path.join(dir, 'log');
  const fd = fs.openSync(log, 'w');
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const proc = { child, dir, label, log, exit: null };
  child.on('exit', (code, signal) => { proc.exit = { code, signal }; });
  child.on('error', (e) => { proc.exit = { code: -1, signal: null, error: e }; });
  return proc;
}

const tail = (proc) => fs.readFileSync(proc.log, 'utf8').trim().split('\n').slice(-3).join(' | ');

async function serving(proc, timeoutMs) {
  const portFile = path.join(proc.dir, 'port');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exit) throw new Error(`${proc.label} exited (${proc.exit.code ?? proc.exit.signal}) before serving: ${tail(proc)}`);
    if (fs.existsSync(portFile)) {
      const m = /^grpc=(\S+)$/m.exec(fs.readFileSync(portFile, 'utf8'));
      if (m) return m[1];
    }
    await sleep(50);
  }
  throw new Error(`${proc.label} not serving after ${timeoutMs} ms: ${tail(proc)}`);
}

async function stop(proc, graceMs) {
  if (!proc.exit) proc.child.kill('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (!proc.exit && Date.now() < deadline) await sleep(20);
  if (!proc.exit) {
    proc.child.kill('SIGKILL');
    while (!proc.exit) await sleep(20);
    return `${proc.label} did not stop within ${graceMs} ms of SIGTERM`;
  }
  if (proc.exit.code !== 0) return `${proc.label} exited ${proc.exit.code ?? proc.exit.signal} on SIGTERM: ${tail(proc)}`;
  return null;
}

// sts/fe: the rendered workloads; clusterText: the rendered cluster file; drainMs: each
// side's --drain_timeout_ms. Returns a list of errors.
async function smokeStart({ binary, sts, fe, clusterText, drainMs }) {
  const errors = [];
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-k8s-smoke-'));
  const procs = [];
  try {
    const bin = path.join(root, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'kg_server'), WRAPPER, { mode: 0o755 });
    const clusterFile = path.join(root, 'cluster.txt');
    fs.writeFileSync(clusterFile, clusterText);
    const c = sts.spec.template.spec.containers[0];
    const replicas = sts.spec.replicas === undefined ? 1 : sts.spec.replicas;
    const pods = [];
    for (let i = 0; i < replicas; i++) {
      const pod = `${sts.metadata.name}-${i}`;
      const dir = path.join(root, pod);
      const env = { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, HOME: root, KG_SMOKE_BINARY: binary, KG_SMOKE_DIR: dir };
      for (const e of c.env || []) {
        if (e.value !== undefined) env[e.name] = e.value;
        else if (e.valueFrom && e.valueFrom.fieldRef && e.valueFrom.fieldRef.fieldPath === 'metadata.name') env[e.name] = pod;
      }
      env.KG_CLUSTER_FILE = clusterFile;
      if (env.TMPDIR) env.TMPDIR = root;
      const p = start([...c.command, ...(c.args || [])], env, dir, pod);
      procs.push(p);
      pods.push(p);
    }
    // The front end reaches each pod by its name in the cluster file: map them to here.
    const addr = new Map();
    for (const p of pods) addr.set(p.label, await serving(p, 20000));
    const local = clusterText.split('\n').map((line) => line.replace(/^(\s*server\s+)(\S+?):\d+/, (m, lead, host) => {
      const a = addr.get(host.split('.')[0]);
      return a ? `${lead}${a.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}` : m;
    })).join('\n');
    const localCluster = path.join(root, 'cluster-local.txt');
    fs.writeFileSync(localCluster, local);
    const fc = fe.spec.template.spec.containers[0];
    const feDir = path.join(root, 'frontend');
    const feProc = start([binary, ...(fc.command || []).slice(1), ...(fc.args || []), '--host=127.0.0.1', '--port=0',
      '--metrics_port=-1', `--port_file=${path.join(feDir, 'port')}`, `--cluster_file=${localCluster}`,
      '--startup_timeout_ms=20000'], { PATH: '/usr/bin:/bin', HOME: root, TMPDIR: root }, feDir, fe.metadata.name);
    procs.push(feProc);
    await serving(feProc, 25000);
  } catch (e) {
    errors.push(e.message);
  } finally {
    // Front end first, as a rollout would; then the partition servers.
    for (const p of procs.reverse()) {
      const problem = await stop(p, (p.label === fe.metadata.name ? drainMs.fe : drainMs.sts) + 5000);
      if (problem && errors.length === 0) errors.push(problem);
    }
    fs.rmSync(root, { recursive: true, force: true });
  }
  return errors;
}

module.exports = { smokeStart };
