/**
 * Detection quality across worlds: `npm run bench:quality [-- --seeds 1,7,11] [--presets default] [--users N]
 * [--config FILE] [--dir DIR] [--json FILE]` (`--config`: a detection config JSON, as `splitwatch run --config`, to
 * judge a setting against the defaults on the same worlds).
 *
 * For each preset × seed it synthesises a labelled world (once; reused from `<dir>/<preset>-<users>-<seed>/world`),
 * runs the whole local pipeline on it (`splitwatch run`: the pipeline's ASL, DuckDB, PGlite) into a fresh data
 * directory, and evaluates that run against the labels (`splitwatch eval`). It prints, per world and method,
 * alerts, precision, episode recall and F1, the two figures of the product's quality goal read off the ranked list
 * (best precision at episode recall ≥ 0.95, best recall at precision ≥ 0.90), then the spread across worlds and the
 * recall of every scenario tag. A change to a detector is judged by all worlds at once, not by the one it was tuned on.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SYNTH_PRESETS, synthesize, type SynthOptions } from '@splitwatch/synth';
import { QUALITY_GOAL, type Evaluation, type MethodMetrics } from '@splitwatch/use-cases';
import { evalCommand } from '../../apps/cli/src/commands/eval.command';
import { runCommand } from '../../apps/cli/src/commands/run.command';
import { fmt, log, pct } from './measure';

const GOAL = QUALITY_GOAL;

interface WorldResult {
  name: string;
  rows: number;
  seconds: number;
  ev: Evaluation;
}


function readOptions() {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string', default: '1,7,11' },
      presets: { type: 'string', default: 'default' },
      users: { type: 'string' },
      dir: { type: 'string', default: join(tmpdir(), 'splitwatch-bench', 'quality') },
      json: { type: 'string' },
      config: { type: 'string' },
    },
  });
  const seeds = values.seeds.split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n)) throw new Error(`--seeds must be integers, got ${values.seeds}`);
    return n;
  });
  const presets = values.presets.split(',').map((p) => {
    if (!(p in SYNTH_PRESETS))
      throw new Error(`--presets: unknown preset ${p}; known: ${Object.keys(SYNTH_PRESETS).join(', ')}`);
    return p as keyof typeof SYNTH_PRESETS;
  });
  const users = values.users === undefined ? undefined : Number(values.users.replace(/_/g, ''));
  if (users !== undefined && !(Number.isInteger(users) && users >= 1))
    throw new Error(`--users must be a positive integer, got ${values.users}`);
  return { seeds, presets, users, dir: resolve(values.dir), json: values.json, config: values.config && resolve(values.config) };
}

async function runWorld(dir: string, synth: SynthOptions, name: string, config?: string): Promise<WorldResult> {
  const base = join(dir, name);
  const world = join(base, 'world');
  const dataDir = join(base, 'data');
  if (!existsSync(join(world, 'done.json'))) {
    await rm(world, { recursive: true, force: true });
    const s = await synthesize(synth, world);
    await writeFile(join(world, 'done.json'), JSON.stringify({ synth, rows: s.rows }));
  }
  await rm(dataDir, { recursive: true, force: true });
  const started = performance.now();
  const run = await runCommand(
    { input: join(world, 'transactions.csv'), dataDir, quiet: true, ...(config ? { config } : {}) },
    () => undefined,
  );
  const seconds = (performance.now() - started) / 1000;
  const ev = await evalCommand(
    { dataDir, labels: join(world, 'labels.csv'), runId: run.runId },
    () => undefined,
  );
  const rows = run.output.ingest?.totals.read ?? 0;
  log(`  ${name}: ${fmt(rows)} rows, ${fmt(ev.episodes)} episodes, pipeline ${seconds.toFixed(1)} s`);
  return { name, rows, seconds, ev };
}

async function main(): Promise<void> {
  const o = readOptions();
  await mkdir(o.dir, { recursive: true });
  log(`bench:quality — presets ${o.presets.join(', ')}, seeds ${o.seeds.join(', ')}; worlds under ${o.dir}${o.config ? `; config ${o.config}` : ''}`);
  const results: WorldResult[] = [];
  for (const preset of o.presets)
    for (const seed of o.seeds) {
      const synth: SynthOptions = { ...SYNTH_PRESETS[preset], seed, ...(o.users ? { users: o.users } : {}) };
      results.push(await runWorld(o.dir, synth, `${preset}-${synth.users}-seed${seed}`, o.config));
    }

  const out: string[] = [];
  for (const r of results) {
    out.push(
      `\n${r.name}: ${fmt(r.rows)} rows, ${fmt(r.ev.episodes)} labelled episodes, pipeline ${r.seconds.toFixed(1)} s`,
    );
    out.push(
      `| method | alerts | precision | episode recall | F1 | precision at recall ≥ ${GOAL.recall} | recall at precision ≥ ${GOAL.precision} |`,
      '|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const m of r.ev.methods)
      out.push(
        `| ${m.method} | ${fmt(m.alerts)} | ${pct(m.precision)} | ${pct(m.recall)} | ${m.f1.toFixed(3)} | ` +
          `${pct(m.precisionAtGoalRecall)} | ${pct(m.recallAtGoalPrecision)} |`,
      );
  }

  const methods = [...new Set(results.flatMap((r) => r.ev.methods.map((m) => m.method)))];
  const stat = (xs: number[]) => ({
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
    min: Math.min(...xs),
    max: Math.max(...xs),
  });
  const range = (xs: number[]) => {
    const s = stat(xs);
    return `${pct(s.mean)} (${pct(s.min)}–${pct(s.max)})`;
  };
  out.push(`\nacross ${results.length} worlds: mean (min–max)`);
  out.push(
    '| method | precision | episode recall | F1 | recall at precision ≥ 0.9 |',
    '|---|---:|---:|---:|---:|',
  );
  let goalMet = 0;
  for (const method of methods) {
    const ms = results
      .map((r) => r.ev.methods.find((m) => m.method === method))
      .filter((m): m is MethodMetrics => !!m);
    const f1 = stat(ms.map((m) => m.f1));
    out.push(
      `| ${method} | ${range(ms.map((m) => m.precision))} | ${range(ms.map((m) => m.recall))} | ` +
        `${f1.mean.toFixed(3)} (${f1.min.toFixed(3)}–${f1.max.toFixed(3)}) | ${range(ms.map((m) => m.recallAtGoalPrecision))} |`,
    );
  }
  for (const r of results)
    if (r.ev.methods.some((m) => (m.precisionAtGoalRecall ?? 0) >= GOAL.precision)) goalMet++;

  for (const method of ['ensemble', 'rule:split']) {
    const tags = [
      ...new Set(
        results.flatMap((r) => Object.keys(r.ev.methods.find((m) => m.method === method)?.recallByTag ?? {})),
      ),
    ].sort();
    if (!tags.length) continue;
    out.push(`\nrecall per scenario tag, ${method}`);
    out.push(
      `| tag | ${results.map((r) => r.name).join(' | ')} |`,
      `|---|${results.map(() => '---:').join('|')}|`,
    );
    for (const t of tags)
      out.push(
        `| ${t} | ${results
          .map((r) => {
            const x = r.ev.methods.find((m) => m.method === method)?.recallByTag[t];
            return x ? `${pct(x.recall)} of ${x.episodes}` : '—';
          })
          .join(' | ')} |`,
      );
  }
  out.push(
    `\ngoal (some method with precision ≥ ${GOAL.precision} at episode recall ≥ ${GOAL.recall}): met on ${goalMet} of ${results.length} worlds`,
  );
  console.log(out.join('\n'));
  if (o.json) {
    const compact = results.map((r) => ({
      world: r.name,
      rows: r.rows,
      seconds: r.seconds,
      episodes: r.ev.episodes,
      methods: r.ev.methods.map(({ curve: _curve, ...m }) => m),
    }));
    await writeFile(resolve(o.json), JSON.stringify(compact, null, 2));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
