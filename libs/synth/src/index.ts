export { SYNTH_PRESETS, SynthOptionsError, TRANSACTION_COLUMNS } from './options';
export type { SynthOptions, TransactionColumn } from './options';
export { synthesize } from './synthesize';
export type { SynthProgress, SynthSummary } from './synthesize';
export { UNIT_E8 } from './amounts';
