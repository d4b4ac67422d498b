'use strict';
// Cross-checks of one rendered kustomization that no schema can make: that the cluster file
// names exactly the StatefulSet's pods and splits 0..P-1 among them, that each pod's
// entrypoint derives its own partitions, that selectors select, that probes and scrape
// annotations point at real ports, that termination outlasts the drain, that the HPA and the
// PDBs target the workloads, resources, the security context, writable paths, and that every
// kg_server flag exists (when the binary is built).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseClusterFile, parsePartitionList } = require('./cluster');
const { runEntrypoint } = require('./entrypoint');
const { splitImage, CLUSTER_SCOPED } = require('./kustomize');

// kg_server's defaults for the flags the checks read, used when a flag isn't given and the
// binary isn't built (otherwise its --helpfull defaults are used).
const FLAG_DEFAULTS = { drain_timeout_ms: '5000', startup_timeout_ms: '30000', host: '127.0.0.1' };
const KUBERNETES_DEFAULT_GRACE_SECONDS = 30;
const SKIPPED = Symbol('skipped');

// --- helpers ---------------------------------------------------------------------------

function ref(o) {
  return `${o.kind}/${o.metadata.name}`;
}

function podTemplate(o) {
  return o.spec && o.spec.template ? o.spec.template : null;
}

