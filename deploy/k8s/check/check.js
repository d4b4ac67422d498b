#!/usr/bin/env node
'use strict';
// deploy/k8s's offline check: renders deploy/k8s/base and every overlay under
// deploy/k8s/overlays, validates each rendered object against its Kubernetes API schema
// (kubernetes-models; unknown fields too), and runs the cross-checks of lib/checks.js.
// Exits 1 on any error. Usage: node check.js [--kg-server=PATH] [KUSTOMIZATION_DIR...]
//   --kg-server: the kg_server binary whose --helpfull lists the valid flags (default:
//   $KG_SERVER, else $BUILD_DIR/server/app/kg_server, else build/server/app/kg_server
//   under the repository); when it doesn't exist the flag check is skipped, with a note.
//   With no directory, base and every overlay are checked.
// When a kubectl with Kustomize v5 is on PATH, its rendering must equal this check's own.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const YAML = require('yaml');
const { render } = require('./lib/kustomize');
const { validate, strictFields } = require('./lib/schema');
const { crossCheck, parseHelp, dockerfileKgctl } = require('./lib/checks');
const { smokeStart, secureStartProblem } = require('./lib/smoke');

const K8S_DIR = path.resolve(__dirname, '..');
const REPO = path.resolve(K8S_DIR, '..', '..');

function targets(dirs) {
  if (dirs.length > 0) return dirs.map((d) => path.resolve(d));
  const overlays = path.join(K8S_DIR, 'overlays');
  const found = fs.existsSync(overlays) ? fs.readdirSync(overlays).sort()
    .map((d) => path.join(overlays, d))
    .filter((d) => fs.existsSync(path.join(d, 'kustomization.yaml'))) : [];
  return [path.join(K8S_DIR, 'base'), ...found];
}

function kgServerHelp(binary) {
  if (!fs.existsSync(binary)) {
    const shown = path.relative(REPO, binary).startsWith('..') ? binary : path.relative(REPO, binary);
    return { help: null, note: `${shown} not built: flags not checked against kg_server --helpfull (build it, or pass --kg-server=PATH)` };
  }
  const r = spawnSync(binary, ['--helpfull'], { encoding: 'utf8', timeout: 10000 });
  const help = parseHelp(`${r.stdout || ''}${r.stderr || ''}`);
  if (help.size === 0) throw new Error(`${binary} --helpfull listed no flags (exit ${r.status})`);
  return { help, note: null };
}

// kubectl's Kustomize, when there is one of version 5 or later.
function kubectlKustomize() {
  const r = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 20000 });
  if (r.error || r.status !== 0) return null;
  const m = /Kustomize Version: v(\d+)\.(\d+)\.(\d+)/.exec(r.stdout || '');
  if (!m || Number(m[1]) < 5) return null;
  return `v${m[1]}.${m[2]}.${m[3]}`;
}

function compareWithKubectl(dir, objects) {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60000 });
  if (r.error || r.status !== 0) return [`failed: ${(r.stderr || String(r.error)).trim()}`];
  const out = r.stdout;
  const theirs = YAML.parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
  const key = (o) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace || ''}/${o.metadata.name}`;
  const mine = new Map(objects.map((o) => [key(o), o]));
  const other = new Map(theirs.map((o) => [key(o), o]));
  const diffs = [];
  for (const k of new Set([...mine.keys(), ...other.keys()])) {
    if (!mine.has(k)) diffs.push(`only kubectl renders ${k}`);
    else if (!other.has(k)) diffs.push(`only this check renders ${k}`);
    else if (!util.isDeepStrictEqual(mine.get(k), other.get(k))) diffs.push(`${k} differs from kubectl's rendering`);
  }
  return diffs;
}

