'use strict';
// Runs a container's command and args, as rendered, with /bin/sh on this machine (dash on
// Debian, as in the debian:12-slim image), with a stand-in `kg_server` first on PATH that
// prints the arguments it was started with. This is how the check proves that the partition
// servers' entrypoint turns each pod name into the right --partition_count and --partitions.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const STUB = '#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done\n';

// env: the container's env resolved for one pod; files: { path in the container: path here }
// for the variables naming files (the cluster file), which are pointed at the local copy.
function runEntrypoint(container, { podName, env = {}, files = {} }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kg-k8s-entrypoint-'));
  try {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'kg_server'), STUB, { mode: 0o755 });
    const resolved = {};
    for (const e of container.env || []) {
      if (e.value !== undefined) {
        resolved[e.name] = e.value;
      } else if (e.valueFrom && e.valueFrom.fieldRef && e.valueFrom.fieldRef.fieldPath === 'metadata.name') {
        resolved[e.name] = podName;
      } else if (e.valueFrom && e.valueFrom.fieldRef && e.valueFrom.fieldRef.fieldPath === 'metadata.namespace') {
        resolved[e.name] = env.NAMESPACE || 'default';
      } else {
        throw new Error(`env ${e.name}: only values and the pod's name or namespace can be resolved here`);
      }
    }
    for (const [name, value] of Object.entries(resolved)) {
      if (Object.prototype.hasOwnProperty.call(files, value)) resolved[name] = files[value];
    }
    const argv = [...(container.command || []), ...(container.args || [])];
    if (argv.length === 0) throw new Error('the container has no command (it would run the image entrypoint)');
    const result = spawnSync(argv[0], argv.slice(1), {
      env: { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, HOME: dir, ...resolved },
      encoding: 'utf8',
      timeout: 10000,
    });
    if (result.error) throw result.error;
    const out = result.stdout || '';
    return {
      status: result.status,
      // The stand-in prints its arguments NUL-terminated; nothing printed means it never ran.
      argv: out === '' ? null : out.split('\0').slice(0, -1),
      stderr: (result.stderr || '').trim(),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { runEntrypoint };
