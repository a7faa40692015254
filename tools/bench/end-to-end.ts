/**
 * The end-to-end part of `npm run bench:detectors -- --end-to-end [--e2e-preset nequi] [--e2e-users N]
 * [--e2e-seed S] [--memory-limit 8GB] [--dir DIR]`: the whole local pipeline on a labelled synthetic world, the
 * detectors inside the product rather than alone.
 *
 * 1. `synth`: the preset's world (default `nequi`: 2.99M users, 334 days, ~21.5M rows, the real log's sparsity)
 *    written once under `<dir>/e2e-<preset>-<users>-<seed>/world/` and reused by later runs (delete it to redo).
 * 2. `run`: `splitwatch run` on it (the same runCommand the CLI calls: the pipeline's ASL executed locally, DuckDB
 *    for Athena, PGlite for Redshift) into a fresh data directory, in a child process of its own so its wall time,
 *    CPU and peak RSS (DuckDB's native memory included) are its own.
 * 3. `eval`: `splitwatch eval` of that run against the world's labels: precision and episode recall per detector.
 *
 * Printed: each step's time and rows/s, the detectors' own share of Detect (windows scored and seconds per model,
 * summed over the Map's slices, from the detect step records), FitModels' per-model fit time, and the evaluation.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { SYNTH_PRESETS, synthesize, type SynthOptions } from '@splitwatch/synth';
import { evalCommand } from '../../apps/cli/src/commands/eval.command';
import { runCommand } from '../../apps/cli/src/commands/run.command';
import { fmt, log, measureInChild, pct, reportFromChild, type ChildMeasurement } from './measure';

export interface EndToEndOptions {
  preset: string;
  users?: number;
  seed?: number;
  memoryLimit?: string;
  /** Detect's worker threads (`splitwatch run --workers`; default one per core). */
  workers?: number;
  dir: string;
}

type E2eChild =
  | { role: 'synth'; world: string; synth: SynthOptions }
  | { role: 'run'; world: string; dataDir: string; memoryLimit?: string; workers?: number };

/** Run summary the `run` child passes back in its measurement's detail. */
interface RunDetail {
  runId: string;
  stepSeconds: Record<string, number>;
  read: number;
  accepted: number;
  windows: number;
  alerts: number;
  ensemble: number;
}

export const E2E_CHILD_FLAG = '--e2e-child';

