/**
 * The little a results store needs from a PostgreSQL-compatible database: run one statement, run a unit of work in
 * a transaction, close. Implemented over PGlite (embedded) and `pg` (a server).
 */
export interface SqlClient {
  /**
   * Runs one statement and returns its rows (empty for statements without a result). `params` bind `$1`, `$2`, …
   * (a JS array binds a PostgreSQL array).
   */
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  /** Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (client: SqlClient) => Promise<T>): Promise<T>;
  /** Releases the database or the connection pool. */
  close(): Promise<void>;
}
