export { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.adapter';
export { AthenaSqlEngine, athenaValue, type AthenaSqlEngineOptions } from './athena-sql-engine.adapter';
export {
  RedshiftDataResultsStore,
  redshiftFieldValue,
  type RedshiftDataResultsStoreOptions,
} from './redshift-data-results-store.adapter';
export {
  createAwsAdapters,
  defaultAwsClients,
  readAwsAdaptersConfig,
  type AwsAdapters,
  type AwsAdaptersConfig,
  type AwsClients,
} from './aws-adapters';
