'use strict';
// A renderer for the subset of Kustomize that deploy/k8s uses, so that the check needs no
// kubectl: resources (files and directories), components, namespace, labels (without
// selectors or templates), configMapGenerator (files and literals; create, replace and
// merge; the content-hash name suffix and the references to it), images, replicas, and
// patches in the JSON 6902 form. Anything else in a kustomization is an error, never
// ignored: a field this renderer would skip could make the check pass on output that
// `kubectl kustomize` renders differently. When a kubectl with Kustomize v5 is installed,
// check.js also compares this renderer's output with it.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED = new Set([
  'apiVersion', 'kind', 'resources', 'components', 'namespace', 'labels',
  'configMapGenerator', 'images', 'replicas', 'patches',
]);

// Kinds without a namespace (the ones a deployment like this might contain).
const CLUSTER_SCOPED = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'StorageClass', 'PriorityClass', 'ClusterRole',
  'ClusterRoleBinding', 'CustomResourceDefinition', 'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration', 'APIService', 'IngressClass', 'RuntimeClass',
  'CSIDriver', 'VolumeAttachment',
]);
// Kinds whose namespace Kustomize also writes into other fields (RBAC subjects, webhook
// services); this renderer doesn't implement those, so it refuses them.
const UNSUPPORTED_KINDS = new Set([
  'RoleBinding', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration', 'APIService', 'CustomResourceDefinition',
]);
const REPLICATED_KINDS = new Set(['Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController']);

class KustomizeError extends Error {}

function fail(where, message) {
  throw new KustomizeError(`${where}: ${message}`);
}

function readKustomization(dir) {
  const found = KUSTOMIZATION_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
  if (found.length === 0) fail(dir, 'no kustomization.yaml');
  if (found.length > 1) fail(dir, `more than one kustomization file: ${found.join(', ')}`);
  const file = path.join(dir, found[0]);
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'), { uniqueKeys: true });
  if (doc.errors.length > 0) fail(file, doc.errors.map((e) => e.message).join('; '));
  const k = doc.toJS() || {};
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) fail(file, `field "${key}" is not supported by this renderer`);
  }
  return { file, k };
}

function parseManifests(file) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'), { uniqueKeys: true });
  const out = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) fail(file, doc.errors.map((e) => e.message).join('; '));
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    if (typeof obj !== 'object' || Array.isArray(obj)) fail(file, 'a document is not an object');
    if (!obj.apiVersion || !obj.kind) fail(file, 'a document has no apiVersion or kind');
    if (obj.kind.endsWith('List')) fail(file, `${obj.kind}: lists are not supported`);
    if (UNSUPPORTED_KINDS.has(obj.kind)) fail(file, `kind ${obj.kind} is not supported by this renderer`);
    if (!obj.metadata || typeof obj.metadata.name !== 'string' || obj.metadata.name === '') {
      fail(file, `${obj.kind} without metadata.name`);
    }
    out.push({ obj, origin: file });
  }
  return out;
}

