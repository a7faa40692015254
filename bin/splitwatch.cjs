#!/usr/bin/env node
// Runs the TypeScript CLI straight from the checkout (no build step after `npm ci`), through tsx's loader
// so that workspace libs resolve by their tsconfig aliases in static and dynamic imports alike.
'use strict';
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const env = {
  ...process.env,
  TSX_TSCONFIG_PATH: process.env.TSX_TSCONFIG_PATH || path.join(root, 'tsconfig.json'),
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};
const loader = pathToFileURL(require.resolve('tsx', { paths: [root] })).href;
const result = spawnSync(
  process.execPath,
  ['--import', loader, path.join(root, 'apps', 'cli', 'src', 'main.ts'), ...process.argv.slice(2)],
  { stdio: 'inherit', env },
);
if (result.error) {
  console.error(`splitwatch: cannot start: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status === null ? 1 : result.status);
