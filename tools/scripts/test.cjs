#!/usr/bin/env node
// `npm test`: lint, typecheck, then every project's unit and integration tests through Nx, offline.
'use strict';
const { spawnSync } = require('node:child_process');

const env = {
  ...process.env,
  NX_DAEMON: 'false',
  NX_NO_CLOUD: 'true',
  NX_TUI: 'false',
  NX_SKIP_NX_CACHE: process.env.CI ? 'true' : process.env.NX_SKIP_NX_CACHE || '',
  SLS_TELEMETRY_DISABLED: '1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};
const steps = [
  // ESLint's module-boundary rule reads Nx's project graph and silently skips itself without one.
  ['project graph', ['npx', 'nx', 'show', 'projects']],
  ['lint', ['npx', 'eslint', '.', '--max-warnings=0']],
  ['typecheck', ['npx', 'tsc', '-p', 'tsconfig.json', '--noEmit']],
  ['tests', ['npx', 'nx', 'run-many', '-t', 'test', '--parallel=2', '--output-style=stream-without-prefixes']],
];
for (const [name, [cmd, ...args]] of steps) {
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const started = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`\n${name} failed (exit ${r.status})`);
    process.exit(r.status || 1);
  }
  console.log(`=== ${name} passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