function id(r) {
  const o = r.obj;
  return `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

function addResource(list, res, where) {
  const key = (r) => `${r.obj.apiVersion}|${id(r)}`;
  if (list.some((r) => key(r) === key(res))) fail(where, `${id(res)} is defined twice`);
  list.push(res);
}

function groupOf(apiVersion) {
  return apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
}

// --- configMapGenerator ----------------------------------------------------------------

function generatorData(dir, g, where) {
  const data = {};
  const put = (key, value) => {
    if (Object.prototype.hasOwnProperty.call(data, key)) fail(where, `key "${key}" given twice`);
    data[key] = value;
  };
  for (const entry of g.files || []) {
    const eq = entry.indexOf('=');
    const key = eq >= 0 ? entry.slice(0, eq) : path.basename(entry);
    const file = path.resolve(dir, eq >= 0 ? entry.slice(eq + 1) : entry);
    if (!file.startsWith(path.resolve(dir) + path.sep)) fail(where, `${entry} is outside ${dir}`);
    put(key, fs.readFileSync(file, 'utf8'));
  }
  for (const entry of g.literals || []) {
    const eq = entry.indexOf('=');
    if (eq <= 0) fail(where, `literal "${entry}" is not KEY=VALUE`);
    let value = entry.slice(eq + 1);
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1);
    }
    put(entry.slice(0, eq), value);
  }
  return data;
}

function applyConfigMapGenerators(dir, file, k, list) {
  for (const g of k.configMapGenerator || []) {
    const where = `${file}: configMapGenerator ${g.name}`;
    for (const key of Object.keys(g)) {
      if (!['name', 'namespace', 'behavior', 'files', 'literals', 'options'].includes(key)) {
        fail(where, `field "${key}" is not supported by this renderer`);
      }
    }
    const options = g.options || {};
    for (const key of Object.keys(options)) {
      if (!['disableNameSuffixHash', 'labels', 'annotations'].includes(key)) {
        fail(where, `option "${key}" is not supported by this renderer`);
      }
    }
    const behavior = g.behavior || 'create';
    const data = generatorData(dir, g, where);
    const existing = list.find((r) => r.obj.kind === 'ConfigMap' && r.generated &&
      r.generated.name === g.name && (!g.namespace || r.obj.metadata.namespace === g.namespace));
    if (behavior === 'create') {
      if (existing) fail(where, 'already exists (use behavior: replace or merge)');
      const metadata = { name: g.name };
      if (g.namespace) metadata.namespace = g.namespace;
      if (options.labels) metadata.labels = { ...options.labels };
      if (options.annotations) metadata.annotations = { ...options.annotations };
      addResource(list, {
        obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata, data },
        origin: file,
        generated: { name: g.name, hash: !options.disableNameSuffixHash },
      }, where);
    } else if (behavior === 'replace' || behavior === 'merge') {
      if (!existing) fail(where, `behavior ${behavior}: no ConfigMap ${g.name} to ${behavior}`);
      existing.obj.data = behavior === 'replace' ? data : { ...(existing.obj.data || {}), ...data };
      if (options.labels) existing.obj.metadata.labels = { ...(existing.obj.metadata.labels || {}), ...options.labels };
      if (options.annotations) existing.obj.metadata.annotations = { ...(existing.obj.metadata.annotations || {}), ...options.annotations };
      if (options.disableNameSuffixHash !== undefined) existing.generated.hash = !options.disableNameSuffixHash;
    } else {
      fail(where, `behavior "${behavior}" is not create, replace or merge`);
    }
  }
}

// Kustomize's name suffix (api/hasher): the first 10 hex digits of the SHA-256 of the JSON
// encoding (Go's encoding/json: sorted keys, HTML characters escaped) of
// {"data", "kind": "ConfigMap", "name"}, with 0, 1, 3, a and e replaced so that the suffix
// can't read as a number or a word. Kustomize v5 looks the name up as the single field
// "metadata/name", which never exists, so the name it encodes is always "" (kubectl's own
// `create configmap --append-hash` encodes the real name). Checked against Kustomize v5.5.
function goJson(value) {
  return JSON.stringify(sortKeys(value))
    .replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out = {};
    for (const key of Object.keys(v).sort()) out[key] = sortKeys(v[key]);
    return out;
  }
  return v;
}

function configMapHash(obj) {
  const m = { kind: 'ConfigMap', name: '', data: obj.data || {} };
  if (obj.binaryData && Object.keys(obj.binaryData).length > 0) m.binaryData = obj.binaryData;
  const hex = crypto.createHash('sha256').update(goJson(m)).digest('hex');
  const map = { 0: 'g', 1: 'h', 3: 'k', a: 'm', e: 't' };
  return [...hex.slice(0, 10)].map((c) => map[c] || c).join('');
}

// References to ConfigMaps from pod specs, anywhere in an object.
function forEachConfigMapRef(node, visit) {
  if (Array.isArray(node)) {
    node.forEach((n) => forEachConfigMapRef(n, visit));
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'configMap' || key === 'configMapRef' || key === 'configMapKeyRef') &&
        value && typeof value.name === 'string') {
      visit(value);
    }
    forEachConfigMapRef(value, visit);
  }
}

function finalizeGeneratedNames(list) {
  for (const r of list) {
    if (!r.generated || !r.generated.hash) continue;
    const original = r.obj.metadata.name;
    const ns = r.obj.metadata.namespace;
    const renamed = `${original}-${configMapHash(r.obj)}`;
    r.obj.metadata.name = renamed;
    for (const other of list) {
      if (other.obj.metadata.namespace !== ns || other === r) continue;
      forEachConfigMapRef(other.obj, (ref) => {
        if (ref.name === original) ref.name = renamed;
      });
    }
    delete r.generated;
  }
  for (const r of list) delete r.generated;
}

// --- transformers ----------------------------------------------------------------------

function applyNamespace(ns, list) {
  for (const r of list) {
    if (CLUSTER_SCOPED.has(r.obj.kind)) continue;
    r.obj.metadata.namespace = ns;
  }
}

function applyLabels(file, labels, list) {
  for (const entry of labels) {
    for (const key of Object.keys(entry)) {
      if (!['pairs', 'includeSelectors', 'includeTemplates'].includes(key)) {
        fail(file, `labels: field "${key}" is not supported by this renderer`);
      }
    }
    if (entry.includeSelectors || entry.includeTemplates) {
      fail(file, 'labels: includeSelectors and includeTemplates are not supported by this renderer');
    }
    for (const r of list) {
      r.obj.metadata.labels = { ...(r.obj.metadata.labels || {}), ...entry.pairs };
    }
  }
}

// Splits an image reference into its name and the rest (":tag", "@digest" or both).
function splitImage(image) {
  const at = image.indexOf('@');
  const beforeDigest = at >= 0 ? image.slice(0, at) : image;
  const digest = at >= 0 ? image.slice(at) : '';
  const slash = beforeDigest.lastIndexOf('/');
  const colon = beforeDigest.lastIndexOf(':');
  if (colon > slash) return { name: beforeDigest.slice(0, colon), tag: beforeDigest.slice(colon), digest };
  return { name: beforeDigest, tag: '', digest };
}

function applyImages(file, images, list) {
  for (const img of images) {
    for (const key of Object.keys(img)) {
      if (!['name', 'newName', 'newTag', 'digest'].includes(key)) {
        fail(file, `images: field "${key}" is not supported by this renderer`);
      }
    }
    const visit = (node) => {
      if (Array.isArray(node)) return node.forEach(visit);
      if (!node || typeof node !== 'object') return;
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'containers' || key === 'initContainers') && Array.isArray(value)) {
          for (const c of value) {
            if (!c || typeof c.image !== 'string') continue;
            const parts = splitImage(c.image);
            if (parts.name !== img.name) continue;
            const name = img.newName || parts.name;
            if (img.digest) c.image = `${name}@${img.digest}`;
            else if (img.newTag !== undefined) c.image = `${name}:${img.newTag}`;
            else c.image = `${name}${parts.tag}${parts.digest}`;
          }
        }
        visit(value);
      }
    };
    list.forEach((r) => visit(r.obj));
  }
}

function applyReplicas(file, replicas, list) {
  for (const rep of replicas) {
    if (typeof rep.count !== 'number') fail(file, `replicas: ${rep.name} has no numeric count`);
    const targets = list.filter((r) => REPLICATED_KINDS.has(r.obj.kind) && r.obj.metadata.name === rep.name);
    if (targets.length === 0) fail(file, `replicas: no workload named ${rep.name}`);
    for (const r of targets) {
      r.obj.spec = r.obj.spec || {};
      r.obj.spec.replicas = rep.count;
    }
  }
}

function decodePointer(pointer, where) {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) fail(where, `path "${pointer}" is not a JSON pointer`);
  return pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolveParent(doc, tokens, where, pointer) {
  let node = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(node)) {
      const i = Number(t);
      if (!/^\d+$/.test(t) || i >= node.length) fail(where, `${pointer}: no element ${t}`);
      node = node[i];
    } else if (node && typeof node === 'object' && Object.prototype.hasOwnProperty.call(node, t)) {
      node = node[t];
    } else {
      fail(where, `${pointer}: no field ${t}`);
    }
  }
  return node;
}

function jsonPatch(doc, ops, where) {
  const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
  const get = (pointer) => {
    const tokens = decodePointer(pointer, where);
    if (tokens.length === 0) return doc;
    const parent = resolveParent(doc, tokens, where, pointer);
    const last = tokens[tokens.length - 1];
    if (Array.isArray(parent) ? !(/^\d+$/.test(last) && Number(last) < parent.length)
      : !(parent && Object.prototype.hasOwnProperty.call(parent, last))) {
      fail(where, `${pointer}: no such value`);
    }
    return parent[Array.isArray(parent) ? Number(last) : last];
  };
  const remove = (pointer) => {
    const tokens = decodePointer(pointer, where);
    const parent = resolveParent(doc, tokens, where, pointer);
    const last = tokens[tokens.length - 1];
    get(pointer);
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  };
  const add = (pointer, value, replace) => {
    const tokens = decodePointer(pointer, where);
    if (tokens.length === 0) fail(where, 'patching the whole object is not supported');
    const parent = resolveParent(doc, tokens, where, pointer);
    const last = tokens[tokens.length - 1];
    if (Array.isArray(parent)) {
      if (last === '-' && !replace) return void parent.push(value);
      const i = Number(last);
      if (!/^\d+$/.test(last) || i > parent.length || (replace && i === parent.length)) {
        fail(where, `${pointer}: index out of range`);
      }
      if (replace) parent[i] = value;
      else parent.splice(i, 0, value);
    } else if (parent && typeof parent === 'object') {
      if (replace && !Object.prototype.hasOwnProperty.call(parent, last)) fail(where, `${pointer}: nothing to replace`);
      parent[last] = value;
    } else {
      fail(where, `${pointer}: parent is not an object or array`);
    }
  };
  for (const op of ops) {
    if (!op || typeof op.op !== 'string' || typeof op.path !== 'string') fail(where, 'an operation lacks op or path');
    switch (op.op) {
      case 'add': add(op.path, clone(op.value), false); break;
      case 'replace': add(op.path, clone(op.value), true); break;
      case 'remove': remove(op.path); break;
      case 'copy': add(op.path, clone(get(op.from)), false); break;
      case 'move': { const v = clone(get(op.from)); remove(op.from); add(op.path, v, false); break; }
      case 'test':
        if (JSON.stringify(sortKeys(get(op.path))) !== JSON.stringify(sortKeys(op.value))) {
          fail(where, `test ${op.path} failed`);
        }
        break;
      default: fail(where, `unknown operation "${op.op}"`);
    }
  }
}

function matchesTarget(r, target) {
  const o = r.obj;
  const anchored = (pattern, value) => new RegExp(`^(?:${pattern})$`).test(value || '');
  if (target.kind && !anchored(target.kind, o.kind)) return false;
  if (target.name && !anchored(target.name, o.metadata.name)) return false;
  if (target.namespace && !anchored(target.namespace, o.metadata.namespace)) return false;
  if (target.group !== undefined && !anchored(target.group, groupOf(o.apiVersion))) return false;
  if (target.version && !anchored(target.version, o.apiVersion.split('/').pop())) return false;
  return true;
}

function applyPatches(dir, file, patches, list) {
  for (const [i, p] of patches.entries()) {
    const where = `${file}: patches[${i}]`;
    for (const key of Object.keys(p)) {
      if (!['target', 'patch', 'path'].includes(key)) fail(where, `field "${key}" is not supported by this renderer`);
    }
    if (!p.target) fail(where, 'a patch without target is not supported by this renderer');
    for (const key of Object.keys(p.target)) {
      if (!['group', 'version', 'kind', 'name', 'namespace'].includes(key)) {
        fail(where, `target field "${key}" is not supported by this renderer`);
      }
    }
    if ((p.patch === undefined) === (p.path === undefined)) fail(where, 'needs exactly one of patch and path');
    const text = p.patch !== undefined ? p.patch : fs.readFileSync(path.resolve(dir, p.path), 'utf8');
    const ops = YAML.parse(text);
    if (!Array.isArray(ops)) fail(where, 'only JSON 6902 patches (a list of operations) are supported by this renderer');
    const targets = list.filter((r) => matchesTarget(r, p.target));
    if (targets.length === 0) fail(where, `no resource matches target ${JSON.stringify(p.target)}`);
    for (const r of targets) jsonPatch(r.obj, ops, `${where} on ${id(r)}`);
  }
}

// --- build -----------------------------------------------------------------------------

function buildDir(dir, inherited, expectComponent, stack) {
  const abs = path.resolve(dir);
  if (stack.includes(abs)) fail(abs, `cycle: ${[...stack, abs].join(' -> ')}`);
  const { file, k } = readKustomization(abs);
  const kind = k.kind || 'Kustomization';
  if (expectComponent && kind !== 'Component') fail(file, 'listed under components but is not a Component');
  if (!expectComponent && kind !== 'Kustomization') fail(file, `kind ${kind} can only be listed under components`);
  const list = inherited;
  for (const entry of k.resources || []) {
    // As Kustomize: relative paths only; a file must be inside the kustomization's
    // directory, a directory (another kustomization) may be anywhere.
    if (typeof entry !== 'string' || path.isAbsolute(entry) || /^[a-z]+:\/\//.test(entry)) {
      fail(file, `resource ${entry}: only relative paths are supported`);
    }
    const p = path.resolve(abs, entry);
    if (!fs.existsSync(p)) fail(file, `resource ${entry} does not exist`);
    if (!fs.statSync(p).isDirectory() && !p.startsWith(abs + path.sep)) {
      fail(file, `resource ${entry} is a file outside ${abs} (Kustomize's load restrictions refuse it)`);
    }
    if (fs.statSync(p).isDirectory()) {
      for (const r of buildDir(p, [], false, [...stack, abs])) addResource(list, r, file);
    } else {
      for (const r of parseManifests(p)) addResource(list, r, file);
    }
  }
  for (const entry of k.components || []) {
    if (typeof entry !== 'string' || path.isAbsolute(entry)) fail(file, `component ${entry}: only relative paths are supported`);
    buildDir(path.resolve(abs, entry), list, true, [...stack, abs]);
  }
  applyConfigMapGenerators(abs, file, k, list);
  if (k.namespace) applyNamespace(k.namespace, list);
  if (k.patches) applyPatches(abs, file, k.patches, list);
  if (k.labels) applyLabels(file, k.labels, list);
  if (k.images) applyImages(file, k.images, list);
  if (k.replicas) applyReplicas(file, k.replicas, list);
  return list;
}

// Renders the kustomization in `dir`: a list of { obj, origin } (origin: the file that
// defined it), with the generated ConfigMaps' final names.
function render(dir) {
  const list = buildDir(dir, [], false, []);
  finalizeGeneratedNames(list);
  return list;
}

module.exports = { render, configMapHash, splitImage, jsonPatch, KustomizeError, CLUSTER_SCOPED };
