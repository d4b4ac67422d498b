'use strict';
// The check's own tests: the real kustomizations pass, and each kind of broken manifest is
// caught (schema errors, unknown fields, every cross-check, the renderer's refusals), so a
// check that silently stopped checking would fail here. Run: node --test test/

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test, describe } = require('node:test');
const { spawnSync } = require('node:child_process');

const { render, configMapHash, jsonPatch, splitImage } = require('../lib/kustomize');
const { validate, strictFields } = require('../lib/schema');
const { crossCheck, parseHelp, quantity, kgctlCall, dockerfileKgctl } = require('../lib/checks');
const { parseClusterFile } = require('../lib/cluster');
const { runEntrypoint } = require('../lib/entrypoint');
const { targets } = require('../check');

const K8S = path.resolve(__dirname, '..', '..');
const REPO = path.resolve(K8S, '..', '..');
const KG_SERVER = process.env.KG_SERVER
  || path.join(process.env.BUILD_DIR ? path.resolve(REPO, process.env.BUILD_DIR) : path.join(REPO, 'build'), 'server', 'app', 'kg_server');
const HELP = fs.existsSync(KG_SERVER)
  ? parseHelp((({ stdout, stderr }) => stdout + stderr)(spawnSync(KG_SERVER, ['--helpfull'], { encoding: 'utf8' })))
  : null;

const EXAMPLE = render(path.join(K8S, 'overlays', 'example')).map((r) => r.obj);
const clone = () => JSON.parse(JSON.stringify(EXAMPLE));
const find = (objs, kind, name) => objs.find((o) => o.kind === kind && (!name || o.metadata.name === name));
const sts = (objs) => find(objs, 'StatefulSet');
const fe = (objs) => find(objs, 'Deployment');
const stsC = (objs) => sts(objs).spec.template.spec.containers[0];
const feC = (objs) => fe(objs).spec.template.spec.containers[0];
const clusterMap = (objs) => find(objs, 'ConfigMap');

const KGCTL_PATH = dockerfileKgctl(path.join(REPO, 'Dockerfile'));
const KGCTL = process.env.KGCTL || path.resolve(path.dirname(KG_SERVER), '..', '..', 'client', 'kgctl', 'kgctl');

function errorsOf(objs, options = {}) {
  return crossCheck(objs, { help: HELP, pinnedImages: true, kgctlPath: KGCTL_PATH, ...options }).errors;
}

// Applies `mutate` to a copy of the example overlay and expects an error matching `pattern`.
function expectError(mutate, pattern, options, from = clone) {
  const objs = from();
  mutate(objs);
  const errors = errorsOf(objs, options);
  assert.ok(errors.some((e) => pattern.test(e)), `expected an error matching ${pattern}, got:\n${errors.join('\n') || '(none)'}`);
}

describe('the real manifests', () => {
  for (const dir of targets([])) {
    test(`${path.relative(K8S, dir)} renders, validates and passes every cross-check`, () => {
      const objs = render(dir).map((r) => r.obj);
      assert.ok(objs.length >= 8);
      for (const o of objs) assert.deepEqual(validate(o), [], `${o.kind}/${o.metadata.name}`);
      assert.deepEqual(strictFields(objs).flat(), []);
      assert.deepEqual(errorsOf(objs, { pinnedImages: dir.includes('overlays') }), []);
    });
  }
});

