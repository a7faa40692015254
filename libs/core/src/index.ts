export * from './alert';
export * from './config';
export * from './errors';
export * from './ports';
export * from './transaction';
export * from './alerts-sql';
export * from './decimal';
export * from './memory-size';
