import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALERT_COLUMNS, Keys, type Alert } from '@splitwatch/core';
import { readSplitCandidates, registerFeatures, RUN_LOCK_KEY, SPLIT_CANDIDATE_METHOD, type DetectResult } from '@splitwatch/use-cases';
import { openLocalAdapters, type Adapters } from '@splitwatch/handlers';
import { synthesize, SYNTH_PRESETS } from '@splitwatch/synth';
import { alertsToCsv } from '../src/commands/export.command';
import { stageInput } from '../src/commands/run.command';
import { PipelineFailedError, runPipelineLocally } from '../src/local-runner';
import { PIPELINE_ASL } from '../src/paths';

describe('the pipeline ASL run locally with the embedded adapters', () => {
  let dir: string;
  let adapters: Adapters;
  let transactionsCsv: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'splitwatch-e2e-'));
    const synth = await synthesize({ ...SYNTH_PRESETS.tiny, seed: 7 }, join(dir, 'input'));
    transactionsCsv = synth.files.transactions;
    adapters = await openLocalAdapters({ dataDir: join(dir, 'data'), results: { kind: 'pglite' } });
  });

  afterAll(async () => {
    await adapters.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (runId: string, input: string, workers?: number, reingest?: boolean) =>
    runPipelineLocally({
      aslPath: PIPELINE_ASL,
      input: { runId, sources: await stageInput(input, join(dir, 'data')), ...(reingest ? { reingest } : {}) },
      adapters: async () => adapters,
      ...(workers ? { detectWorkers: { workers, adapters: { dataDir: join(dir, 'data'), results: { kind: 'pglite' } } } } : {}),
      logger: () => undefined,
    });

  it('runs every stage, stores the alerts and writes the report and the audit trail', async () => {
    const out = await run('run-1', transactionsCsv);
    const t = out.ingest!.totals;
    expect(t.read).toBeGreaterThan(1000);
    expect(t.accepted + t.duplicates + t.rejected).toBe(t.read);
    expect(t.duplicates).toBeGreaterThan(0);
    expect(out.features!.rows).toBe(t.accepted);
    const slices = out.detect as DetectResult[];
    expect(slices.map((d) => d.partition)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    const detected = slices.reduce((n, d) => n + d.alerts, 0);
    expect(detected).toBeGreaterThan(0);
    expect(out.sink!.ensemble).toBeGreaterThan(0);
    expect(out.sink!.written).toBe(detected + out.sink!.ensemble);

    const store = await adapters.resultsStore();
    const alerts = await store.listAlerts();
    expect(alerts).toHaveLength(detected + out.sink!.ensemble);
    expect(alerts.filter((a) => a.method === 'ensemble')).toHaveLength(out.sink!.ensemble);
    // Split episodes below the rule's threshold reach the ensemble but are never stored as alerts of their own.
    const candidates = slices.reduce((n, d) => n + d.splitCandidates, 0);
    expect(candidates).toBeGreaterThan(0);
    expect(alerts.some((a) => a.method === SPLIT_CANDIDATE_METHOD)).toBe(false);
    const sinkRecord = JSON.parse(await adapters.objectStore.getText('runs/run-1/steps/sink.json'));
    expect(sinkRecord.counts.splitCandidates).toBe(candidates);
    // Every slice counts the log's age from the same first transaction: the whole log's, not its own keys'.
    const starts = await Promise.all(
      slices.map(async (d) => JSON.parse(await adapters.objectStore.getText(`runs/run-1/steps/detect-${d.partition}.json`)).details.logStart),
    );
    expect(new Set(starts).size).toBe(1);
    expect(starts[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(starts[0].slice(0, 10)).toBe(out.ingest!.dateRange!.min);
    expect(alerts.some((a) => a.method === 'rule:split' && /the log (starts|covers)/.test(a.reasons))).toBe(true);
    // What the evaluation's ensemble:all reads back: every candidate Detect wrote, none of them stored.
    const read = await readSplitCandidates(adapters.objectStore, alerts.map((a) => a.run_id));
    expect(read).toHaveLength(candidates);
    expect(read.every((c) => c.method === SPLIT_CANDIDATE_METHOD && c.score < c.threshold)).toBe(true);
    expect(new Set(alerts.map((a) => a.alert_id)).size).toBe(alerts.length);
    for (const a of alerts) {
      expect(a.transaction_ids.length).toBe(a.n_tx);
      expect(a.reasons.length).toBeGreaterThan(0);
    }
    const csv = alertsToCsv(alerts);
    expect(csv.split('\n')[0]).toBe(ALERT_COLUMNS.join(','));
    expect(csv.trim().split('\n')).toHaveLength(alerts.length + 1);

    const html = await adapters.objectStore.getText(out.report!.reportKey);
    expect(html).toContain('Alerts by method');
    // The top alerts come with their member transactions, read from the lake.
    expect(html.match(/transactions<\/summary><table class="members">/g)?.length).toBeGreaterThan(0);
    expect(html).not.toContain('not in the lake');
    expect(html).toMatch(/<h2>Latest day \(\d{4}-\d{2}-\d{2}\): \d+ ensemble alerts/);
    // And what became of the input file.
    expect(html).toMatch(/<h2>Files of this run<\/h2>.*<td class="mono">raw\/transactions\.csv<\/td><td>ingested/s);
    const manifest = JSON.parse(await adapters.objectStore.getText('runs/run-1/manifest.json'));
    expect(manifest.status).toBe('SUCCEEDED');
    expect(manifest.steps.map((s: { step: string }) => s.step)).toEqual([
      'ingest',
      'build-features',
      'fit-models',
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((p) => `detect-${p}`),
      'sink',
      'report',
    ]);
  });

  it('does not duplicate alerts when the same input runs again', async () => {
    const store = await adapters.resultsStore();
    const before = (await store.listAlerts()).map((a) => a.alert_id).sort();
    // Read again on request: every row curated afresh, every stage run again.
    const out = await run('run-2', transactionsCsv, undefined, true);
    expect(out.ingest!.totals.accepted).toBeGreaterThan(0);
    expect((await store.listAlerts()).map((a) => a.alert_id).sort()).toEqual(before);
    // By default the unchanged file is not read again, and nothing is rebuilt.
    const again = await run('run-3', transactionsCsv);
    expect(again.ingest!.totals).toMatchObject({ files: 0, read: 0, unchanged: 1 });
    expect(again.features).toMatchObject({ mode: 'unchanged' });
    expect((await store.listAlerts()).map((a) => a.alert_id).sort()).toEqual(before);
  });

  it('scores the account slices on worker threads with the same alerts as in one thread', async () => {
    const out = await run('run-workers', transactionsCsv, 2);
    const slices = out.detect as DetectResult[];
    expect(slices.map((d) => d.partition)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    const written = async (runId: string) => {
      const files: Record<string, unknown> = {};
      for (const o of await adapters.objectStore.list(`alerts/run=${runId}/`)) {
        const list = JSON.parse(await adapters.objectStore.getText(o.key)) as { run_id?: string }[];
        files[o.key.slice(`alerts/run=${runId}/`.length)] = list.map(({ run_id, ...rest }) => (expect(run_id).toBe(runId), rest));
      }
      return files;
    };
    const threaded = await written('run-workers');
    expect(Object.keys(threaded)).toHaveLength(16); // 8 slices' alerts and split candidates
    expect(threaded).toEqual(await written('run-1'));
    // Each worker wrote its slices' step records into the same audit trail.
    const manifest = JSON.parse(await adapters.objectStore.getText('runs/run-workers/manifest.json'));
    expect(manifest.steps.filter((s: { step: string }) => s.step.startsWith('detect-'))).toHaveLength(8);
  });

  /** A data directory of its own; `go` runs the pipeline on an input path (and withdraws `withdraw`'s keys first). */
  const inWorld = async <T>(
    name: string,
    fn: (go: (runId: string, input: string | undefined, withdraw?: string[]) => ReturnType<typeof run>, a: Adapters) => Promise<T>,
  ) => {
    const dataDir = join(dir, name);
    const a = await openLocalAdapters({ dataDir, results: { kind: 'pglite' } });
    try {
      const go = async (runId: string, input: string | undefined, withdraw?: string[]) =>
        runPipelineLocally({
          aslPath: PIPELINE_ASL,
          input: { runId, sources: input === undefined ? [] : await stageInput(input, dataDir), ...(withdraw ? { withdraw } : {}) },
          adapters: async () => a,
          logger: () => undefined,
        });
      return await fn(go, a);
    } finally {
      await a.close();
    }
  };
  const byId = (x: { alert_id: string }, y: { alert_id: string }) => (x.alert_id < y.alert_id ? -1 : 1);
  const ruleAlerts = async (a: Adapters) =>
    (await (await a.resultsStore()).listAlerts())
      .filter((x) => x.method.startsWith('rule:'))
      .map(({ run_id: _run, ...rest }) => rest)
      .sort(byId);
  // What the last run's Detect wrote with the rules (and the ensemble's split candidates), without the run id:
  // the models differ, since the daily run reuses the models fitted before the last day.
  const detected = async (a: Adapters, runId: string) => {
    const out: (Omit<Alert, 'run_id'> & { kind: string })[] = [];
    for (const o of await a.objectStore.list(Keys.alerts(runId))) {
      const kind = o.key.includes('/split-candidates/') ? 'candidate' : 'alert';
      for (const { run_id: _run, ...rest } of JSON.parse(await a.objectStore.getText(o.key)) as Alert[]) out.push({ kind, ...rest });
    }
    return out.filter((x) => !x.method.startsWith('model:')).sort((x, y) => byId(x, y) || x.kind.localeCompare(y.kind));
  };
  const featureRows = async (a: Adapters) => {
    const engine = await a.sqlEngine();
    await registerFeatures(engine);
    return engine.query(
      `SELECT tx_id, n_tx, CAST(sum_amount AS VARCHAR) AS s, user_n_tx, um_n_tx, CAST(acct_cap_amount AS VARCHAR) AS cap, acct_n_subsidiaries, hist_days, acct_hist_days FROM features ORDER BY tx_id`,
    );
  };

  it('adds a new day incrementally: only its users recomputed and rescored, the same features and rule alerts as from scratch', async () => {
    // The synthetic log without its last day, then the last day as a file of its own (a scheduled run's input).
    // Two weeks: a change within the log's first week would make Detect score every key.
    const twoWeeks = await synthesize({ ...SYNTH_PRESETS.tiny, users: 1500, days: 14, txPerUserDay: 0.2, seed: 7 }, join(dir, 'input-14-days'));
    const [header, ...lines] = (await readFile(twoWeeks.files.transactions, 'utf-8')).trimEnd().split('\n');
    const at = header.split(',').indexOf('transaction_date');
    const dayOf = (line: string) => line.split(',')[at].slice(0, 10);
    const last = lines.map(dayOf).sort().pop()!;
    // A scheduled run's input directory: a file per delivery, growing by one.
    const logs = join(dir, 'logs');
    await mkdir(logs);
    const files = { before: join(logs, 'before.csv'), last: join(logs, 'last-day.csv'), all: join(dir, 'all.csv') };
    await writeFile(files.before, [header, ...lines.filter((l) => dayOf(l) < last)].join('\n') + '\n');
    await writeFile(files.all, [header, ...lines].join('\n') + '\n');

    const incremental = await inWorld('data-incremental', async (go, a) => {
      const first = await go('day-1', logs);
      await writeFile(files.last, [header, ...lines.filter((l) => dayOf(l) === last)].join('\n') + '\n');
      const second = await go('day-2', logs);
      expect(first.features!.mode).toBe('full');
      // Given the whole directory, it reads only the new file.
      expect(second.ingest!.totals).toMatchObject({ files: 1, unchanged: 1 });
      expect(second.features).toMatchObject({ mode: 'incremental', rows: first.features!.rows + second.ingest!.totals.accepted });
      expect(second.features!.recomputedRows).toBeLessThan(second.features!.rows / 2);
      // Detect scores only the keys of the recomputed users and carries the others' alerts over.
      const slices = (r: typeof second) => [r.detect ?? []].flat();
      const scored = (r: typeof second) => slices(r).reduce((n, p) => n + p.rescoredKeys, 0);
      expect(slices(second).map((p) => p.mode)).toEqual(slices(first).map(() => 'incremental'));
      expect(scored(second)).toBeLessThan(scored(first) / 2);
      expect(slices(second).reduce((n, p) => n + p.carriedAlerts, 0)).toBeGreaterThan(0);
      return {
        alerts: await ruleAlerts(a),
        features: await featureRows(a),
        detected: await detected(a, 'day-2'),
        retired: second.sink!.retired,
        carried: second.sink!.carried,
      };
    });
    const scratch = await inWorld('data-scratch', async (go, a) => {
      expect((await go('all', files.all)).features!.mode).toBe('full');
      return { alerts: await ruleAlerts(a), features: await featureRows(a), detected: await detected(a, 'all') };
    });
    expect(incremental.features).toEqual(scratch.features);
    expect(incremental.detected.length).toBeGreaterThan(0);
    expect(incremental.detected).toEqual(scratch.detected);
    // The store holds the current alerts: the first run's alerts of chains the new day extended (their best window,
    // hence their id, moved) were retired.
    expect(scratch.alerts.length).toBeGreaterThan(0);
    expect(incremental.alerts).toEqual(scratch.alerts);
    expect(incremental.retired).toBeGreaterThan(0);
    // The sink wrote only the fresh alerts and moved the carried ones (the store held exactly the first run's).
    expect(incremental.carried).toBeGreaterThan(0);
  });

  it('withdraws a file: its rows, features and alerts go, the same features and rule alerts as without it from scratch', async () => {
    const world = await synthesize({ ...SYNTH_PRESETS.tiny, users: 1500, days: 14, txPerUserDay: 0.2, seed: 11 }, join(dir, 'input-withdraw'));
    const [header, ...lines] = (await readFile(world.files.transactions, 'utf-8')).trimEnd().split('\n');
    const at = header.split(',').indexOf('transaction_date');
    const dayOf = (line: string) => line.split(',')[at].slice(0, 10);
    const last = lines.map(dayOf).sort().pop()!;
    const logs = join(dir, 'logs-withdraw');
    await mkdir(logs);
    const before = join(logs, 'before.csv');
    await writeFile(before, [header, ...lines.filter((l) => dayOf(l) < last)].join('\n') + '\n');
    await writeFile(join(logs, 'last-day.csv'), [header, ...lines.filter((l) => dayOf(l) === last)].join('\n') + '\n');

    const withdrawn = await inWorld('data-withdraw', async (go, a) => {
      const first = await go('both', logs);
      const lastAlerts = (await (await a.resultsStore()).listAlerts()).filter((x) => x.window_end.startsWith(last));
      expect(lastAlerts.length).toBeGreaterThan(0);
      const out = await go('withdraw', undefined, ['raw/logs-withdraw/last-day.csv']);
      expect(out.ingest!.withdrawn).toEqual([
        expect.objectContaining({ source: 'raw/logs-withdraw/last-day.csv', status: 'withdrawn', ingestedBy: 'both' }),
      ]);
      expect(out.ingest!.withdrawn[0].rows).toBe(first.ingest!.sources[1].accepted);
      // before.csv had retries near the withdrawn day: it is classified again (its rows may have been dropped as
      // retries of the withdrawn ones), so its days are rebuilt too.
      expect(out.ingest!.sources.map((x) => [x.source, x.status])).toEqual([['raw/logs-withdraw/before.csv', 'ingested']]);
      expect(out.features!.rows).toBe(first.features!.rows - (out.ingest!.withdrawn[0].rows ?? Number.NaN));
      // The day's alerts are retired; no stored alert holds a withdrawn transaction.
      expect(out.sink!.retired).toBeGreaterThan(0);
      const kept = await (await a.resultsStore()).listAlerts();
      expect(kept.filter((x) => x.window_end.startsWith(last))).toEqual([]);
      // Given the directory again (the file is still there), nothing changes.
      const again = await go('again', logs);
      expect(again.ingest!.sources.map((x) => x.status)).toEqual(['unchanged', 'withdrawn']);
      expect(again.features!.mode).toBe('unchanged');
      return { alerts: await ruleAlerts(a), features: await featureRows(a), detected: await detected(a, 'withdraw') };
    });
    const scratch = await inWorld('data-withdraw-scratch', async (go, a) => {
      await go('before', before);
      return { alerts: await ruleAlerts(a), features: await featureRows(a), detected: await detected(a, 'before') };
    });
    expect(withdrawn.features).toEqual(scratch.features);
    expect(withdrawn.detected.length).toBeGreaterThan(0);
    expect(withdrawn.detected).toEqual(scratch.detected);
    expect(withdrawn.alerts).toEqual(scratch.alerts);
  });

  it('records a failed step in the audit trail and fails the execution with the cause', async () => {
    const bad = join(dir, 'bad.csv');
    await writeFile(bad, '_id,amount\n1,2\n');
    const err = await run('run-bad', bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineFailedError);
    expect((err as PipelineFailedError).failedState).toBe('Ingest');
    expect((err as Error).message).toMatch(/InputFormatError.*missing column/);
    const failure = JSON.parse(await readFile(join(dir, 'data', 'runs', 'run-bad', 'failure.json'), 'utf8'));
    expect(failure.error).toBe('InputFormatError');
    const manifest = JSON.parse(await adapters.objectStore.getText('runs/run-bad/manifest.json'));
    expect(manifest.status).toBe('FAILED');
    // The failed run gave the data set back.
    expect(await adapters.objectStore.exists(RUN_LOCK_KEY)).toBe(false);
  });

  it('refuses to start while another run holds the data set, changing nothing, and says which run holds it', async () => {
    expect(await adapters.objectStore.exists(RUN_LOCK_KEY)).toBe(false);
    await adapters.objectStore.putText(RUN_LOCK_KEY, JSON.stringify({ runId: 'someone-else', since: new Date().toISOString() }));
    const curated = await adapters.objectStore.list('curated/');
    await (await adapters.resultsStore()).ensureSchema();
    const alerts = await (await adapters.resultsStore()).listAlerts();
    // The execution ends without an error (no alarm for a schedule meeting a long run), straight after Ingest...
    const out = await run('run-refused', transactionsCsv, undefined, true);
    expect(out.error).toBeUndefined();
    expect(out.ingest?.skipped).toMatch(/^Run someone-else has been working on this data since/);
    expect(out.ingest?.totals.read).toBe(0);
    expect(out.features).toBeUndefined();
    // ...and its audit trail says why it did nothing.
    const manifest = JSON.parse(await adapters.objectStore.getText('runs/run-refused/manifest.json'));
    expect(manifest).toMatchObject({ status: 'SKIPPED', failure: { step: 'ingest', error: 'RunInProgressError' } });
    expect(await adapters.objectStore.list('curated/')).toEqual(curated);
    expect(await (await adapters.resultsStore()).listAlerts()).toEqual(alerts);
    // The holder keeps it.
    expect(JSON.parse(await adapters.objectStore.getText(RUN_LOCK_KEY)).runId).toBe('someone-else');
    await adapters.objectStore.delete([RUN_LOCK_KEY]);
  });
});