function selectorMatches(selector, labels) {
  if (!selector) return false;
  const l = labels || {};
  const ml = selector.matchLabels || {};
  const exprs = selector.matchExpressions || [];
  if (Object.keys(ml).length === 0 && exprs.length === 0) return true;
  for (const [k, v] of Object.entries(ml)) if (l[k] !== v) return false;
  for (const e of exprs) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    const values = e.values || [];
    if (e.operator === 'In' && !(has && values.includes(l[e.key]))) return false;
    if (e.operator === 'NotIn' && has && values.includes(l[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

// Quantities ("500m", "4Gi", "1.5", "2e3") as numbers.
function quantity(q) {
  if (typeof q === 'number') return q;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(String(q));
  if (!m) return NaN;
  const scale = {
    m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  };
  return Number(m[1]) * (m[2] ? scale[m[2]] : 1);
}

// Flags of an argv (after the program): Map name -> value (true for a bare --flag).
function parseFlags(argv, where, errors) {
  const flags = new Map();
  for (const a of argv) {
    const m = /^--?([A-Za-z0-9_]+)(?:=([\s\S]*))?$/.exec(a);
    if (!m) {
      errors.push(`${where}: "${a}" is not a --flag=value argument`);
      continue;
    }
    if (flags.has(m[1])) errors.push(`${where}: --${m[1]} given twice`);
    flags.set(m[1], m[2] === undefined ? true : m[2]);
  }
  return flags;
}

// kg_server --helpfull: Map flag -> default (as printed, quotes removed).
function parseHelp(text) {
  const flags = new Map();
  const re = /^\s+--([A-Za-z0-9_]+) \(([\s\S]*?)\);\s+default: ([^;\n]*);/gm;
  let m;
  while ((m = re.exec(text)) !== null) flags.set(m[1], m[3].replace(/^"(.*)"$/, '$1'));
  return flags;
}

function mountFor(container, filePath) {
  let best = null;
  for (const vm of container.volumeMounts || []) {
    const root = vm.mountPath.replace(/\/+$/, '');
    if (filePath === root || filePath.startsWith(`${root}/`)) {
      if (!best || root.length > best.mountPath.replace(/\/+$/, '').length) best = vm;
    }
  }
  return best;
}

// The volume behind a file path in a container: null, or { vm, vol }.
function volumeOf(w, c, filePath) {
  const vm = mountFor(c, filePath);
  if (!vm) return null;
  const vol = (podTemplate(w).spec.volumes || []).find((v) => v.name === vm.name);
  return { vm, vol };
}

// Why a file that kg_server or kgctl reads (a certificate, key, CA or token file) would not
// be there, or not be secret, or not follow a Secret's updates: null when it's fine.
function mountedFileProblem(w, c, filePath, secretOnly) {
  if (!filePath.startsWith('/')) return 'not an absolute path';
  const found = volumeOf(w, c, filePath);
  if (!found) return 'no volume is mounted there';
  const { vm, vol } = found;
  if (!vol) return `volume ${vm.name} is mounted but not defined`;
  if (secretOnly && !vol.secret) return `a private key or token must come from a Secret volume (${vol.name} is not one)`;
  if (!vol.secret && !vol.configMap) return `volume ${vol.name} is neither a Secret nor a ConfigMap`;
  if (vm.subPath || vm.subPathExpr) return `${vm.mountPath} is mounted with subPath, which never sees the Secret's updates (no rotation)`;
  const rel = filePath.slice(vm.mountPath.replace(/\/+$/, '').length + 1);
  const items = (vol.secret || vol.configMap).items;
  if (items && !items.some((it) => it.path === rel)) return `${rel} is not among the items of volume ${vol.name}`;
  if (!items && rel.includes('/')) return `${rel} is in a subdirectory of volume ${vol.name}, where its keys never are`;
  return null;
}

// The kgctl call of an exec probe: [kgctl, args...] or [/bin/sh, -c, "[exec] kgctl args..."],
// the script being plain words (quotes and $VAR allowed; no other shell syntax).
function kgctlCall(command) {
  if (command.length >= 3 && /^(\/usr)?\/bin\/(da)?sh$/.test(command[0]) && command[1] === '-c') {
    const script = command[2];
    if (/[;&|<>`\\\n]|\$\(/.test(script)) throw new Error(`the shell command ${JSON.stringify(script)} is more than one kgctl call`);
    const words = [];
    const re = /(?:"([^"]*)"|'([^']*)'|([^\s"']+))+/g;
    let m;
    while ((m = re.exec(script)) !== null) words.push(m[0].replace(/^"|"$|^'|'$/g, '').replace(/"|'/g, ''));
    if (words[0] === 'exec') words.shift();
    if (words.length === 0) throw new Error('an empty shell command');
    return { program: words[0], args: words.slice(1), shell: true };
  }
  if (command.length === 0) throw new Error('an exec probe without a command');
  return { program: command[0], args: command.slice(1), shell: false };
}

// Where the repository's Dockerfile installs kgctl (a COPY whose sources include a kgctl),
// or null when there is no Dockerfile or no such line.
function dockerfileKgctl(dockerfile) {
  if (!fs.existsSync(dockerfile)) return null;
  for (const line of fs.readFileSync(dockerfile, 'utf8').replace(/\\\n/g, ' ').split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== 'COPY') continue;
    const rest = words.slice(1).filter((x) => !x.startsWith('--'));
    const dest = rest.pop();
    if (rest.some((src) => path.basename(src) === 'kgctl')) return dest.endsWith('/') ? `${dest}kgctl` : dest;
  }
  return null;
}

// The entrypoint's result for a container, pod and cluster file (deterministic: the same
// inputs are run once per process, which keeps the check's own tests fast).
const entrypointRuns = new Map();
function cachedEntrypoint(container, pod, namespace, clusterPath, copy, clusterText) {
  const key = JSON.stringify([container.command, container.args, container.env, pod, namespace, clusterPath, clusterText]);
  if (!entrypointRuns.has(key)) {
    entrypointRuns.set(key, runEntrypoint(container, {
      podName: pod,
      env: { NAMESPACE: namespace || 'default' },
      files: { [clusterPath]: copy },
    }));
  }
  return entrypointRuns.get(key);
}

// --- the checks ------------------------------------------------------------------------

function crossCheck(objects, options = {}) {
  const { help = null, pinnedImages = false, kgctlPath = null } = options;
  const errors = [];
  const notes = [];
  let passed = 0;
  let skipped = 0;
  const check = (name, fn) => {
    const before = errors.length;
    try {
      if (fn() === SKIPPED) {
        skipped++;
        return;
      }
    } catch (e) {
      errors.push(`${name}: ${e.message}`);
    }
    if (errors.length === before) passed++;
  };
  const defaults = { ...FLAG_DEFAULTS };
  if (help) for (const k of Object.keys(defaults)) if (help.has(k)) defaults[k] = help.get(k);

  // Identity and namespaces.
  check('names', () => {
    const seen = new Set();
    for (const o of objects) {
      const key = `${o.apiVersion.split('/').length > 1 ? o.apiVersion.split('/')[0] : 'core'}/${o.kind}/${o.metadata.namespace || ''}/${o.metadata.name}`;
      if (seen.has(key)) errors.push(`${ref(o)} is defined twice`);
      seen.add(key);
    }
  });
  const namespaces = new Set(objects.filter((o) => !CLUSTER_SCOPED.has(o.kind)).map((o) => o.metadata.namespace || ''));
  const namespace = namespaces.size === 1 ? [...namespaces][0] : null;
  check('namespace', () => {
    if (namespaces.size > 1) errors.push(`objects are spread over namespaces ${[...namespaces].map((n) => n || '(none)').join(', ')}`);
    for (const ns of objects.filter((o) => o.kind === 'Namespace')) {
      if (ns.metadata.name !== namespace) errors.push(`Namespace ${ns.metadata.name} is not the objects' namespace (${namespace || 'none'})`);
    }
  });

  const statefulSets = objects.filter((o) => o.kind === 'StatefulSet');
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  check('workloads', () => {
    if (statefulSets.length !== 1) errors.push(`expected one StatefulSet (the partition servers), found ${statefulSets.length}`);
    if (deployments.length !== 1) errors.push(`expected one Deployment (the front ends), found ${deployments.length}`);
  });
  const sts = statefulSets[0];
  const fe = deployments[0];
  const workloads = [sts, fe].filter(Boolean);
  const firstContainer = (w) => (podTemplate(w) && podTemplate(w).spec.containers ? podTemplate(w).spec.containers[0] : null);
  const stsC = sts && firstContainer(sts);
  const feC = fe && firstContainer(fe);
  if (!sts || !fe || !stsC || !feC) {
    if (sts && !stsC) errors.push(`${ref(sts)} has no container`);
    if (fe && !feC) errors.push(`${ref(fe)} has no container`);
    return { errors, notes, passed, skipped };
  }
  const replicas = sts.spec.replicas === undefined ? 1 : sts.spec.replicas;
  const byName = (kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);

  // The front end's command line (explicit command, so that nothing comes from the image).
  let feFlags = new Map();
  check('front end command', () => {
    const cmd = feC.command || [];
    if (cmd.length === 0 || path.basename(cmd[0]) !== 'kg_server') {
      throw new Error(`${ref(fe)}: the command must run kg_server explicitly (found ${JSON.stringify(cmd)})`);
    }
    feFlags = parseFlags([...cmd.slice(1), ...(feC.args || [])], ref(fe), errors);
    if (feFlags.get('role') !== 'frontend') errors.push(`${ref(fe)}: --role=frontend expected (found ${feFlags.get('role')})`);
    if (!feFlags.has('cluster_file')) errors.push(`${ref(fe)}: no --cluster_file`);
  });

  // The cluster file: the front end's --cluster_file and the partition entrypoint's
  // KG_CLUSTER_FILE must be the same key of the same ConfigMap.
  const resolveFile = (w, c, filePath) => {
    if (typeof filePath !== 'string' || !filePath.startsWith('/')) throw new Error(`${ref(w)}: "${filePath}" is not an absolute path`);
    const vm = mountFor(c, filePath);
    if (!vm) throw new Error(`${ref(w)}: no volume is mounted at ${filePath}`);
    const vol = (podTemplate(w).spec.volumes || []).find((v) => v.name === vm.name);
    if (!vol || !vol.configMap) throw new Error(`${ref(w)}: ${filePath} is not in a ConfigMap volume`);
    if (vm.subPath) throw new Error(`${ref(w)}: ${vm.mountPath} uses subPath, which never sees ConfigMap updates`);
    const rel = filePath.slice(vm.mountPath.replace(/\/+$/, '').length + 1);
    let key = rel;
    if (vol.configMap.items) {
      const item = vol.configMap.items.find((it) => it.path === rel);
      if (!item) throw new Error(`${ref(w)}: ${filePath} is not among the items of volume ${vol.name}`);
      key = item.key;
    }
    const cm = byName('ConfigMap', vol.configMap.name);
    if (!cm) throw new Error(`${ref(w)}: volume ${vol.name} names ConfigMap ${vol.configMap.name}, which is not rendered`);
    if (!cm.data || typeof cm.data[key] !== 'string') throw new Error(`${ref(w)}: ConfigMap ${cm.metadata.name} has no key "${key}"`);
    return { cm: cm.metadata.name, key, text: cm.data[key] };
  };
  let cluster = null;
  let clusterFile = null;
  const stsEnv = Object.fromEntries((stsC.env || []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
  check('cluster file', () => {
    const feFile = resolveFile(fe, feC, feFlags.get('cluster_file'));
    if (!stsEnv.KG_CLUSTER_FILE) throw new Error(`${ref(sts)}: no KG_CLUSTER_FILE in the container's env (the entrypoint reads it)`);
    const stsFile = resolveFile(sts, stsC, stsEnv.KG_CLUSTER_FILE);
    if (feFile.cm !== stsFile.cm || feFile.key !== stsFile.key) {
      throw new Error(`the front ends read ${feFile.cm}/${feFile.key} but the partition servers ${stsFile.cm}/${stsFile.key}`);
    }
    clusterFile = stsFile;
    cluster = parseClusterFile(stsFile.text, `ConfigMap ${stsFile.cm} ${stsFile.key}`);
  });

  // Partition servers: run the entrypoint for every pod and read the argv it execs.
  const podArgv = new Map();
  check('partition entrypoint', () => {
    if (!clusterFile) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-k8s-cluster-'));
    try {
      const copy = path.join(dir, 'cluster.txt');
      fs.writeFileSync(copy, clusterFile.text);
      runPods(copy);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  function runPods(copy) {
    // Every pod, then the first ordinal past them that the cluster file doesn't name.
    const named = new Set(cluster ? cluster.servers.map((s) => s.host.split('.')[0]) : []);
    let unnamed = replicas;
    while (named.has(`${sts.metadata.name}-${unnamed}`)) unnamed++;
    for (let i = 0; i <= replicas; i++) {
      const pod = `${sts.metadata.name}-${i === replicas ? unnamed : i}`;
      const r = cachedEntrypoint(stsC, pod, namespace, stsEnv.KG_CLUSTER_FILE, copy, clusterFile.text);
      if (i === replicas) {
        // A pod that the file names nowhere must refuse to start.
        if (r.status === 0 || r.argv !== null) {
          errors.push(`${pod}, which the cluster file doesn't name, started kg_server instead of refusing: ${JSON.stringify(r.argv)}`);
        }
        continue;
      }
      if (r.status !== 0 || r.argv === null) {
        errors.push(`${pod}: the entrypoint failed (exit ${r.status}): ${r.stderr}`);
        continue;
      }
      podArgv.set(pod, r.argv);
    }
  }
  const stsFlags = new Map();
  check('partition servers', () => {
    if (!cluster) return;
    const line = new Map();
    for (const s of cluster.servers) {
      const first = s.host.split('.')[0];
      if (line.has(first)) errors.push(`cluster file line ${s.line}: ${first} is named twice (line ${line.get(first).line})`);
      line.set(first, s);
    }
    for (let i = 0; i < replicas; i++) {
      const pod = `${sts.metadata.name}-${i}`;
      const s = line.get(pod);
      if (!s) {
        errors.push(`cluster file: no server line for ${pod} (${ref(sts)} has ${replicas} replicas)`);
        continue;
      }
      const argv = podArgv.get(pod);
      if (!argv) continue;
      const flags = parseFlags(argv, pod, errors);
      if (i === 0) for (const [k, v] of flags) stsFlags.set(k, v);
      if (flags.get('role') !== 'partition') errors.push(`${pod}: --role=partition expected (found ${flags.get('role')})`);
      if (flags.get('partition_count') !== String(cluster.count)) {
        errors.push(`${pod}: --partition_count=${flags.get('partition_count')} but the cluster file has ${cluster.count}`);
      }
      let hosted = [];
      try {
        hosted = parsePartitionList(String(flags.get('partitions') || ''), cluster.count);
      } catch (e) {
        errors.push(`${pod}: --partitions=${flags.get('partitions')}: ${e.message}`);
      }
      if (hosted.join(',') !== s.partitions.join(',')) {
        errors.push(`${pod}: --partitions=${flags.get('partitions')} but its cluster file line ${s.line} says ${s.list}`);
      }
      if (flags.get('port') !== String(s.port)) {
        errors.push(`${pod}: --port=${flags.get('port')} but the cluster file names port ${s.port} (line ${s.line})`);
      }
      // POD.SERVICE, or POD.SERVICE.NAMESPACE.svc[.cluster domain] in the objects' namespace.
      const parts = s.host.split('.');
      if (parts[1] !== sts.spec.serviceName) {
        errors.push(`cluster file line ${s.line}: ${s.host} is not under the StatefulSet's Service ${sts.spec.serviceName}`);
      } else if (parts.length > 2) {
        if (parts[2] !== namespace) {
          errors.push(`cluster file line ${s.line}: ${s.host} names namespace ${parts[2]} but the objects are in ${namespace || 'no namespace'} (use POD.SERVICE, which resolves in any namespace)`);
        } else if (parts[3] !== 'svc') {
          errors.push(`cluster file line ${s.line}: ${s.host} is not POD.SERVICE.NAMESPACE.svc[.DOMAIN]`);
        }
      }
    }
    for (const s of cluster.servers) {
      const m = new RegExp(`^${sts.metadata.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)$`).exec(s.host.split('.')[0]);
      if (!m || Number(m[1]) >= replicas || String(Number(m[1])) !== m[1]) {
        errors.push(`cluster file line ${s.line}: ${s.host} is not a pod of ${ref(sts)} (replicas ${replicas})`);
      }
    }
  });

  // Every container: flags known to kg_server, listening beyond loopback, ports.
  const sides = [[fe, feC, feFlags], [sts, stsC, stsFlags]];
  check('kg_server flags', () => {
    if (!help) {
      notes.push('kg_server is not built: flags not checked against kg_server --helpfull');
      return SKIPPED;
    }
    for (const [w, , flags] of sides) {
      for (const [k, v] of flags) {
        if (!help.has(k)) {
          errors.push(`${ref(w)}: --${k} is not a kg_server flag`);
        } else if (/^-?\d+$/.test(help.get(k)) && !/^-?\d+$/.test(String(v))) {
          errors.push(`${ref(w)}: --${k}=${v} is not an integer`);
        }
      }
    }
  });
  const flag = (flags, k) => (flags.has(k) ? String(flags.get(k)) : defaults[k]);
  check('listen address', () => {
    for (const [w, , flags] of sides) {
      const host = flag(flags, 'host');
      if (host !== '0.0.0.0' && host !== '::' && host !== '[::]') {
        errors.push(`${ref(w)}: --host=${host} listens where neither probes nor peers reach (use 0.0.0.0)`);
      }
    }
  });
  const containerPort = (c, nameOrNumber) => (c.ports || []).find((p) => (typeof nameOrNumber === 'string'
    ? p.name === nameOrNumber : p.containerPort === nameOrNumber));
  check('container ports', () => {
    for (const [w, c, flags] of sides) {
      for (const [name, k] of [['grpc', 'port'], ['metrics', 'metrics_port']]) {
        const p = containerPort(c, name);
        if (!p) errors.push(`${ref(w)}: no container port named ${name}`);
        else if (String(p.containerPort) !== String(flags.get(k))) errors.push(`${ref(w)}: port ${name} is ${p.containerPort} but --${k}=${flags.get(k)}`);
      }
    }
  });

  // Volumes: every mount names a volume; Secret volumes are mounted read-only, as whole
  // directories (a subPath never sees updates), readable by uid 10001 (world-readable, or
  // group-readable with fsGroup 10001); nothing is mounted inside a ConfigMap or Secret
  // volume (the runtime can't make a mount point in a read-only volume).
  check('volumes and secrets', () => {
    for (const w of workloads) {
      const spec = podTemplate(w).spec;
      const claims = (w.spec.volumeClaimTemplates || []).map((t) => t.metadata.name);
      const fsGroup = (spec.securityContext || {}).fsGroup;
      for (const c of spec.containers) {
        const mounts = c.volumeMounts || [];
        for (const vm of mounts) {
          const vol = (spec.volumes || []).find((v) => v.name === vm.name);
          if (!vol && !claims.includes(vm.name)) {
            errors.push(`${ref(w)} ${c.name}: volumeMount ${vm.mountPath} names volume ${vm.name}, which the pod doesn't define`);
            continue;
          }
          if (vol && vol.secret) {
            if (vm.readOnly !== true) errors.push(`${ref(w)} ${c.name}: Secret volume ${vm.name} must be mounted readOnly`);
            if (vm.subPath || vm.subPathExpr) errors.push(`${ref(w)} ${c.name}: Secret volume ${vm.name} is mounted with subPath, which never sees the Secret's updates`);
            const modes = [vol.secret.defaultMode === undefined ? 0o644 : vol.secret.defaultMode,
              ...(vol.secret.items || []).filter((it) => it.mode !== undefined).map((it) => it.mode)];
            for (const mode of modes) {
              if (!((mode & 0o004) || ((mode & 0o040) && fsGroup === 10001))) {
                errors.push(`${ref(w)}: Secret volume ${vm.name}: mode 0${mode.toString(8)} is not readable by uid 10001 (needs world read, or group read with fsGroup 10001; fsGroup is ${fsGroup === undefined ? 'unset' : fsGroup})`);
              }
            }
          }
          const parent = mounts.filter((o) => o !== vm && vm.mountPath.startsWith(`${o.mountPath.replace(/\/+$/, '')}/`))
            .map((o) => (spec.volumes || []).find((v) => v.name === o.name))
            .find((v) => v && (v.configMap || v.secret || v.projected || v.downwardAPI));
          if (parent) errors.push(`${ref(w)} ${c.name}: ${vm.mountPath} is inside read-only volume ${parent.name}, where no mount point can be made`);
        }
      }
    }
  });

  // TLS and tokens: every file flag lies on a mounted Secret (keys and the token file) or
  // ConfigMap volume; the flags come in working sets; the partition links agree on both
  // sides: TLS on one side needs TLS on the other, and client certificates when required.
  const FILE_FLAGS = {
    tls_cert: false, tls_key: true, tls_client_ca: false, partition_tls_ca: false,
    partition_tls_cert: false, partition_tls_key: true, auth_tokens: true,
  };
  check('TLS and tokens', () => {
    for (const [w, c, flags] of sides) {
      for (const [k, secretOnly] of Object.entries(FILE_FLAGS)) {
        if (!flags.get(k)) continue;
        const problem = mountedFileProblem(w, c, String(flags.get(k)), secretOnly);
        if (problem) errors.push(`${ref(w)}: --${k}=${flags.get(k)}: ${problem}`);
      }
      const has = (k) => Boolean(flags.get(k));
      if (has('tls_cert') !== has('tls_key')) errors.push(`${ref(w)}: --tls_cert and --tls_key go together`);
      if (has('tls_client_ca') && !has('tls_cert')) errors.push(`${ref(w)}: --tls_client_ca needs --tls_cert and --tls_key (kg_server refuses to start)`);
      if (has('partition_tls_cert') !== has('partition_tls_key')) errors.push(`${ref(w)}: --partition_tls_cert and --partition_tls_key go together`);
      if (has('partition_tls_cert') && !has('partition_tls_ca')) errors.push(`${ref(w)}: --partition_tls_cert needs --partition_tls_ca (kg_server refuses to start)`);
      if (w === sts) {
        for (const k of ['partition_tls_ca', 'partition_tls_cert', 'partition_tls_key', 'auth_tokens']) {
          if (has(k)) errors.push(`${ref(w)}: --${k} is for front ends; a partition server refuses to start with it`);
        }
      }
    }
    const serverTls = Boolean(stsFlags.get('tls_cert'));
    const linkTls = Boolean(feFlags.get('partition_tls_ca'));
    if (serverTls && !linkTls) errors.push(`${ref(sts)} serves TLS but ${ref(fe)} connects to it in plain text (no --partition_tls_ca)`);
    if (!serverTls && linkTls) errors.push(`${ref(fe)} connects to the partition servers over TLS (--partition_tls_ca) but ${ref(sts)} serves plain text (no --tls_cert)`);
    if (serverTls && !stsFlags.get('tls_client_ca')) errors.push(`${ref(sts)}: TLS without --tls_client_ca lets anyone who reaches port ${stsFlags.get('port')} read and write its partitions`);
    if (stsFlags.get('tls_client_ca') && !feFlags.get('partition_tls_cert')) {
      errors.push(`${ref(sts)} requires client certificates (--tls_client_ca) but ${ref(fe)} presents none (--partition_tls_cert, --partition_tls_key)`);
    }
  });

  // Probes: grpc.health.v1 on the gRPC port; the startup probe outlasts the start-up. A
  // port serving TLS can't take the kubelet's gRPC probe (plain text only): its probes must
  // be exec probes running the image's kgctl health over TLS on that port.
  const clusterHosts = new Map((cluster ? cluster.servers : []).map((s) => [s.host.split('.')[0], s.host]));
  check('probes', () => {
    for (const [w, c, flags] of sides) {
      const tlsPort = Boolean(flags.get('tls_cert'));
      for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const p = c[kind];
        if (!p) {
          errors.push(`${ref(w)}: no ${kind}`);
          continue;
        }
        if (p.grpc && tlsPort) {
          errors.push(`${ref(w)}: ${kind} is a gRPC probe but port ${flags.get('port')} serves TLS (--tls_cert): the kubelet's gRPC probe speaks plain text only and would always fail; use an exec probe running kgctl health with the TLS flags`);
        } else if (p.grpc) {
          const port = containerPort(c, p.grpc.port);
          if (!port) errors.push(`${ref(w)}: ${kind} probes port ${p.grpc.port}, which is not a container port`);
          else if (String(port.containerPort) !== String(flags.get('port'))) errors.push(`${ref(w)}: ${kind} probes port ${p.grpc.port}, not the gRPC port --port=${flags.get('port')}`);
        } else if (p.exec && tlsPort) {
          checkHealthExec(w, c, flags, kind, p);
        } else {
          errors.push(`${ref(w)}: ${kind} is not a gRPC probe (grpc.health.v1)${tlsPort ? ' nor a kgctl health exec probe' : ''}`);
        }
        if (kind !== 'readinessProbe' && p.successThreshold !== undefined && p.successThreshold !== 1) {
          errors.push(`${ref(w)}: ${kind}.successThreshold must be 1`);
        }
      }
      const s = c.startupProbe;
      if (s && w === fe) {
        const budget = (s.initialDelaySeconds || 0) + (s.periodSeconds || 10) * (s.failureThreshold || 3);
        const wait = Number(flag(flags, 'startup_timeout_ms')) / 1000;
        if (budget <= wait) errors.push(`${ref(w)}: the startup probe gives up after ${budget} s, before --startup_timeout_ms (${wait} s)`);
      }
    }
  });
  // An exec probe on a TLS port: kgctl (where the image installs it) health, on the pod's
  // own gRPC port, with a CA, a client certificate when the port requires one, files on
  // mounted volumes, a deadline within the probe's timeout, and (partition servers) the
  // name the cluster file gives the pod, which its certificate must carry.
  function checkHealthExec(w, c, flags, kind, p) {
    const where = `${ref(w)}: ${kind}`;
    let call;
    try {
      call = kgctlCall(p.exec.command || []);
    } catch (e) {
      errors.push(`${where}: ${e.message}`);
      return;
    }
    if (path.basename(call.program) !== 'kgctl') {
      errors.push(`${where} runs ${call.program}, not kgctl health`);
      return;
    }
    if (kgctlPath && call.program !== kgctlPath) errors.push(`${where} runs ${call.program}, but the image installs kgctl at ${kgctlPath} (Dockerfile)`);
    const args = parseFlags(call.args.filter((a) => a.startsWith('-')), where, errors);
    const positional = call.args.filter((a) => !a.startsWith('-'));
    if (positional[0] !== 'health') errors.push(`${where} runs kgctl ${positional.join(' ') || '(no command)'}, not kgctl health`);
    const addr = /^(127\.0\.0\.1|localhost|\[::1\]):(\d+)$/.exec(String(args.get('addr') || '127.0.0.1:50051'));
    if (!addr) errors.push(`${where}: --addr=${args.get('addr')} is not the pod's own loopback address`);
    else if (addr[2] !== String(flags.get('port'))) errors.push(`${where} checks port ${addr[2]}, not the gRPC port --port=${flags.get('port')}`);
    if (!args.get('tls_ca') && args.get('tls') !== true) errors.push(`${where}: kgctl without --tls_ca (or --tls) speaks plain text to a TLS port`);
    if (flags.get('tls_client_ca') && !(args.get('tls_cert') && args.get('tls_key'))) {
      errors.push(`${where}: the port requires a client certificate (--tls_client_ca) but kgctl presents none (--tls_cert, --tls_key)`);
    }
    for (const k of ['tls_ca', 'tls_cert', 'tls_key']) {
      if (!args.get(k)) continue;
      const problem = mountedFileProblem(w, c, String(args.get(k)), k === 'tls_key');
      if (problem) errors.push(`${where}: --${k}=${args.get(k)}: ${problem}`);
    }
    const deadline = args.has('deadline') ? Number(args.get('deadline')) : 10000;
    const timeout = (p.timeoutSeconds || 1) * 1000;
    if (!(deadline < timeout)) errors.push(`${where}: kgctl's --deadline ${deadline} ms is not shorter than timeoutSeconds (${timeout / 1000} s)`);
    if (w === sts) {
      const name = args.get('tls_server_name');
      for (let i = 0; i < replicas; i++) {
        const pod = `${sts.metadata.name}-${i}`;
        const host = clusterHosts.get(pod);
        if (!host) continue;
        const checked = name === undefined ? '127.0.0.1' : String(name).replace(/\$\{POD_NAME\}|\$POD_NAME\b/g, pod);
        if (checked !== host) {
          errors.push(`${where} on ${pod} checks the name ${checked} in the certificate, but the front ends check ${host} (the cluster file's), which its certificate must carry`);
          break;
        }
      }
    }
  }
  // Termination: grace > preStop + drain.
  check('termination', () => {
    for (const [w, c, flags] of sides) {
      const spec = podTemplate(w).spec;
      const grace = spec.terminationGracePeriodSeconds === undefined ? KUBERNETES_DEFAULT_GRACE_SECONDS : spec.terminationGracePeriodSeconds;
      const drain = Number(flag(flags, 'drain_timeout_ms')) / 1000;
      let preStop = 0;
      const hook = c.lifecycle && c.lifecycle.preStop;
      if (hook && hook.sleep) preStop = Number(hook.sleep.seconds);
      else if (hook && hook.exec) {
        const cmd = hook.exec.command || [];
        if (cmd.length === 2 && path.basename(cmd[0]) === 'sleep' && /^\d+$/.test(cmd[1])) preStop = Number(cmd[1]);
        else errors.push(`${ref(w)}: preStop ${JSON.stringify(cmd)}: only a sleep's duration can be counted`);
      } else if (hook) errors.push(`${ref(w)}: preStop: only sleep hooks are understood`);
      if (!(grace > preStop + drain)) {
        errors.push(`${ref(w)}: terminationGracePeriodSeconds ${grace} is not longer than preStop ${preStop} s + --drain_timeout_ms ${drain} s`);
      }
    }
  });

  // Services select the pods of exactly one workload and reach container ports.
  const services = objects.filter((o) => o.kind === 'Service');
  check('services', () => {
    for (const svc of services) {
      const selected = workloads.filter((w) => selectorMatches({ matchLabels: svc.spec.selector || {} }, podTemplate(w).metadata.labels));
      if (!svc.spec.selector || Object.keys(svc.spec.selector).length === 0) {
        errors.push(`${ref(svc)} has no selector`);
        continue;
      }
      if (selected.length !== 1) {
        errors.push(`${ref(svc)} selects the pods of ${selected.length} workloads (${selected.map(ref).join(', ') || 'none'})`);
        continue;
      }
      const c = firstContainer(selected[0]);
      for (const p of svc.spec.ports || []) {
        const target = p.targetPort === undefined ? p.port : p.targetPort;
        if (!containerPort(c, target)) errors.push(`${ref(svc)} port ${p.name || p.port}: target ${target} is not a port of ${ref(selected[0])}`);
      }
    }
    const headless = byName('Service', sts.spec.serviceName);
    if (!headless) {
      errors.push(`${ref(sts)}: its serviceName ${sts.spec.serviceName} is not a rendered Service`);
    } else {
      if (headless.spec.clusterIP !== 'None') errors.push(`${ref(headless)} must be headless (clusterIP: None) for per-pod DNS names`);
      if (!selectorMatches({ matchLabels: headless.spec.selector || {} }, podTemplate(sts).metadata.labels)) {
        errors.push(`${ref(headless)} does not select the pods of ${ref(sts)}`);
      }
    }
    if (!services.some((s) => s !== headless && selectorMatches({ matchLabels: s.spec.selector || {} }, podTemplate(fe).metadata.labels))) {
      errors.push(`no Service selects the front ends (${ref(fe)})`);
    }
    for (const w of workloads) {
      if (!selectorMatches(w.spec.selector, podTemplate(w).metadata.labels)) errors.push(`${ref(w)}: its selector doesn't match its own pod template`);
    }
  });

  // PodDisruptionBudgets: one per workload, selecting it alone, never blocking every drain.
  check('disruption budgets', () => {
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    for (const w of workloads) {
      const mine = pdbs.filter((p) => selectorMatches(p.spec.selector, podTemplate(w).metadata.labels));
      if (mine.length !== 1) errors.push(`${ref(w)}: ${mine.length} PodDisruptionBudgets select its pods (expected 1)`);
    }
    for (const p of pdbs) {
      const selected = workloads.filter((w) => selectorMatches(p.spec.selector, podTemplate(w).metadata.labels));
      if (selected.length !== 1) {
        errors.push(`${ref(p)} selects the pods of ${selected.length} workloads (${selected.map(ref).join(', ') || 'none'})`);
        continue;
      }
      const w = selected[0];
      const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === w.metadata.name);
      const count = hpa ? (hpa.spec.minReplicas || 1) : (w.spec.replicas === undefined ? 1 : w.spec.replicas);
      if (p.spec.maxUnavailable !== undefined && (p.spec.maxUnavailable === 0 || p.spec.maxUnavailable === '0%')) {
        errors.push(`${ref(p)}: maxUnavailable 0 blocks every drain`);
      }
      if (typeof p.spec.minAvailable === 'number' && p.spec.minAvailable >= count) {
        errors.push(`${ref(p)}: minAvailable ${p.spec.minAvailable} with ${count} replicas blocks every drain`);
      }
      if (p.spec.minAvailable === '100%') errors.push(`${ref(p)}: minAvailable 100% blocks every drain`);
    }
  });

  // The HPA scales the front ends (and nothing else sets their count).
  check('autoscaler', () => {
    const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler');
    if (hpas.length === 0) errors.push(`no HorizontalPodAutoscaler for ${ref(fe)}`);
    for (const h of hpas) {
      const t = h.spec.scaleTargetRef;
      if (t.kind !== 'Deployment' || t.apiVersion !== 'apps/v1' || t.name !== fe.metadata.name) {
        errors.push(`${ref(h)} targets ${t.apiVersion} ${t.kind} ${t.name}, not apps/v1 Deployment ${fe.metadata.name}`);
      }
      const min = h.spec.minReplicas === undefined ? 1 : h.spec.minReplicas;
      if (min < 1 || min > h.spec.maxReplicas) errors.push(`${ref(h)}: minReplicas ${min} must be between 1 and maxReplicas ${h.spec.maxReplicas}`);
      if (min < 2) errors.push(`${ref(h)}: minReplicas ${min}: a single front end is a single point of failure`);
      for (const m of h.spec.metrics || []) {
        if (m.type === 'Resource' && m.resource.target.type === 'Utilization') {
          const name = m.resource.name;
          for (const c of podTemplate(fe).spec.containers) {
            if (!(c.resources && c.resources.requests && c.resources.requests[name] !== undefined)) {
              errors.push(`${ref(h)} scales on ${name} utilization but container ${c.name} requests no ${name}`);
            }
          }
        }
      }
    }
    if (fe.spec.replicas !== undefined && hpas.length > 0) {
      errors.push(`${ref(fe)} sets replicas while an HPA scales it: every apply would reset the count`);
    }
  });

  // Resources: requests and limits of CPU and memory, requests <= limits.
  check('resources', () => {
    for (const w of workloads) {
      for (const c of podTemplate(w).spec.containers) {
        const r = c.resources || {};
        for (const res of ['cpu', 'memory']) {
          const req = r.requests && r.requests[res];
          const lim = r.limits && r.limits[res];
          if (req === undefined || lim === undefined) {
            errors.push(`${ref(w)} ${c.name}: ${res} needs a request and a limit`);
            continue;
          }
          if (!(quantity(req) > 0) || !(quantity(lim) > 0)) errors.push(`${ref(w)} ${c.name}: ${res} ${req}/${lim} is not a positive quantity`);
          else if (quantity(req) > quantity(lim)) errors.push(`${ref(w)} ${c.name}: ${res} request ${req} is above its limit ${lim}`);
        }
      }
    }
  });

  // Security context (pod or container level): non-root uid 10001, read-only root,
  // no privilege escalation, every capability dropped, RuntimeDefault seccomp.
  check('security context', () => {
    for (const w of workloads) {
      const spec = podTemplate(w).spec;
      const pod = spec.securityContext || {};
      if (spec.hostNetwork || spec.hostPID || spec.hostIPC) errors.push(`${ref(w)}: host namespaces`);
      if ((spec.volumes || []).some((v) => v.hostPath)) errors.push(`${ref(w)}: hostPath volume`);
      // The volume types the Pod Security Standards' restricted profile allows.
      const allowed = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
      for (const v of spec.volumes || []) {
        const type = Object.keys(v).find((k) => k !== 'name');
        if (!allowed.includes(type)) errors.push(`${ref(w)}: volume ${v.name} is of type ${type}, which the restricted profile forbids`);
      }
      if (spec.automountServiceAccountToken !== false) errors.push(`${ref(w)}: kg_server needs no API token (automountServiceAccountToken: false)`);
      for (const c of [...(spec.initContainers || []), ...spec.containers]) {
        const sc = c.securityContext || {};
        const pick = (k) => (sc[k] !== undefined ? sc[k] : pod[k]);
        const where = `${ref(w)} ${c.name}`;
        if (pick('runAsNonRoot') !== true) errors.push(`${where}: runAsNonRoot must be true`);
        if (pick('runAsUser') !== 10001) errors.push(`${where}: runAsUser must be 10001 (the image's kg user)`);
        if (sc.readOnlyRootFilesystem !== true) errors.push(`${where}: readOnlyRootFilesystem must be true`);
        if (sc.allowPrivilegeEscalation !== false) errors.push(`${where}: allowPrivilegeEscalation must be false`);
        if (sc.privileged) errors.push(`${where}: privileged`);
        if (!(sc.capabilities && (sc.capabilities.drop || []).includes('ALL'))) errors.push(`${where}: capabilities must drop ALL`);
        if (sc.capabilities && (sc.capabilities.add || []).length > 0) errors.push(`${where}: adds capabilities`);
        const seccomp = pick('seccompProfile');
        if (!seccomp || seccomp.type !== 'RuntimeDefault') errors.push(`${where}: seccompProfile must be RuntimeDefault`);
      }
    }
  });

  // Writable paths under a read-only root: TMPDIR and --data_dir on volumes.
  check('writable paths', () => {
    for (const [w, c, flags] of sides) {
      const spec = podTemplate(w).spec;
      const tmp = (c.env || []).find((e) => e.name === 'TMPDIR');
      const tmpPath = tmp ? tmp.value : '/tmp';
      const vm = mountFor(c, tmpPath);
      const vol = vm && (spec.volumes || []).find((v) => v.name === vm.name);
      if (!vol || !vol.emptyDir) errors.push(`${ref(w)}: TMPDIR ${tmpPath} is not on an emptyDir (TrainModels writes there; the root is read-only)`);
      else if (!vol.emptyDir.sizeLimit) errors.push(`${ref(w)}: emptyDir ${vol.name} has no sizeLimit`);
      if (flags.has('data_dir') && w === fe) errors.push(`${ref(w)}: a front end keeps no data (--data_dir)`);
    }
    const dataDir = stsFlags.get('data_dir');
    if (typeof dataDir !== 'string' || dataDir === '') {
      errors.push(`${ref(sts)}: no --data_dir: the partitions would live in memory only`);
      return;
    }
    const vm = mountFor(stsC, dataDir);
    const claims = (sts.spec.volumeClaimTemplates || []).map((t) => t.metadata.name);
    if (!vm || !claims.includes(vm.name)) {
      errors.push(`${ref(sts)}: --data_dir=${dataDir} is not on a volumeClaimTemplate's volume (${claims.join(', ') || 'none'})`);
    } else if (dataDir.replace(/\/+$/, '') === vm.mountPath.replace(/\/+$/, '')) {
      errors.push(`${ref(sts)}: --data_dir=${dataDir} is the volume's root: a new volume's lost+found makes kg_server refuse it (not empty, no KG_FORMAT), and --restore_from needs a directory that doesn't exist yet; use a subdirectory`);
    }
    for (const t of sts.spec.volumeClaimTemplates || []) {
      const size = t.spec && t.spec.resources && t.spec.resources.requests && t.spec.resources.requests.storage;
      if (!(quantity(size) > 0)) errors.push(`${ref(sts)}: volumeClaimTemplate ${t.metadata.name} requests no storage`);
      const modes = (t.spec && t.spec.accessModes) || [];
      if (!modes.every((m) => m === 'ReadWriteOnce' || m === 'ReadWriteOncePod') || modes.length === 0) {
        errors.push(`${ref(sts)}: volumeClaimTemplate ${t.metadata.name}: access mode must be ReadWriteOnce(Pod), found ${modes.join(', ') || 'none'}`);
      }
    }
  });

  // Prometheus annotations on the pods: scrape, the metrics port, /metrics.
  check('scrape annotations', () => {
    for (const [w, c, flags] of sides) {
      const a = podTemplate(w).metadata.annotations || {};
      if (a['prometheus.io/scrape'] !== 'true') errors.push(`${ref(w)}: prometheus.io/scrape is not "true"`);
      if (a['prometheus.io/path'] !== '/metrics') errors.push(`${ref(w)}: prometheus.io/path is not /metrics`);
      const port = a['prometheus.io/port'];
      if (String(port) !== String(flags.get('metrics_port')) || !containerPort(c, Number(port))) {
        errors.push(`${ref(w)}: prometheus.io/port ${port} is not the metrics port --metrics_port=${flags.get('metrics_port')}`);
      }
    }
  });

  // ServiceMonitors (optional component): select the Services' metrics ports.
  check('service monitors', () => {
    for (const sm of objects.filter((o) => o.kind === 'ServiceMonitor')) {
      const selected = services.filter((s) => selectorMatches(sm.spec.selector, s.metadata.labels));
      if (selected.length === 0) errors.push(`${ref(sm)} selects no Service`);
      for (const ep of sm.spec.endpoints || []) {
        for (const s of selected) {
          if (!(s.spec.ports || []).some((p) => p.name === ep.port)) errors.push(`${ref(sm)}: Service ${s.metadata.name} has no port named ${ep.port}`);
        }
      }
    }
  });

  // Images: one image for both roles; pinned in overlays.
  check('images', () => {
    const images = new Set(workloads.flatMap((w) => podTemplate(w).spec.containers.map((c) => c.image)));
    if (images.size !== 1) errors.push(`the front ends and partition servers run different images: ${[...images].join(', ')}`);
    if (pinnedImages) {
      for (const image of images) {
        const parts = splitImage(image);
        if (!parts.digest && (parts.tag === '' || parts.tag === ':latest')) errors.push(`image ${image} is not pinned (a tag other than latest, or a digest)`);
      }
    }
  });

  return { errors, notes, passed, skipped };
}

module.exports = { crossCheck, parseHelp, quantity, selectorMatches, kgctlCall, dockerfileKgctl };