function worldOptions(o: EndToEndOptions): SynthOptions {
  const preset = SYNTH_PRESETS[o.preset as keyof typeof SYNTH_PRESETS];
  if (!preset)
    throw new Error(`--e2e-preset must be one of ${Object.keys(SYNTH_PRESETS).join(', ')}, got ${o.preset}`);
  return {
    ...preset,
    ...(o.users ? { users: o.users } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
}

/** Child side of the end-to-end phases (selected by {@link E2E_CHILD_FLAG}). */
export async function endToEndChild(json: string): Promise<void> {
  const a = JSON.parse(json) as E2eChild;
  if (a.role === 'synth') {
    await reportFromChild(async () => {
      const s = await synthesize(a.synth, a.world);
      return { rows: s.rows, detail: JSON.stringify({ episodes: s.episodes }) };
    });
    return;
  }
  await reportFromChild(async () => {
    const r = await runCommand(
      {
        input: join(a.world, 'transactions.csv'),
        dataDir: a.dataDir,
        memoryLimit: a.memoryLimit,
        workers: a.workers,
        quiet: true,
      },
      log,
    );
    const t = r.output.ingest?.totals;
    const parts = r.output.detect
      ? Array.isArray(r.output.detect)
        ? r.output.detect
        : [r.output.detect]
      : [];
    const detail: RunDetail = {
      runId: r.runId,
      stepSeconds: r.stepSeconds,
      read: t?.read ?? 0,
      accepted: t?.accepted ?? 0,
      windows: r.output.features?.rows ?? 0,
      alerts: parts.reduce((n, p) => n + p.alerts, 0),
      ensemble: r.output.sink?.ensemble ?? 0,
    };
    return { rows: detail.read, detail: JSON.stringify(detail) };
  });
}

const gb = (mb: number) => `${(mb / 1024).toFixed(2)} GB`;

/** Parent side: synthesise (once), run, evaluate, print. */
export async function runEndToEnd(
  o: EndToEndOptions,
  scriptArgs: (childJson: string) => string[],
): Promise<void> {
  const synth = worldOptions(o);
  const base = join(o.dir, `e2e-${o.preset}-${synth.users}-${synth.seed ?? 'default'}`);
  const world = join(base, 'world');
  const dataDir = join(base, 'data');
  await mkdir(base, { recursive: true });
  log(
    `end to end: ${o.preset} world (${fmt(synth.users)} users, ${synth.days} days) under ${base}; load ${loadavg()[0].toFixed(2)}`,
  );
  let synthM: ChildMeasurement | null = null;
  if (!existsSync(join(world, 'done.json'))) {
    await rm(world, { recursive: true, force: true });
    synthM = measureInChild(
      'synth',
      scriptArgs(JSON.stringify({ role: 'synth', world, synth } satisfies E2eChild)),
    );
    await writeFile(join(world, 'done.json'), JSON.stringify({ synth, rows: synthM.rows }));
    log(
      `  synthesised ${fmt(synthM.rows)} rows in ${(synthM.wallMs / 1000).toFixed(1)} s, peak RSS ${synthM.maxRssMb.toFixed(0)} MB`,
    );
  } else log('  reusing the world synthesised earlier');
  await rm(dataDir, { recursive: true, force: true });
  const loadBefore = loadavg()[0];
  const runM = measureInChild(
    'run',
    scriptArgs(
      JSON.stringify({ role: 'run', world, dataDir, memoryLimit: o.memoryLimit, workers: o.workers } satisfies E2eChild),
    ),
  );
  const loadAfter = loadavg()[0];
  const run = JSON.parse(runM.detail!) as RunDetail;

  // Detectors' own time, from the step records of the run (Detect's slices are summed).
  const stepsDir = join(dataDir, 'runs', run.runId, 'steps');
  const scoring = new Map<string, { windows: number; seconds: number }>();
  const fits: string[] = [];
  for (const f of (await readdir(stepsDir)).sort()) {
    const rec = JSON.parse(await readFile(join(stepsDir, f), 'utf8')) as {
      step: string;
      details?: { modelScoring?: Record<string, { windows: number; seconds: number }> };
    };
    for (const [kind, t] of Object.entries(rec.details?.modelScoring ?? {})) {
      const s = scoring.get(kind) ?? { windows: 0, seconds: 0 };
      s.windows += t.windows;
      s.seconds += t.seconds;
      scoring.set(kind, s);
    }
  }
  const modelsDir = join(dataDir, 'models');
  if (existsSync(modelsDir))
    for (const kind of (await readdir(modelsDir)).sort())
      for (const version of await readdir(join(modelsDir, kind))) {
        const a = JSON.parse(await readFile(join(modelsDir, kind, version, 'model.json'), 'utf8')) as {
          trainingRows: number;
          fitSeconds: number;
        };
        fits.push(`${kind} ${a.fitSeconds.toFixed(2)} s (sample of ${fmt(a.trainingRows)} windows)`);
      }

  const ev = await evalCommand(
    { dataDir, labels: join(world, 'labels.csv'), runId: run.runId },
    () => undefined,
  );

  const lines: string[] = [];
  lines.push(
    `\nend to end, ${o.preset} world: ${fmt(run.read)} rows read, ${fmt(run.accepted)} accepted, ` +
      `${fmt(run.windows)} windows, ${fmt(run.alerts)} alerts (${fmt(run.ensemble)} in the ensemble's budget)`,
  );
  if (synthM)
    lines.push(
      `synth: ${(synthM.wallMs / 1000).toFixed(1)} s, ${fmt(Math.round(synthM.rows / (synthM.wallMs / 1000)))} rows/s, peak RSS ${synthM.maxRssMb.toFixed(0)} MB`,
    );
  lines.push('| step | wall s | input rows/s |', '|---|---:|---:|');
  for (const [step, s] of Object.entries(run.stepSeconds))
    lines.push(`| ${step} | ${s.toFixed(1)} | ${s >= 0.5 ? fmt(Math.round(run.read / s)) : '—'} |`);
  lines.push(
    `| **whole run** | **${(runM.wallMs / 1000).toFixed(1)}** | ${fmt(Math.round(run.read / (runM.wallMs / 1000)))} |`,
    `CPU ${(runM.cpuMs / 1000).toFixed(1)} s, peak RSS ${gb(runM.maxRssMb)} (memory limit ${o.memoryLimit ?? 'default'}), load ${loadBefore.toFixed(2)}→${loadAfter.toFixed(2)}`,
  );
  if (fits.length) lines.push(`model fits (FitModels): ${fits.join('; ')}`);
  if (scoring.size) {
    lines.push('', 'model scoring inside Detect (summed over slices; robust scaling + score, batched across keys)');
    lines.push('| model | windows scored | seconds | windows/s |', '|---|---:|---:|---:|');
    for (const [kind, t] of scoring)
      lines.push(
        `| ${kind} | ${fmt(t.windows)} | ${t.seconds.toFixed(1)} | ${t.seconds > 0 ? fmt(Math.round(t.windows / t.seconds)) : '—'} |`,
      );
  }
  lines.push(
    '',
    `evaluation against ${fmt(ev.episodes)} labelled episodes`,
    '| method | alerts | precision | episode recall | F1 | precision at recall ≥ 0.95 | recall at precision ≥ 0.90 |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const m of ev.methods)
    lines.push(
      `| ${m.method} | ${fmt(m.alerts)} | ${pct(m.precision)} | ${pct(m.recall)} | ${m.f1.toFixed(3)} | ` +
        `${pct(m.precisionAtGoalRecall)} | ${pct(m.recallAtGoalPrecision)} |`,
    );
  console.log(lines.join('\n'));
}
