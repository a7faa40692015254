import pg from 'pg';
import type { SqlClient } from './sql-client';

/** Options of {@link PgClient}. */
export interface PgClientOptions {
  /** Give up connecting after this long (default 10 s). */
  connectionTimeoutMillis?: number;
  /** Pool size (default 4). */
  max?: number;
}

/** One checked-out connection, inside a transaction; nested transactions join it. */
function connectionClient(connection: pg.PoolClient): SqlClient {
  const client: SqlClient = {
    query: async (sql, params) => ({ rows: (await connection.query(sql, params)).rows }),
    transaction: (fn) => fn(client),
    close: async () => undefined,
  };
  return client;
}

/**
 * SqlClient over a PostgreSQL server (Aurora, RDS, a local Debian `postgresql`) through a `pg` pool.
 *
 * @example
 * const client = await PgClient.connect('postgresql://postgres@127.0.0.1:5432/splitwatch');
 */
export class PgClient implements SqlClient {
  private readonly pool: pg.Pool;
  private ended = false;

  /** Creates the pool; connections are opened on first use. Prefer {@link PgClient.connect} to fail fast. */
  constructor(connectionString: string, options: PgClientOptions = {}) {
    this.pool = new pg.Pool({
      connectionString,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
      max: options.max ?? 4,
    });
    // An idle connection dropped by the server must not crash the process; the next query reports the failure.
    this.pool.on('error', () => undefined);
  }

  /** Creates the pool and checks the server answers (`SELECT 1`). */
  static async connect(connectionString: string, options?: PgClientOptions): Promise<PgClient> {
    const client = new PgClient(connectionString, options);
    try {
      await client.query('SELECT 1');
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  async query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> {
    return { rows: (await this.pool.query(sql, params)).rows };
  }

  async transaction<T>(fn: (client: SqlClient) => Promise<T>): Promise<T> {
    const connection = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await connection.query('BEGIN');
      const result = await fn(connectionClient(connection));
      await connection.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await connection.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error; // the connection is unusable: drop it instead of returning it to the pool
      }
      throw error;
    } finally {
      connection.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.pool.end();
  }
}
