import { spawnSync } from 'node:child_process';

/** The PostgreSQL server the results-store suite also runs against when it answers (trust auth, ours to use). */
export const TEST_POSTGRES_URL =
  process.env.SPLITWATCH_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/**
 * True when `url` accepts a connection within 2 s. Synchronous (a short child process), because Jest needs the
 * list of targets while it collects the suites, before any hook runs.
 */
export function isPostgresReachable(url: string): boolean {
  const script =
    'const { Client } = require(process.argv[1]);' +
    'const c = new Client({ connectionString: process.argv[2], connectionTimeoutMillis: 2000 });' +
    'c.connect().then(() => c.end()).then(() => process.exit(0), () => process.exit(1));';
  const probe = spawnSync(process.execPath, ['-e', script, require.resolve('pg'), url], {
    timeout: 5000,
    stdio: 'ignore',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return probe.status === 0;
}