async function main(argv) {
  const started = Date.now();
  let binary = process.env.KG_SERVER || path.join(process.env.BUILD_DIR ? path.resolve(REPO, process.env.BUILD_DIR) : path.join(REPO, 'build'), 'server', 'app', 'kg_server');
  const dirs = [];
  for (const a of argv) {
    if (a.startsWith('--kg-server=')) binary = path.resolve(a.slice('--kg-server='.length));
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else dirs.push(a);
  }
  const { help, note } = kgServerHelp(binary);
  // Exec probes must run kgctl where the image puts it.
  const kgctlPath = dockerfileKgctl(path.join(REPO, 'Dockerfile'));
  // The built kgctl beside kg_server's build (exec probes and the secure overlays' start).
  const kgctl = process.env.KGCTL || path.resolve(path.dirname(binary), '..', '..', 'client', 'kgctl', 'kgctl');
  if (note) console.log(`note: ${note}`);
  const kustomize = kubectlKustomize();
  console.log(kustomize ? `note: comparing with kubectl kustomize (Kustomize ${kustomize})`
    : 'note: no kubectl with Kustomize v5: rendered with this check\'s renderer only');
  let failed = 0;
  let objectsChecked = 0;
  const startedTargets = new Map();
  for (const dir of targets(dirs)) {
    const name = path.relative(K8S_DIR, dir).startsWith('..') ? dir : path.relative(K8S_DIR, dir);
    const problems = [];
    let objects = [];
    try {
      objects = render(dir).map((r) => r.obj);
    } catch (e) {
      problems.push(`render: ${e.message}`);
    }
    const strict = objects.length > 0 ? strictFields(objects) : [];
    objects.forEach((o, i) => {
      for (const e of [...validate(o), ...strict[i]]) problems.push(`${o.kind}/${o.metadata.name}: ${e}`);
    });
    let passed = 0;
    let skipped = 0;
    if (objects.length > 0) {
      const r = crossCheck(objects, { help, pinnedImages: name.startsWith('overlays'), kgctlPath });
      problems.push(...r.errors);
      passed = r.passed;
      skipped = r.skipped;
      for (const n of r.notes) if (!note) console.log(`note: ${name}: ${n}`);
    }
    if (kustomize) problems.push(...compareWithKubectl(dir, objects).map((d) => `kubectl kustomize: ${d}`));
    let smoke = '';
    const sts = objects.find((o) => o.kind === 'StatefulSet');
    const fe = objects.find((o) => o.kind === 'Deployment');
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.data && o.data['cluster.txt'] !== undefined);
    // Workloads identical (but for the namespace) to a target already started aren't started again.
    const startKey = sts && fe && cm ? JSON.stringify([sts.spec, fe.spec, cm.data]) : null;
    const cannot = help && problems.length === 0 ? secureStartProblem({ kgctl, sts, fe }) : null;
    if (help && problems.length === 0 && startedTargets.has(startKey)) {
      smoke = `; same workloads as ${startedTargets.get(startKey)}, not started again`;
    } else if (cannot) {
      console.log(`note: ${name}: not started on loopback: ${cannot}`);
    } else if (help && problems.length === 0) {
      startedTargets.set(startKey, name);
      const drain = (w) => {
        const c = w.spec.template.spec.containers[0];
        const a = [...(c.command || []), ...(c.args || [])].reverse().find((x) => x.startsWith('--drain_timeout_ms='));
        return a ? Number(a.split('=')[1]) : Number(help.get('drain_timeout_ms'));
      };
      const errs = await smokeStart({
        binary, kgctl, sts, fe, clusterText: cm.data['cluster.txt'], drainMs: { sts: drain(sts), fe: drain(fe) },
      });
      problems.push(...errs.map((e) => `local start: ${e}`));
      smoke = `; started on loopback (${sts.spec.replicas} partition servers and a front end: SERVING, then a clean SIGTERM)`;
      const secured = [sts, fe].some((w) => (w.spec.template.spec.volumes || []).some((v) => v.secret));
      if (secured) smoke = smoke.replace(': SERVING,', ' on throwaway certificates and a token: SERVING, every exec probe passes, a call with the token passes and one without is refused, a rotated public certificate is served without a restart,');
    }
    objectsChecked += objects.length;
    if (problems.length === 0) {
      const kinds = objects.map((o) => o.kind).join(', ');
      console.log(`ok   ${name}: ${objects.length} objects valid against their schemas (${kinds}); ${passed} cross-checks passed${skipped ? `, ${skipped} skipped` : ''}${smoke}`);
    } else {
      failed++;
      console.log(`FAIL ${name}:`);
      for (const p of problems) console.log(`  - ${p}`);
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`deploy/k8s: ${objectsChecked} objects in ${targets(dirs).length} kustomizations, ${failed} failed (${seconds} s)`);
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
    console.error(`check failed to run: ${e.stack || e.message}`);
    process.exitCode = 2;
  });
}

module.exports = { main, targets };
