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
//
// Secrets (components/tls): when the workloads mount kg-public-tls, kg-cluster-tls or
// kg-auth-tokens, their files are made as README.md says (components/tls/make-certs.sh and
// `kgctl token new`) and laid out as the kubelet does (KEY -> ..data/KEY, ..data -> a
// timestamped directory), and every path under a Secret's mountPath in the arguments and
// probes is pointed at them. A front end on TLS links checks the cluster file's host names
// in the partition servers' certificates, so it runs in its own mount namespace (unshare)
// whose /etc/hosts maps those names to 127.0.0.1. Then every exec probe is run (kgctl
// built here in place of the image's), a call with the token must pass and one without be
// refused, and the public certificate is rotated as a Secret update would: the front end
// must serve the new one without a restart.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const WRAPPER = '#!/bin/sh\nexec "$KG_SMOKE_BINARY" "$@" --host=127.0.0.1 --port=0 --metrics_port=-1 '
  + '--data_dir="$KG_SMOKE_DIR/data" --port_file="$KG_SMOKE_DIR/port"\n';

const MAKE_CERTS = path.resolve(__dirname, '..', '..', 'components', 'tls', 'make-certs.sh');
const SECRETS = ['kg-public-tls', 'kg-cluster-tls', 'kg-auth-tokens'];

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

// The Secrets the workloads mount: Map secretName -> [{ w, c, vm, vol }].
function secretMounts(workloads) {
  const found = new Map();
  for (const w of workloads) {
    const spec = w.spec.template.spec;
    const c = spec.containers[0];
    for (const vm of c.volumeMounts || []) {
      const vol = (spec.volumes || []).find((v) => v.name === vm.name);
      if (!vol || !vol.secret) continue;
      if (!found.has(vol.secret.secretName)) found.set(vol.secret.secretName, []);
      found.get(vol.secret.secretName).push({ w, c, vm, vol });
    }
  }
  return found;
}

// How to run a command with its own /etc/hosts: unshare's mount namespace (as root), or a
// user namespace too (unprivileged, where the kernel allows it); null when neither works.
let hostsMethod;
function hostsWrapper() {
  if (hostsMethod !== undefined) return hostsMethod;
  hostsMethod = null;
  for (const flags of [['-m'], ['-r', '-m']]) {
    const r = spawnSync('unshare', [...flags, 'true'], { timeout: 5000 });
    if (!r.error && r.status === 0) {
      hostsMethod = flags;
      break;
    }
  }
  return hostsMethod;
}
const withHosts = (hostsFile, argv) => ['unshare', ...hostsWrapper(), '/bin/sh', '-c',
  'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile, ...argv];

// Whether smokeStart can run these workloads (null) or why not.
function secureStartProblem({ kgctl, sts, fe }) {
  const secrets = secretMounts([sts, fe]);
  if (secrets.size === 0) return null;
  const unknown = [...secrets.keys()].filter((n) => !SECRETS.includes(n));
  if (unknown.length > 0) return `it mounts Secrets ${unknown.join(', ')}, of which the local start knows no content (only ${SECRETS.join(', ')})`;
  if (!kgctl || !fs.existsSync(kgctl)) return 'kgctl is not built (its probes run kgctl)';
  const fc = fe.spec.template.spec.containers[0];
  if ((fc.args || []).some((a) => a.startsWith('--partition_tls_ca=')) && !hostsWrapper()) {
    return 'unshare can\'t make a mount namespace here (the front end must resolve the cluster file\'s names to loopback)';
  }
  return null;
}

// Lays a Secret's files out as the kubelet does in a Secret volume, under dir; a second call
// swaps ..data to the new files at once (the kubelet's atomic update).
let generation = 0;
function writeSecretVolume(dir, files, vol) {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = `..${Date.now()}_${++generation}`;
  fs.mkdirSync(path.join(dir, stamp));
  const items = vol.secret.items || Object.keys(files).map((key) => ({ key, path: key }));
  for (const it of items) {
    if (files[it.key] === undefined) throw new Error(`Secret ${vol.secret.secretName} has no key ${it.key}`);
    fs.mkdirSync(path.dirname(path.join(dir, stamp, it.path)), { recursive: true });
    fs.writeFileSync(path.join(dir, stamp, it.path), files[it.key], { mode: 0o600 });
    const link = path.join(dir, it.path.split('/')[0]);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join('..data', it.path.split('/')[0]), link);
  }
  fs.symlinkSync(stamp, path.join(dir, '..data_tmp'));
  fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
}

