'use strict';
// Validation of rendered objects against the Kubernetes API schemas, two ways:
//  - validate(): kubernetes-models' JSON-schema validators, generated from the Kubernetes
//    OpenAPI document (types, required fields, enums, formats), for every kind, and from
//    the Prometheus Operator's CRD for ServiceMonitor;
//  - strictFields(): unknown fields. Those schemas allow properties they don't define (as
//    the API server does when it prunes), but `kubectl apply` validates strictly, and a
//    misspelt optional field (`terminationGracePeriodSecond`) would otherwise pass here and
//    be refused or dropped there. The same package ships TypeScript declarations of every
//    type, generated from the same document; each object is walked along its kind's
//    declared type with TypeScript's type checker, and every field the type doesn't have
//    (and no map type allows) is reported with its path.

const path = require('node:path');
const ts = require('typescript');

const CHECK_DIR = path.resolve(__dirname, '..');

function splitApiVersion(apiVersion) {
  return apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
}

// The module of a kind's model, or null when no schema is bundled for it.
function modelModule(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !/^[A-Za-z0-9]+$/.test(kind)) return null;
  const [group, version] = splitApiVersion(apiVersion);
  if (!/^[a-z0-9.-]*$/.test(group) || !/^v[0-9a-z]+$/.test(version)) return null;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return group === '' ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
}

function loadModel(apiVersion, kind) {
  const mod = modelModule(apiVersion, kind);
  if (!mod) return null;
  try {
    return require(mod)[kind] || null;
  } catch (e) {
    if (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return null;
    throw e;
  }
}

// Schema errors of one object, as strings ("spec.replicas: must be integer").
function validate(obj) {
  const Model = loadModel(obj.apiVersion, obj.kind);
  if (!Model) return [`no schema for ${obj.apiVersion} ${obj.kind}`];
  try {
    new Model(JSON.parse(JSON.stringify(obj))).validate();
    return [];
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    return e.errors.map((err) => {
      const where = err.instancePath ? err.instancePath.slice(1).replace(/\//g, '.') : '(object)';
      const extra = err.params && err.params.allowedValues ? ` (${err.params.allowedValues.join(', ')})` : '';
      return `${where}: ${err.message}${extra}`;
    });
  }
}

let cachedChecker = null;

// One TypeScript program over the declarations of every kind asked for so far (built again
// only when a kind is new).
function checkerFor(kinds) {
  const missing = kinds.filter(({ mod, kind }) => !(cachedChecker && cachedChecker.types.has(`${mod}#${kind}`)));
  if (missing.length === 0) return cachedChecker;
  const wanted = new Map(cachedChecker ? cachedChecker.wanted : []);
  for (const { mod, kind } of missing) wanted.set(`${mod}#${kind}`, { mod, kind });
  const fileName = path.join(CHECK_DIR, '__rendered_kinds__.ts');
  const entries = [...wanted.values()];
  const text = entries.map((e, i) => `import type { I${e.kind} as T${i} } from ${JSON.stringify(e.mod)};\nexport type K${i} = T${i};`).join('\n');
  const options = {
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2020.d.ts'],
    target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
  };
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) => (path.resolve(name) === fileName
    ? ts.createSourceFile(fileName, text, languageVersion, true)
    : getSourceFile(name, languageVersion, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === fileName || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (path.resolve(name) === fileName ? text : readFile(name));
  const program = ts.createProgram([fileName], options, host);
  const problems = [...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics()];
  if (problems.length > 0) {
    throw new Error(`type declarations could not be loaded: ${problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' ')).join('; ')}`);
  }
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(fileName);
  const types = new Map();
  let i = 0;
  for (const statement of source.statements) {
    if (ts.isTypeAliasDeclaration(statement)) {
      const e = entries[i++];
      types.set(`${e.mod}#${e.kind}`, checker.getTypeFromTypeNode(statement.type));
    }
  }
  cachedChecker = { checker, types, wanted, source };
  return cachedChecker;
}

// Walks a value along its declared type and reports every field the type doesn't have.
function unknownFields(value, type, ctx, where, out) {
  const { checker, source } = ctx;
  if (value === null || typeof value !== 'object') return;
  let t = checker.getNonNullableType(type);
  if (t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
  if (t.isUnion()) {
    const candidates = t.types.filter((m) => m.flags & ts.TypeFlags.Object);
    if (candidates.length === 0) return;
    if (candidates.length > 1) {
      // The member that fits best (fewest unknown fields) decides.
      let best = null;
      for (const c of candidates) {
        const found = [];
        unknownFields(value, c, ctx, where, found);
        if (best === null || found.length < best.length) best = found;
      }
      out.push(...best);
      return;
    }
    t = candidates[0];
  }
  const apparent = checker.getApparentType(t);
  const infos = checker.getIndexInfosOfType(apparent);
  if (Array.isArray(value)) {
    const numberIndex = infos.find((info) => info.keyType.flags & ts.TypeFlags.Number);
    if (!numberIndex) {
      out.push(`${where || '(object)'}: a list where the schema has ${checker.typeToString(t)}`);
      return;
    }
    value.forEach((v, i) => unknownFields(v, numberIndex.type, ctx, `${where}[${i}]`, out));
    return;
  }
  const stringIndex = infos.find((info) => info.keyType.flags & ts.TypeFlags.String);
  for (const [key, child] of Object.entries(value)) {
    const childWhere = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${where}${where ? '.' : ''}${key}`
      : `${where}[${JSON.stringify(key)}]`;
    const prop = apparent.getProperty(key);
    if (prop) {
      unknownFields(child, checker.getTypeOfSymbolAtLocation(prop, source), ctx, childWhere, out);
    } else if (stringIndex) {
      unknownFields(child, stringIndex.type, ctx, childWhere, out);
    } else {
      const name = checker.typeToString(t);
      out.push(`${childWhere}: unknown field "${key}"${name.length < 60 && !name.startsWith('{') ? ` (not in ${name.replace(/^I/, '')})` : ''}`);
    }
  }
}

// Unknown fields of each object (the types are those of kubernetes-models' declarations).
function strictFields(objects) {
  const known = (obj) => modelModule(obj.apiVersion, obj.kind) && loadModel(obj.apiVersion, obj.kind);
  const ctx = checkerFor(objects.filter(known).map((obj) => ({ mod: modelModule(obj.apiVersion, obj.kind), kind: obj.kind })));
  return objects.map((obj) => {
    const mod = modelModule(obj.apiVersion, obj.kind);
    if (!known(obj)) return [`no type declarations for ${obj.apiVersion} ${obj.kind}`];
    const out = [];
    unknownFields(obj, ctx.types.get(`${mod}#${obj.kind}`), ctx, '', out);
    return out;
  });
}

module.exports = { validate, strictFields, modelModule };
