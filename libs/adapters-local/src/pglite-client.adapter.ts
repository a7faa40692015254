import { randomUUID } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { SqlClient } from './sql-client';

/** Where {@link PgliteClient.open} keeps its template data folders (one per PGlite version). */
export interface PgliteOpenOptions {
  /** Folder of the template data folders (default: the OS temp folder); `null`: no template, initdb every time. */
  templateRoot?: string | null;
}

let pgliteVersion: string | undefined;
function versionOfPglite(): string {
  pgliteVersion ??= (
    JSON.parse(
      readFileSync(
        path.join(path.dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json'),
        'utf8',
      ),
    ) as { version: string }
  ).version;
  return pgliteVersion;
}

/**
 * A pristine data folder of this PGlite version under `root`, made once (PGlite's initdb, 3–6 s) and renamed into
 * place whole, so a folder there is always complete; concurrent makers keep whichever rename came first.
 */
async function templateFolder(root: string): Promise<string> {
  const dir = path.join(root, `splitwatch-pglite-template-${versionOfPglite()}`);
  if (existsSync(path.join(dir, 'PG_VERSION'))) return dir;
  const work = `${dir}.tmp-${randomUUID()}`;
  try {
    await (await PGlite.create(work)).close();
    await fsp.rename(work, dir);
  } catch (error) {
    if (!existsSync(path.join(dir, 'PG_VERSION'))) throw error;
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
  return dir;
}

async function isMissingOrEmpty(dir: string): Promise<boolean> {
  try {
    return (await fsp.readdir(dir)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}

/**
 * Seeds a new data folder with a copy of the template (copied beside it, then renamed into place: never half a
 * folder). Any failure leaves the folder as it was, and PGlite then creates it the usual way.
 */
async function seedFromTemplate(dataDir: string, root: string): Promise<void> {
  const seed = `${path.resolve(dataDir)}.seed-${randomUUID()}`;
  try {
    const template = await templateFolder(root);
    await fsp.mkdir(path.dirname(seed), { recursive: true });
    await fsp.cp(template, seed, { recursive: true });
    // The folder is absent or empty (checked): an empty one makes way for the rename.
    await fsp.rmdir(dataDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await fsp.rename(seed, dataDir);
  } catch {
    // Not seeded: PGlite runs initdb in the folder itself.
  } finally {
    await fsp.rm(seed, { recursive: true, force: true });
  }
}

/** A transaction of PGlite seen as a SqlClient; nested transactions join it, and closing is left to the owner. */
function transactionClient(tx: Transaction): SqlClient {
  const client: SqlClient = {
    query: async (sql, params) => ({ rows: (await tx.query<Record<string, unknown>>(sql, params)).rows }),
    transaction: (fn) => fn(client),
    close: async () => undefined,
  };
  return client;
}

/**
 * SqlClient over PGlite (PostgreSQL compiled to WASM, in process): no server, no account.
 *
 * @example
 * const client = await PgliteClient.open('.splitwatch/pglite'); // persistent; omit the folder for in-memory
 */
export class PgliteClient implements SqlClient {
  private constructor(
    private readonly db: PGlite,
    /** Data folder, or undefined when the database lives in memory. */
    readonly dataDir: string | undefined,
  ) {}

  /**
   * Starts PGlite, persisted in `dataDir` or in memory when it is undefined. An existing folder opens in ~0.5 s; a
   * new (absent or empty) one is a copy of a template data folder kept in the OS temp folder (~1.4 s instead of the
   * 3–6 s of PGlite's initdb, which makes the template the first time).
   */
  static async open(dataDir?: string, options: PgliteOpenOptions = {}): Promise<PgliteClient> {
    const templateRoot = options.templateRoot === undefined ? tmpdir() : options.templateRoot;
    if (dataDir !== undefined && templateRoot !== null && (await isMissingOrEmpty(dataDir)))
      await seedFromTemplate(dataDir, templateRoot);
    const db = dataDir === undefined ? await PGlite.create() : await PGlite.create(dataDir);
    return new PgliteClient(db, dataDir);
  }

  async query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> {
    return { rows: (await this.db.query<Record<string, unknown>>(sql, params)).rows };
  }

  transaction<T>(fn: (client: SqlClient) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(transactionClient(tx)));
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}
