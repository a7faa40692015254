export { SYNTH_PRESETS, SynthOptionsError, TRANSACTION_COLUMNS } from './options';
export type { SynthOptions, TransactionColumn } from './options';
export { synthesize, userTraits } from './synthesize';
export type { AccountTraits, SynthProgress, SynthSummary } from './synthesize';
export type { UserTraits } from './model';
export { UNIT_E8 } from './amounts';
