import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface IsolatedRun {
  /** Names exported by the handler module. */
  exports: string[];
  /** What invoking `handler(event, context)` threw, when an event was given. */
  error?: { name: string; message: string };
}

// Loads the module the way the Lambda runtime does (require, then call the export), prints what happened.
const RUNNER = `
const [file, event] = process.argv.slice(1);
(async () => {
  const mod = require(file);
  const out = { exports: Object.keys(mod) };
  if (event !== undefined) {
    try { await mod.handler(JSON.parse(event), { functionName: 'isolated', awsRequestId: 'test' }); }
    catch (err) { out.error = { name: err.name, message: err.message }; }
  }
  process.stdout.write('\\n@@' + JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
`;

function assertNoNodeModulesAbove(dir: string): void {
  for (let d = dir; d !== parse(d).root; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) {
      throw new Error(`${d}/node_modules exists: a bundle loaded below it would not be isolated`);
    }
  }
}

/**
 * Writes a Lambda artifact's files to a temporary directory outside the workspace (so no node_modules is
 * reachable: only what the zip holds can be required) and loads `entry` in a fresh Node process with
 * nothing but `env` in its environment. Optionally invokes the handler with `event`.
 */
export async function loadInIsolation(
  files: Map<string, Buffer>,
  entry: string,
  env: Record<string, string>,
  event?: unknown,
): Promise<IsolatedRun> {
  const dir = await mkdtemp(join(tmpdir(), 'splitwatch-lambda-'));
  try {
    assertNoNodeModulesAbove(dir);
    for (const [name, data] of files) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), data);
    }
    const args = ['-e', RUNNER, join(dir, entry), ...(event === undefined ? [] : [JSON.stringify(event)])];
    const { stdout } = await run(process.execPath, args, {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 30_000,
    });
    return JSON.parse(stdout.slice(stdout.lastIndexOf('\n@@') + 3)) as IsolatedRun;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
