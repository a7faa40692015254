export * from './adapters';
export * from './handlers';
export * from './pipeline-state';