const readDir = (dir) => Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));

// make-certs.sh into dir (the Secrets' files, one directory per Secret).
function makeCerts(dir, replicas) {
  const r = spawnSync('/bin/sh', [MAKE_CERTS, dir, String(replicas), 'kg'], { encoding: 'utf8', timeout: 30000 });
  if (r.error || r.status !== 0) throw new Error(`make-certs.sh failed: ${(r.stderr || String(r.error)).trim()}`);
}

// Runs a command (argv), resolving with { status, out }.
function run(argv, env, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { out += String(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code === null ? signal : code, out: out.trim() });
    });
  });
}

// sts/fe: the rendered workloads; clusterText: the rendered cluster file; drainMs: each
// side's --drain_timeout_ms; kgctl: the built kgctl (for overlays with Secrets). For the
// check's own tests: tamper(dir) may change the made Secrets' files (dir/SECRET/KEY, the CAs
// in dir/ca) before they are mounted, frontendStartupMs shortens the front end's wait for
// its partitions. Returns a list of errors.
async function smokeStart({ binary, kgctl, sts, fe, clusterText, drainMs, tamper = null, frontendStartupMs = 20000 }) {
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
    const fc = fe.spec.template.spec.containers[0];
    const replicas = sts.spec.replicas === undefined ? 1 : sts.spec.replicas;

    // The Secrets: made as README.md says, mounted (here: mapped) where the pods mount them.
    const secrets = secretMounts([sts, fe]);
    const mapped = new Map([[sts, []], [fe, []]]);
    const secretDir = (name) => path.join(root, 'volumes', name);
    let token = null;
    if (secrets.size > 0) {
      const made = path.join(root, 'secrets');
      makeCerts(made, replicas);
      const r = spawnSync(kgctl, ['token', 'new', '--role=admin', '--name=ops'], { encoding: 'utf8', timeout: 10000 });
      if (r.status !== 0) throw new Error(`kgctl token new failed: ${(r.stderr || '').trim()}`);
      const minted = JSON.parse(r.stdout.trim().split('\n').pop());
      token = minted.token;
      fs.mkdirSync(path.join(made, 'kg-auth-tokens'));
      fs.writeFileSync(path.join(made, 'kg-auth-tokens', 'tokens.txt'), `${minted.line}\n`);
      if (tamper) tamper(made);
      for (const [name, mounts] of secrets) {
        writeSecretVolume(secretDir(name), readDir(path.join(made, name)), mounts[0].vol);
        for (const m of mounts) mapped.get(m.w).push([m.vm.mountPath.replace(/\/+$/, ''), secretDir(name)]);
      }
    }
    const local = (w, text) => mapped.get(w).reduce((t, [from, to]) => t.split(`${from}/`).join(`${to}/`), text);
    const envOf = (container, pod) => {
      const env = {};
      for (const e of container.env || []) {
        if (e.value !== undefined) env[e.name] = e.value;
        else if (e.valueFrom && e.valueFrom.fieldRef && e.valueFrom.fieldRef.fieldPath === 'metadata.name') env[e.name] = pod;
      }
      return env;
    };

    const pods = [];
    for (let i = 0; i < replicas; i++) {
      const pod = `${sts.metadata.name}-${i}`;
      const dir = path.join(root, pod);
      const env = { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, HOME: root, KG_SMOKE_BINARY: binary, KG_SMOKE_DIR: dir, ...envOf(c, pod) };
      env.KG_CLUSTER_FILE = clusterFile;
      if (env.TMPDIR) env.TMPDIR = root;
      const p = start([...c.command, ...(c.args || []).map((a) => local(sts, a))], env, dir, pod);
      p.pod = pod;
      procs.push(p);
      pods.push(p);
    }
    // The front end reaches each pod by its name in the cluster file: map them to here. On
    // TLS links the names stay (the certificates carry them) and resolve to 127.0.0.1.
    const tlsLinks = (fc.args || []).some((a) => a.startsWith('--partition_tls_ca='));
    const addr = new Map();
    for (const p of pods) {
      p.addr = (await serving(p, 20000)).replace(/^0\.0\.0\.0:/, '127.0.0.1:');
      addr.set(p.label, p.addr);
    }
    const hosts = [];
    const localText = clusterText.split('\n').map((line) => line.replace(/^(\s*server\s+)(\S+?):\d+/, (m, lead, host) => {
      const a = addr.get(host.split('.')[0]);
      if (!a) return m;
      if (!tlsLinks) return `${lead}${a}`;
      hosts.push(host);
      return `${lead}${host}:${a.split(':').pop()}`;
    })).join('\n');
    const localCluster = path.join(root, 'cluster-local.txt');
    fs.writeFileSync(localCluster, localText);
    const hostsFile = path.join(root, 'hosts');
    fs.writeFileSync(hostsFile, `127.0.0.1 localhost ${hosts.join(' ')}\n::1 localhost\n`);
    const feDir = path.join(root, 'frontend');
    let feArgv = [binary, ...(fc.command || []).slice(1), ...(fc.args || []).map((a) => local(fe, a)), '--host=127.0.0.1', '--port=0',
      '--metrics_port=-1', `--port_file=${path.join(feDir, 'port')}`, `--cluster_file=${localCluster}`,
      `--startup_timeout_ms=${frontendStartupMs}`];
    if (secrets.size > 0) feArgv.push('--tls_reload_interval_s=1');
    if (tlsLinks) feArgv = withHosts(hostsFile, feArgv);
    const feProc = start(feArgv, { PATH: '/usr/bin:/bin', HOME: root, TMPDIR: root }, feDir, fe.metadata.name);
    feProc.pod = `${fe.metadata.name}-0`;
    procs.push(feProc);
    feProc.addr = (await serving(feProc, 25000)).replace(/^0\.0\.0\.0:/, '127.0.0.1:');

    if (secrets.size > 0) {
      // Every exec probe, with this kgctl in place of the image's, on each pod's own port.
      const probe = async (w, container, p, kind) => {
        const spec = container[kind];
        if (!spec || !spec.exec) return null;
        const [from] = (spec.exec.command.join(' ').match(/\S*\/kgctl\b/) || []);
        const argv = spec.exec.command.map((a) => local(w, a)
          .split(from || '\0').join(kgctl)
          .replace(/--addr=\S+?:\d+/g, `--addr=${p.addr}`));
        const r = await run(argv, { PATH: '/usr/bin:/bin', HOME: root, ...envOf(container, p.pod) },
          (spec.timeoutSeconds || 1) * 1000);
        return r.status === 0 && /SERVING/.test(r.out) ? null : `${p.label}: ${kind} failed (exit ${r.status}): ${r.out.split('\n').slice(-2).join(' | ')}`;
      };
      for (const [w, container, ps] of [[sts, c, pods], [fe, fc, [feProc]]]) {
        for (const p of ps) {
          for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
            const problem = await probe(w, container, p, kind);
            if (problem) errors.push(problem);
          }
        }
      }
      // A client as README.md connects through a port-forward: the public CA, the name
      // kg-frontend, the token; without the token the call is refused.
      if (errors.length === 0 && (fc.args || []).some((a) => a.startsWith('--auth_tokens='))) {
        const client = [kgctl, `--addr=${feProc.addr}`, '--deadline=5000'];
        if (secrets.has('kg-public-tls')) client.push(`--tls_ca=${path.join(root, 'secrets', 'kg-public-tls', 'ca.crt')}`, '--tls_server_name=kg-frontend');
        const env = { PATH: '/usr/bin:/bin', HOME: root };
        const withToken = await run([...client, `--token=${token}`, 'cluster-info'], env, 10000);
        if (withToken.status !== 0) errors.push(`kgctl cluster-info with the token failed: ${withToken.out}`);
        const without = await run([...client, 'cluster-info'], env, 10000);
        if (without.status === 0 || !/UNAUTHENTICATED/.test(without.out)) errors.push(`kgctl cluster-info without a token was not refused UNAUTHENTICATED: ${without.out}`);
      }
      // Rotation: a new public certificate (of a new CA) swapped in as the kubelet updates a
      // Secret volume; the front end's probe, trusting the new CA, must pass within ~5 s.
      const publicTls = secrets.get('kg-public-tls');
      if (errors.length === 0 && publicTls) {
        const renewed = path.join(root, 'renewed');
        makeCerts(renewed, replicas);
        writeSecretVolume(secretDir('kg-public-tls'), readDir(path.join(renewed, 'kg-public-tls')), publicTls[0].vol);
        const deadline = Date.now() + 5000;
        let problem = 'no probe';
        while (Date.now() < deadline) {
          problem = await probe(fe, fc, feProc, 'readinessProbe');
          if (!problem) break;
          await sleep(250);
        }
        if (problem) errors.push(`after the kg-public-tls volume changed, the front end did not serve the new certificate within 5 s (--tls_reload_interval_s=1): ${problem}`);
      }
    }
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

module.exports = { smokeStart, secureStartProblem };
