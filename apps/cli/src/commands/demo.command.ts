import { join, resolve } from 'node:path';
import { DEFAULT_DATA_DIR } from '../paths';
import { evalCommand } from './eval.command';
import { exportAlertsCommand } from './export.command';
import { reportCommand } from './report.command';
import { runCommand } from './run.command';
import { synthCommand } from './synth.command';

/**
 * `splitwatch demo` (what `npm run demo` calls): synthesise the default labelled world, run the whole
 * pipeline on it with the embedded adapters, export the alerts and write the report.
 */
export async function demoCommand(opts: { dataDir?: string; preset?: string; seed?: number }, log: (s: string) => void = console.log) {
  const dataDir = resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  const demoInput = join(dataDir, 'demo-input');
  log(`1/5 synthesising a labelled demo log (${opts.preset ?? 'default'} preset)`);
  const synth = await synthCommand({ preset: opts.preset ?? 'default', seed: opts.seed ?? 42, out: demoInput }, log);
  log('2/5 running the pipeline (the same ASL Step Functions runs in AWS)');
  const run = await runCommand({ input: synth.files.transactions, dataDir }, log);
  log('3/5 exporting alerts');
  const alertsCsv = join(dataDir, 'alerts.csv');
  await exportAlertsCommand({ dataDir, out: alertsCsv }, log);
  log('4/5 writing the report');
  const report = await reportCommand({ dataDir, out: join(dataDir, 'report') }, log);
  log('5/5 measuring the detectors against the ground truth (labels.csv)');
  await evalCommand({ dataDir, labels: synth.files.labels, json: join(dataDir, 'eval.json') }, log);
  log('');
  log('Done. Open these:');
  log(`  alerts (CSV)   ${alertsCsv}`);
  log(`  report (HTML)  ${report}`);
  log(`  labels         ${synth.files.labels} (ground truth of the synthetic world)`);
  log(`  evaluation     ${join(dataDir, 'eval.json')} and ${join(dataDir, 'reports', 'latest', 'eval.html')}`);
  log(`  audit trail    ${join(dataDir, 'runs', run.runId, 'manifest.json')}`);
  return { dataDir, alertsCsv, report, run, synth };
}
