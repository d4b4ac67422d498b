'use strict';
// index.d.ts: test/usage.ts, which uses every helper (and marks misuses that must not
// compile with @ts-expect-error), type-checks with `tsc --strict`.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { it } = require('node:test');

it('type-checks test/usage.ts against index.d.ts', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'commonjs',
    '--moduleResolution', 'node', '--types', 'node', path.join(__dirname, 'usage.ts')], { encoding: 'utf8' });
  assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
});