describe('renderer', () => {
  test('ConfigMap name hashes are Kustomize v5\'s', () => {
    // Values printed by `kubectl kustomize` (Kustomize v5.5.0) for these generators.
    assert.equal(configMapHash({ metadata: { name: 'cm' }, data: { a: 'b' } }), '4h2mbtbbt6');
    assert.equal(configMapHash({ metadata: { name: 'x' }, data: { one: '' } }), '9g67k2htb6');
  });
  test('generated names are referenced by the pods', () => {
    const cm = clusterMap(EXAMPLE);
    assert.match(cm.metadata.name, /^kg-cluster-[a-z0-9]{10}$/);
    const vol = (w) => w.spec.template.spec.volumes.find((v) => v.configMap).configMap.name;
    assert.equal(vol(sts(EXAMPLE)), cm.metadata.name);
    assert.equal(vol(fe(EXAMPLE)), cm.metadata.name);
  });
  test('the overlay sets namespace, image, replicas, storage and the cluster file', () => {
    for (const o of EXAMPLE) if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'kg', `${o.kind}`);
    assert.equal(stsC(EXAMPLE).image, 'registry.example.com/kg/kg_server:0.1.0');
    assert.equal(sts(EXAMPLE).spec.replicas, 4);
    const vct = sts(EXAMPLE).spec.volumeClaimTemplates[0].spec;
    assert.equal(vct.storageClassName, 'fast-ssd');
    assert.equal(vct.resources.requests.storage, '50Gi');
    assert.equal(parseClusterFile(clusterMap(EXAMPLE).data['cluster.txt'], 'x').servers.length, 4);
  });
  test('JSON patches', () => {
    const doc = { a: { b: [1, 2] } };
    jsonPatch(doc, [{ op: 'add', path: '/a/b/-', value: 3 }, { op: 'replace', path: '/a/b/0', value: 0 },
      { op: 'add', path: '/a/c~1d', value: 'x' }, { op: 'remove', path: '/a/b/1' }], 't');
    assert.deepEqual(doc, { a: { b: [0, 3], 'c/d': 'x' } });
    assert.throws(() => jsonPatch(doc, [{ op: 'replace', path: '/a/zz', value: 1 }], 't'), /nothing to replace/);
    assert.throws(() => jsonPatch(doc, [{ op: 'test', path: '/a/c~1d', value: 'y' }], 't'), /test/);
  });
  test('images', () => {
    assert.deepEqual(splitImage('reg:5000/kg:1.2'), { name: 'reg:5000/kg', tag: ':1.2', digest: '' });
    assert.deepEqual(splitImage('kg@sha256:ab'), { name: 'kg', tag: '', digest: '@sha256:ab' });
  });
  test('unsupported kustomization features are refused, not ignored', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-k8s-test-'));
    try {
      const base = path.relative(dir, path.join(K8S, 'base'));
      fs.writeFileSync(path.join(dir, 'kustomization.yaml'), `resources: [${path.join(K8S, 'base')}]\n`);
      assert.throws(() => render(dir), /only relative paths/);
      fs.writeFileSync(path.join(dir, 'kustomization.yaml'), `resources: [${base}]\ncommonLabels: {a: b}\n`);
      assert.throws(() => render(dir), /"commonLabels" is not supported/);
      fs.writeFileSync(path.join(dir, 'kustomization.yaml'), `resources: [${base}]\npatches:\n  - target: {kind: StatefulSet}\n    patch: |-\n      spec: {replicas: 3}\n`);
      assert.throws(() => render(dir), /only JSON 6902 patches/);
      fs.writeFileSync(path.join(dir, 'kustomization.yaml'), `resources: [${base}]\nconfigMapGenerator:\n  - name: kg-cluster\n    literals: [a=b]\n`);
      assert.throws(() => render(dir), /already exists/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('schemas', () => {
  test('a wrong type is an error', () => {
    const objs = clone();
    sts(objs).spec.replicas = '4';
    assert.match(validate(sts(objs)).join('\n'), /spec\.replicas: must be integer/);
  });
  test('a missing required field is an error', () => {
    const objs = clone();
    delete stsC(objs).name;
    assert.match(validate(sts(objs)).join('\n'), /must have required property 'name'|must have required property name/);
  });
  test('a value outside an enum is an error', () => {
    const objs = clone();
    sts(objs).spec.podManagementPolicy = 'AllAtOnce';
    assert.match(validate(sts(objs)).join('\n'), /podManagementPolicy: must be equal to one of the allowed values/);
  });
  test('a kind without a schema is an error', () => {
    assert.match(validate({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }).join(), /no schema/);
  });
  test('unknown fields are errors, at any depth, all of them', () => {
    const objs = clone();
    sts(objs).spec.template.spec.terminationGracePeriodSecond = 60;
    stsC(objs).readinessProbe.grpc.prot = 7001;
    fe(objs).metadata.labelz = {};
    find(objs, 'HorizontalPodAutoscaler').spec.behavior.scaleDown.policies[0].periodSecond = 60;
    const found = strictFields(objs).flat().join('\n');
    assert.match(found, /spec\.template\.spec\.terminationGracePeriodSecond: unknown field/);
    assert.match(found, /containers\[0\]\.readinessProbe\.grpc\.prot: unknown field/);
    assert.match(found, /metadata\.labelz: unknown field/);
    assert.match(found, /policies\[0\]\.periodSecond: unknown field/);
  });
  test('the ServiceMonitor is validated against its CRD\'s schema', () => {
    const objs = render(path.join(K8S, 'overlays', 'example-servicemonitor')).map((r) => r.obj);
    const sm = find(objs, 'ServiceMonitor');
    assert.deepEqual(validate(sm), []);
    sm.spec.endpoints[0].port = 9464;
    sm.spec.endpoints[0].pathh = '/metrics';
    assert.match(validate(sm).join(), /port: must be string/);
    assert.match(strictFields([sm])[0].join(), /pathh: unknown field/);
  });
});

describe('cluster file and partition entrypoint', () => {
  const setCluster = (objs, text) => { clusterMap(objs).data['cluster.txt'] = text; };
  test('a partition hosted by nobody', () => expectError((o) => setCluster(o,
    'partitions 8\nserver kg-partition-0.kg-partition:7001 0,1\nserver kg-partition-1.kg-partition:7001 2,3\n'
    + 'server kg-partition-2.kg-partition:7001 4,5\nserver kg-partition-3.kg-partition:7001 6\n'), /partition 7 hosted by no server/));
  test('a partition hosted twice', () => expectError((o) => setCluster(o,
    'partitions 8\nserver kg-partition-0.kg-partition:7001 0-2\nserver kg-partition-1.kg-partition:7001 2,3\n'
    + 'server kg-partition-2.kg-partition:7001 4,5\nserver kg-partition-3.kg-partition:7001 6,7\n'), /partition 2 already hosted \(line 2\)/));
  test('more replicas than server lines', () => expectError((o) => { sts(o).spec.replicas = 5; }, /no server line for kg-partition-4/));
  test('a server line for a pod that does not exist', () => expectError((o) => { sts(o).spec.replicas = 3; }, /kg-partition-3\.kg-partition is not a pod of StatefulSet\/kg-partition \(replicas 3\)/));
  test('a host in another namespace', () => expectError((o) => setCluster(o, clusterMap(o).data['cluster.txt']
    .replace('kg-partition-0.kg-partition:', 'kg-partition-0.kg-partition.default.svc.cluster.local:')), /names namespace default but the objects are in kg/));
  test('the fully qualified name in the right namespace is accepted', () => {
    const objs = clone();
    setCluster(objs, clusterMap(objs).data['cluster.txt'].replace(/\.kg-partition:/g, '.kg-partition.kg.svc.cluster.local:'));
    assert.deepEqual(errorsOf(objs), []);
  });
  test('a port that is not the partition servers\'', () => expectError((o) => setCluster(o, clusterMap(o).data['cluster.txt']
    .replace('kg-partition-2.kg-partition:7001', 'kg-partition-2.kg-partition:7002')), /kg-partition-2: --port=7001 but the cluster file names port 7002/));
  test('a host under another Service', () => expectError((o) => { sts(o).spec.serviceName = 'kg-partitions'; }, /not under the StatefulSet's Service kg-partitions/));
  test('an entrypoint that ignores its ordinal', () => expectError((o) => {
    stsC(o).command = ['/bin/sh', '-c', 'exec kg_server --role=partition --host=0.0.0.0 --partition_count=8 --partitions=0,1 "$@"', 'kg-partition'];
  }, /kg-partition-1: --partitions=0,1 but its cluster file line \d+ says 2,3/));
  test('an entrypoint that starts pods the cluster file does not name', () => expectError((o) => {
    stsC(o).command = ['/bin/sh', '-c', 'exec kg_server --role=partition --host=0.0.0.0 --partition_count=8 --partitions=0,1 "$@"', 'kg-partition'];
  }, /kg-partition-4, which the cluster file doesn't name, started kg_server instead of refusing/));
  test('front ends and partition servers reading different cluster files', () => expectError((o) => {
    stsC(o).env.find((e) => e.name === 'KG_CLUSTER_FILE').value = '/etc/kg/other.txt';
  }, /ConfigMap kg-cluster-\w+ has no key "other.txt"/));
  test('the entrypoint derives each pod\'s partitions from its ordinal', () => {
    const text = clusterMap(EXAMPLE).data['cluster.txt'];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-k8s-test-'));
    try {
      const file = path.join(dir, 'cluster.txt');
      fs.writeFileSync(file, text);
      const r = runEntrypoint(stsC(EXAMPLE), { podName: 'kg-partition-1', files: { '/etc/kg/cluster.txt': file } });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.argv, ['--role=partition', '--host=0.0.0.0', '--partition_count=8', '--partitions=2,3',
        ...stsC(EXAMPLE).args]);
      assert.match(r.stderr, /kg-partition-1: hosting partitions 2,3 of 8/);
      const other = runEntrypoint(stsC(EXAMPLE), { podName: 'kg-partition-9', files: { '/etc/kg/cluster.txt': file } });
      assert.notEqual(other.status, 0);
      assert.equal(other.argv, null);
      assert.match(other.stderr, /exactly one 'server' line naming kg-partition-9 \(0 found\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test('pod 1 is not confused with pod 10 or 11, comments and a missing last newline are handled', () => {
    const objs = clone();
    sts(objs).spec.replicas = 12;
    const lines = ['# twelve servers', 'partitions 24'];
    for (let i = 0; i < 12; i++) lines.push(`server kg-partition-${i}.kg-partition:7001 ${2 * i}-${2 * i + 1}   # pod ${i}`);
    setCluster(objs, lines.join('\n'));
    assert.deepEqual(errorsOf(objs), []);
  });
});

describe('workload cross-checks', () => {
  test('a Service selecting no pods', () => expectError((o) => {
    find(o, 'Service', 'kg-frontend').spec.selector['app.kubernetes.io/component'] = 'front-end';
  }, /Service\/kg-frontend selects the pods of 0 workloads/));
  test('a Service port targeting no container port', () => expectError((o) => {
    find(o, 'Service', 'kg-frontend').spec.ports[0].targetPort = 'grpcs';
  }, /target grpcs is not a port of Deployment\/kg-frontend/));
  test('a headless Service that is not headless', () => expectError((o) => {
    delete find(o, 'Service', 'kg-partition').spec.clusterIP;
  }, /must be headless/));
  test('a probe on a port the container does not have', () => expectError((o) => {
    stsC(o).livenessProbe.grpc.port = 7002;
  }, /livenessProbe probes port 7002, which is not a container port/));
  test('a probe on the metrics port', () => expectError((o) => {
    feC(o).readinessProbe.grpc.port = 9464;
  }, /readinessProbe probes port 9464, not the gRPC port/));
  test('an HTTP probe instead of grpc.health.v1', () => expectError((o) => {
    feC(o).readinessProbe = { httpGet: { port: 9464, path: '/metrics' } };
  }, /readinessProbe is not a gRPC probe/));
  test('a startup probe shorter than the front end\'s wait for its partitions', () => expectError((o) => {
    feC(o).startupProbe.failureThreshold = 10;
  }, /the startup probe gives up after 50 s, before --startup_timeout_ms \(120 s\)/));
  test('a grace period no longer than preStop + drain', () => expectError((o) => {
    fe(o).spec.template.spec.terminationGracePeriodSeconds = 10;
  }, /terminationGracePeriodSeconds 10 is not longer than preStop 5 s \+ --drain_timeout_ms 5 s/));
  test('a drain longer than the (default) grace period', () => expectError((o) => {
    delete sts(o).spec.template.spec.terminationGracePeriodSeconds;
    stsC(o).args = stsC(o).args.map((a) => a.replace(/^--drain_timeout_ms=.*/, '--drain_timeout_ms=40000'));
  }, /StatefulSet\/kg-partition: terminationGracePeriodSeconds 30 is not longer than preStop 0 s \+ --drain_timeout_ms 40 s/));
  test('a PodDisruptionBudget selecting nothing', () => expectError((o) => {
    find(o, 'PodDisruptionBudget', 'kg-partition').spec.selector.matchLabels['app.kubernetes.io/component'] = 'partitions';
  }, /StatefulSet\/kg-partition: 0 PodDisruptionBudgets select its pods/));
  test('a PodDisruptionBudget that blocks every drain', () => expectError((o) => {
    find(o, 'PodDisruptionBudget', 'kg-frontend').spec.maxUnavailable = 0;
  }, /maxUnavailable 0 blocks every drain/));
  test('an HPA targeting another Deployment', () => expectError((o) => {
    find(o, 'HorizontalPodAutoscaler').spec.scaleTargetRef.name = 'kg-front';
  }, /targets apps\/v1 Deployment kg-front, not apps\/v1 Deployment kg-frontend/));
  test('replicas set on the autoscaled Deployment', () => expectError((o) => { fe(o).spec.replicas = 3; }, /sets replicas while an HPA scales it/));
  test('an HPA on CPU without CPU requests', () => expectError((o) => { delete feC(o).resources.requests.cpu; }, /scales on cpu utilization but container kg-server requests no cpu/));
  test('a request above its limit', () => expectError((o) => { stsC(o).resources.requests.memory = '5Gi'; }, /memory request 5Gi is above its limit 4Gi/));
  test('a missing limit', () => expectError((o) => { delete feC(o).resources.limits; }, /cpu needs a request and a limit/));
  test('a writable root filesystem', () => expectError((o) => { stsC(o).securityContext.readOnlyRootFilesystem = false; }, /readOnlyRootFilesystem must be true/));
  test('capabilities not dropped', () => expectError((o) => { delete feC(o).securityContext.capabilities; }, /capabilities must drop ALL/));
  test('root', () => expectError((o) => { sts(o).spec.template.spec.securityContext.runAsUser = 0; stsC(o).securityContext.runAsUser = 0; }, /runAsUser must be 10001/));
  test('--data_dir at the volume\'s root', () => expectError((o) => {
    stsC(o).args = stsC(o).args.map((a) => a.replace(/^--data_dir=.*/, '--data_dir=/var/lib/kg'));
  }, /is the volume's root/));
  test('--data_dir off the claim', () => expectError((o) => {
    stsC(o).args = stsC(o).args.map((a) => a.replace(/^--data_dir=.*/, '--data_dir=/data'));
  }, /--data_dir=\/data is not on a volumeClaimTemplate's volume/));
  test('no emptyDir for TMPDIR', () => expectError((o) => {
    fe(o).spec.template.spec.volumes = fe(o).spec.template.spec.volumes.filter((v) => v.name !== 'tmp');
    feC(o).volumeMounts = feC(o).volumeMounts.filter((m) => m.name !== 'tmp');
  }, /TMPDIR \/tmp is not on an emptyDir/));
  test('a scrape annotation on the wrong port', () => expectError((o) => {
    fe(o).spec.template.metadata.annotations['prometheus.io/port'] = '50051';
  }, /prometheus.io\/port 50051 is not the metrics port/));
  test('listening on loopback only', () => expectError((o) => {
    feC(o).args = feC(o).args.map((a) => a.replace(/^--host=.*/, '--host=127.0.0.1'));
  }, /--host=127.0.0.1 listens where neither probes nor peers reach/));
  test('an unpinned image in an overlay', () => expectError((o) => {
    stsC(o).image = 'registry.example.com/kg/kg_server:latest';
    feC(o).image = 'registry.example.com/kg/kg_server:latest';
  }, /is not pinned/));
  test('a flag kg_server does not have', { skip: HELP ? false : 'kg_server not built' }, () => expectError((o) => {
    feC(o).args.push('--drain_timeout=5000');
  }, /--drain_timeout is not a kg_server flag/));
  test('a non-integer value of an integer flag', { skip: HELP ? false : 'kg_server not built' }, () => expectError((o) => {
    stsC(o).args = stsC(o).args.map((a) => a.replace(/^--drain_timeout_ms=.*/, '--drain_timeout_ms=5s'));
  }, /--drain_timeout_ms=5s is not an integer/));
});

test('quantities', () => {
  assert.equal(quantity('500m'), 0.5);
  assert.equal(quantity('4Gi'), 4 * 2 ** 30);
  assert.equal(quantity('1.5G'), 1.5e9);
  assert.ok(Number.isNaN(quantity('4GB')));
});

describe('check.js', () => {
  const run = (dirs) => spawnSync(process.execPath, [path.join(__dirname, '..', 'check.js'), ...dirs], { encoding: 'utf8' });
  test('exits 1 and names the problems on broken overlays', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-k8s-test-'));
    try {
      // A plausible mistake: a third partition server without a line in the cluster file,
      // and a misspelt field.
      const plain = path.join(dir, 'plain');
      fs.mkdirSync(plain);
      fs.writeFileSync(path.join(plain, 'kustomization.yaml'), [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        `resources: [${path.relative(plain, path.join(K8S, 'base'))}]`,
        'replicas:',
        '  - name: kg-partition',
        '    count: 3',
        'patches:',
        '  - target: {kind: Deployment, name: kg-frontend}',
        '    patch: |-',
        '      - op: add',
        '        path: /spec/template/spec/terminationGracePeriodSecond',
        '        value: 60',
        '',
      ].join('\n'));
      // The example with components/tls, but the front ends' liveness probe put back to the
      // kubelet's gRPC probe, which can't speak TLS.
      const secured = path.join(dir, 'secure');
      fs.mkdirSync(secured);
      fs.writeFileSync(path.join(secured, 'kustomization.yaml'), [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        `resources: [${path.relative(secured, path.join(K8S, 'overlays', 'example'))}]`,
        `components: [${path.relative(secured, path.join(K8S, 'components', 'tls'))}]`,
        'patches:',
        '  - target: {kind: Deployment, name: kg-frontend}',
        '    patch: |-',
        '      - op: remove',
        '        path: /spec/template/spec/containers/0/livenessProbe/exec',
        '      - op: add',
        '        path: /spec/template/spec/containers/0/livenessProbe/grpc',
        '        value: {port: 50051}',
        '',
      ].join('\n'));
      const r = run([plain, secured]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /FAIL .*plain:/);
      assert.match(r.stdout, /no server line for kg-partition-2/);
      assert.match(r.stdout, /terminationGracePeriodSecond: unknown field/);
      assert.match(r.stdout, /FAIL .*secure:\n  - Deployment\/kg-frontend: livenessProbe is a gRPC probe but port 50051 serves TLS/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('local start (kg_server built)', { skip: HELP ? false : 'kg_server not built' }, () => {
  const { smokeStart } = require('../lib/smoke');
  const startOf = (objs) => smokeStart({
    binary: KG_SERVER, sts: sts(objs), fe: fe(objs), clusterText: clusterMap(objs).data['cluster.txt'], drainMs: { sts: 5000, fe: 5000 },
  });
  test('a flag value kg_server refuses fails the start', async () => {
    const objs = clone();
    sts(objs).spec.replicas = 1;
    clusterMap(objs).data['cluster.txt'] = 'partitions 8\nserver kg-partition-0.kg-partition:7001 0-7\n';
    stsC(objs).args.push('--wal_recovery=sometimes');
    const errors = await startOf(objs);
    assert.match(errors.join('\n'), /kg-partition-0 exited \(1\) before serving/);
  });
  test('a front end whose partitions disagree with the cluster file fails the start', async () => {
    const objs = clone();
    sts(objs).spec.replicas = 1;
    clusterMap(objs).data['cluster.txt'] = 'partitions 8\nserver kg-partition-0.kg-partition:7001 0-7\n';
    // An entrypoint that ignores the cluster file: the server hosts 0-3 of 4, the front end
    // expects 0-7 of 8 there, and refuses to serve.
    stsC(objs).command = ['/bin/sh', '-c', 'exec kg_server --role=partition --partition_count=4 --partitions=0-3 "$@"', 'kg-partition'];
    const errors = await startOf(objs);
    assert.match(errors.join('\n'), /kg-frontend exited \(1\) before serving: .*partition count mismatch: request says 8, this server has 4/);
  });
});

describe('TLS and tokens (components/tls, overlays/example-secure)', () => {
  const SECURE = render(path.join(K8S, 'overlays', 'example-secure')).map((r) => r.obj);
  const secure = () => JSON.parse(JSON.stringify(SECURE));
  const expectSecure = (mutate, pattern) => expectError(mutate, pattern, undefined, secure);
  const partitionProbe = (o) => stsC(o).readinessProbe.exec.command;
  const setScript = (o, edit) => {
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) stsC(o)[kind].exec.command[2] = edit(stsC(o)[kind].exec.command[2]);
  };

  test('the image installs kgctl where the probes run it', () => {
    assert.equal(KGCTL_PATH, '/usr/local/bin/kgctl');
    assert.equal(kgctlCall(partitionProbe(SECURE)).program, KGCTL_PATH);
    assert.equal(feC(SECURE).readinessProbe.exec.command[0], KGCTL_PATH);
  });
  test('only the probes\' handlers change: periods, timeouts and thresholds stay the base\'s', () => {
    for (const [a, b] of [[stsC(SECURE), stsC(EXAMPLE)], [feC(SECURE), feC(EXAMPLE)]]) {
      for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const { exec, ...timing } = a[kind];
        const { grpc, ...base } = b[kind];
        assert.ok(exec && grpc, kind);
        assert.deepEqual(timing, base, kind);
      }
    }
  });
  test('the Secrets are mounted read-only where the flags point', () => {
    const secretsOf = (w) => w.spec.template.spec.volumes.filter((v) => v.secret).map((v) => v.secret.secretName).sort();
    assert.deepEqual(secretsOf(fe(SECURE)), ['kg-auth-tokens', 'kg-cluster-tls', 'kg-public-tls']);
    assert.deepEqual(secretsOf(sts(SECURE)), ['kg-cluster-tls']);
    assert.ok(feC(SECURE).args.includes('--auth_tokens=/etc/kg-auth/tokens.txt'));
    assert.ok(stsC(SECURE).args.includes('--tls_client_ca=/etc/kg-tls/cluster/ca.crt'));
  });
  test('a plain gRPC probe on a TLS port', () => expectSecure((o) => {
    delete stsC(o).readinessProbe.exec;
    stsC(o).readinessProbe.grpc = { port: 7001 };
  }, /StatefulSet\/kg-partition: readinessProbe is a gRPC probe but port 7001 serves TLS/));
  test('a mount whose Secret volume is missing', () => expectSecure((o) => {
    fe(o).spec.template.spec.volumes = fe(o).spec.template.spec.volumes.filter((v) => v.name !== 'auth-tokens');
  }, /volumeMount \/etc\/kg-auth names volume auth-tokens, which the pod doesn't define/));
  test('a TLS flag pointing where no Secret is mounted', () => expectSecure((o) => {
    feC(o).args = feC(o).args.map((a) => a.replace('/etc/kg-tls/public/tls.key', '/etc/kg-tls/pub/tls.key'));
  }, /--tls_key=\/etc\/kg-tls\/pub\/tls.key: no volume is mounted there/));
  test('a private key in a ConfigMap', () => expectSecure((o) => {
    stsC(o).args = stsC(o).args.map((a) => a.replace('/etc/kg-tls/cluster/tls.key', '/etc/kg/tls.key'));
  }, /--tls_key=\/etc\/kg\/tls.key: a private key or token must come from a Secret volume/));
  test('a Secret mounted with subPath (never updated)', () => expectSecure((o) => {
    Object.assign(feC(o).volumeMounts.find((m) => m.name === 'auth-tokens'), { mountPath: '/etc/kg-auth/tokens.txt', subPath: 'tokens.txt' });
  }, /Secret volume auth-tokens is mounted with subPath/));
  test('Secret files the kg user can\'t read', () => expectSecure((o) => {
    delete fe(o).spec.template.spec.securityContext.fsGroup;
  }, /Secret volume public-tls: mode 0440 is not readable by uid 10001/));
  test('a Secret mounted inside the cluster-file ConfigMap', () => expectSecure((o) => {
    stsC(o).volumeMounts.find((m) => m.name === 'cluster-tls').mountPath = '/etc/kg/tls';
    setScript(o, (t) => t.split('/etc/kg-tls/cluster/').join('/etc/kg/tls/'));
    stsC(o).args = stsC(o).args.map((a) => a.replace('/etc/kg-tls/cluster/', '/etc/kg/tls/'));
  }, /\/etc\/kg\/tls is inside read-only volume cluster/));
  test('TLS partition servers, plain-text front ends', () => expectSecure((o) => {
    feC(o).args = feC(o).args.filter((a) => !a.startsWith('--partition_tls'));
  }, /StatefulSet\/kg-partition serves TLS but Deployment\/kg-frontend connects to it in plain text/));
  test('partition servers on TLS without client certificates', () => expectSecure((o) => {
    stsC(o).args = stsC(o).args.filter((a) => !a.startsWith('--tls_client_ca'));
  }, /TLS without --tls_client_ca lets anyone who reaches port 7001 read and write its partitions/));
  test('a token file on the partition servers', () => expectSecure((o) => {
    stsC(o).args.push('--auth_tokens=/etc/kg-tls/cluster/ca.crt');
  }, /--auth_tokens is for front ends/));
  test('a partition probe without a client certificate', () => expectSecure((o) => {
    setScript(o, (t) => t.replace(/--tls_cert=\S+\s+--tls_key=\S+/, ''));
  }, /requires a client certificate \(--tls_client_ca\) but kgctl presents none/));
  test('a partition probe checking another pod\'s name', () => expectSecure((o) => {
    setScript(o, (t) => t.replace('"$POD_NAME.kg-partition"', 'kg-partition-0.kg-partition'));
  }, /on kg-partition-1 checks the name kg-partition-0.kg-partition in the certificate, but the front ends check kg-partition-1.kg-partition/));
  test('a probe running kgctl from elsewhere than the image puts it', () => expectSecure((o) => {
    feC(o).livenessProbe.exec.command[0] = '/usr/bin/kgctl';
  }, /livenessProbe runs \/usr\/bin\/kgctl, but the image installs kgctl at \/usr\/local\/bin\/kgctl/));
  test('a probe whose deadline outlasts its timeout', () => expectSecure((o) => {
    feC(o).readinessProbe.exec.command = feC(o).readinessProbe.exec.command.map((a) => a.replace('--deadline=1500', '--deadline=5000'));
  }, /readinessProbe: kgctl's --deadline 5000 ms is not shorter than timeoutSeconds \(2 s\)/));
  test('a probe on another port', () => expectSecure((o) => {
    feC(o).startupProbe.exec.command = feC(o).startupProbe.exec.command.map((a) => a.replace(':50051', ':9464'));
  }, /startupProbe checks port 9464, not the gRPC port --port=50051/));
  test('a shell probe doing more than one kgctl call', () => expectSecure((o) => {
    setScript(o, (t) => `${t} || true`);
  }, /is more than one kgctl call/));
  describe('local start (kg_server and kgctl built)', { skip: HELP && fs.existsSync(KGCTL) ? false : 'kg_server or kgctl not built' }, () => {
    const { smokeStart, secureStartProblem } = require('../lib/smoke');
    // One partition server hosting all 8 partitions keeps these starts short.
    const small = () => {
      const objs = secure();
      sts(objs).spec.replicas = 1;
      clusterMap(objs).data['cluster.txt'] = 'partitions 8\nserver kg-partition-0.kg-partition:7001 0-7\n';
      return objs;
    };
    const startOf = (objs, extra = {}) => smokeStart({
      binary: KG_SERVER, kgctl: KGCTL, sts: sts(objs), fe: fe(objs), clusterText: clusterMap(objs).data['cluster.txt'],
      drainMs: { sts: 5000, fe: 5000 }, frontendStartupMs: 1500, ...extra,
    });
    test('a partition probe without a client certificate fails against the real server', { skip: secureStartProblem({ kgctl: KGCTL, sts: sts(SECURE), fe: fe(SECURE) }) || false }, async () => {
      const objs = small();
      stsC(objs).readinessProbe.exec.command[2] = stsC(objs).readinessProbe.exec.command[2].replace(/--tls_cert=\S+\s+--tls_key=\S+/, '');
      const errors = await startOf(objs);
      assert.match(errors.join('\n'), /kg-partition-0: readinessProbe failed \(exit 1\)/);
    });
    test('a wildcard *.kg-partition certificate does not pass the front end\'s name check', { skip: secureStartProblem({ kgctl: KGCTL, sts: sts(SECURE), fe: fe(SECURE) }) || false }, async () => {
      const errors = await startOf(small(), {
        tamper: (dir) => {
          // Reissue kg-cluster-tls as make-certs.sh does, but for DNS:*.kg-partition only.
          const d = path.join(dir, 'kg-cluster-tls');
          const ext = path.join(dir, 'wild.cnf');
          fs.writeFileSync(ext, 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:*.kg-partition\n');
          const sh = (args) => assert.equal(spawnSync('openssl', args, { encoding: 'utf8' }).status, 0, args.join(' '));
          sh(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=kg-cluster',
            '-keyout', path.join(d, 'tls.key'), '-out', path.join(dir, 'wild.csr')]);
          sh(['x509', '-req', '-in', path.join(dir, 'wild.csr'), '-CA', path.join(dir, 'ca', 'kg-cluster-ca.crt'),
            '-CAkey', path.join(dir, 'ca', 'kg-cluster-ca.key'), '-set_serial', '7', '-days', '1', '-extfile', ext,
            '-out', path.join(d, 'tls.crt')]);
        },
      });
      assert.match(errors.join('\n'), /kg-frontend exited \(1\) before serving: .*(call host does not match SSL server name|Hostname Verification Check failed)/);
    });
  });
});
