import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { SqlClient } from './sql-client';

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

  /** Starts PGlite, persisted in `dataDir` (created when absent) or in memory when it is undefined. Takes ~3 s. */
  static async open(dataDir?: string): Promise<PgliteClient> {
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
