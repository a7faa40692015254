export { InvalidObjectKeyError } from './local-keys';
export * from './local-object-store.adapter';
export * from './duckdb-sql-engine.adapter';
export * from './sql-client';
export * from './pglite-client.adapter';
export * from './pg-client.adapter';
export * from './postgres-results-store.adapter';
