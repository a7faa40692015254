export * from './audit/step-record';
export * from './audit/run-lock';
export * from './detect/detect.use-case';
export * from './detect/ensemble';
export * from './detect/episodes';
export * from './detect/owner-history';
export * from './detect/models';
export * from './detect/window-vector';
export * from './detect/rules';
export * from './detect/split-score';
export * from './detect/split-weights';
export * from './features/build-features.use-case';
export * from './features/features.sql';
export * from './ingest/csv-parser';
export {
  stageCsvChunk,
  transferablesOf,
  type CsvChunkJob,
  type CsvChunkOutcome,
  type CsvChunkRunner,
} from './ingest/csv-chunks';
export * from './ingest/ingest.use-case';
export { listSources, readSourceState, SOURCE_STATE_FORMAT, type SourceListing, type SourceState } from './ingest/source-state';
export type { WithdrawalReport } from './ingest/withdraw';
export * from './ingest/validate-row';
export * from './report/render-report';
export * from './report/report.use-case';
export * from './sink/sink.use-case';
export * from './sql-text';
export * from './eval/evaluate';
export * from './report/render-eval';
