import { resolve } from 'node:path';
import { SYNTH_PRESETS, synthesize, type SynthOptions, type SynthSummary } from '@splitwatch/synth';

export interface SynthCommandOptions {
  preset?: string;
  users?: number;
  days?: number;
  seed?: number;
  startDate?: string;
  episodeRate?: number;
  gzip?: boolean;
  out: string;
}

/** Resolves a preset and explicit overrides into generator options. */
export function synthOptions(opts: SynthCommandOptions): SynthOptions {
  const presetName = opts.preset ?? 'default';
  const preset = (SYNTH_PRESETS as Record<string, SynthOptions>)[presetName];
  if (!preset) throw new Error(`--preset must be one of ${Object.keys(SYNTH_PRESETS).join(', ')}; got "${presetName}"`);
  return {
    ...preset,
    ...(opts.users !== undefined ? { users: opts.users } : {}),
    ...(opts.days !== undefined ? { days: opts.days } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.startDate !== undefined ? { startDate: opts.startDate } : {}),
    ...(opts.episodeRate !== undefined ? { episodeRate: opts.episodeRate } : {}),
    ...(opts.gzip ? { format: 'csv.gz' as const } : {}),
  };
}

/** `splitwatch synth`: a labelled synthetic transaction log in the input contract. */
export async function synthCommand(opts: SynthCommandOptions, log: (s: string) => void = console.log): Promise<SynthSummary> {
  const options = synthOptions(opts);
  const out = resolve(opts.out);
  const started = Date.now();
  let lastShown = 0;
  const summary = await synthesize(options, out, (p) => {
    if (Date.now() - lastShown > 2000) {
      lastShown = Date.now();
      log(`  … ${p.rowsWritten.toLocaleString('en-US')} rows, ${p.usersDone}/${p.usersTotal} users`);
    }
  });
  const s = (Date.now() - started) / 1000;
  log(
    `synthesised ${summary.rows.toLocaleString('en-US')} rows (${summary.users} users, ${summary.episodes} labelled split episodes, ` +
      `${summary.duplicates} retry duplicates) in ${s.toFixed(1)} s → ${out}`,
  );
  return summary;
}
