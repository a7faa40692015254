import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ALERTS_TABLE, ResultsStoreError, type Alert } from '@splitwatch/core';
import { PgClient, PgliteClient, PostgresResultsStore, type SqlClient } from '../src';
import { makeAlert } from './helpers/alerts';
import { isPostgresReachable, TEST_POSTGRES_URL } from './helpers/postgres-probe';
import { makeTempDir, removeTempDir } from './helpers/temp-dir';

interface Target {
  name: 'pglite' | 'postgresql';
  open(): Promise<SqlClient>;
}

const targets: Target[] = [{ name: 'pglite', open: () => PgliteClient.open() }];
if (isPostgresReachable(TEST_POSTGRES_URL)) {
  targets.push({ name: 'postgresql', open: () => PgClient.connect(TEST_POSTGRES_URL) });
} else {
  console.info(
    `PostgreSQL at ${TEST_POSTGRES_URL} is not reachable: the results-store suite runs on PGlite only`,
  );
}

describe.each(targets)('PostgresResultsStore on $name', (target) => {
  let client: SqlClient;
  let store: PostgresResultsStore;

  beforeAll(async () => {
    client = await target.open();
    store = new PostgresResultsStore(client, target.name);
  });

  afterAll(async () => {
    await store?.close();
  });

  beforeEach(async () => {
    await client.query(`DROP TABLE IF EXISTS ${ALERTS_TABLE}`);
    await store.ensureSchema();
  });

  it('creates the schema idempotently', async () => {
    await store.ensureSchema();

    expect(store.name).toBe(target.name);
    expect(await store.listAlerts()).toEqual([]);
  });

  it('round-trips every field of an alert exactly', async () => {
    const alert = makeAlert({
      total_amount: '1234.56789012',
      transaction_ids: ['f'.repeat(32), 'e'.repeat(32), 'd'.repeat(32)],
      score: 0.123456789012345,
    });

    expect(await store.upsertAlerts([alert])).toBe(1);
    expect(await store.listAlerts()).toEqual([alert]);
  });

  it('does not duplicate alerts when the same input is upserted twice', async () => {
    const alerts = [makeAlert({ alert_id: 'a1' }), makeAlert({ alert_id: 'a2', score: 0.9 })];

    await store.upsertAlerts(alerts);
    await store.upsertAlerts(alerts);

    expect((await store.listAlerts()).map((a) => a.alert_id)).toEqual(['a2', 'a1']);
  });

  it('lists the alerts of given ids (an id with a quote included), of one run or not', async () => {
    await store.upsertAlerts([
      makeAlert({ alert_id: 'a1', run_id: 'run-1' }),
      makeAlert({ alert_id: "a'2", run_id: 'run-2', score: 0.9 }),
      makeAlert({ alert_id: 'a3', run_id: 'run-1', score: 0.8 }),
    ]);
    expect((await store.listAlerts({ alertIds: ['a1', "a'2", 'missing'] })).map((a) => a.alert_id)).toEqual(["a'2", 'a1']);
    expect((await store.listAlerts({ alertIds: ['a1', "a'2"], runId: 'run-1' })).map((a) => a.alert_id)).toEqual(['a1']);
    expect(await store.listAlerts({ alertIds: [] })).toEqual([]);
  });

  it('retires the alerts a later run did not write, and only those', async () => {
    await store.upsertAlerts([
      makeAlert({ alert_id: 'a1', run_id: 'run-1' }),
      makeAlert({ alert_id: 'a2', run_id: 'run-1', score: 0.9 }),
      makeAlert({ alert_id: 'a3', run_id: 'run-1', score: 0.8 }),
    ]);
    // run-2 carries a1 over (restamped) and finds a4 where a2 was; a3 is gone.
    await store.upsertAlerts([
      makeAlert({ alert_id: 'a1', run_id: 'run-2', score: 0.95 }),
      makeAlert({ alert_id: 'a4', run_id: 'run-2', score: 0.7 }),
    ]);

    expect(await store.retireAlerts('run-2')).toBe(2);

    expect((await store.listAlerts()).map((a) => [a.alert_id, a.run_id])).toEqual([
      ['a1', 'run-2'],
      ['a4', 'run-2'],
    ]);
    expect(await store.retireAlerts('run-2')).toBe(0);
  });

  it('deletes alerts by id, moves one run’s alerts but one method’s to another run, and counts them', async () => {
    await store.upsertAlerts([
      makeAlert({ alert_id: 'a1', run_id: 'run-1', score: 0.9 }),
      makeAlert({ alert_id: 'a2', run_id: 'run-1', score: 0.8 }),
      makeAlert({ alert_id: 'a3', run_id: 'run-1', score: 0.7 }),
      makeAlert({ alert_id: 'e1', run_id: 'run-1', method: 'ensemble', score: 0.6 }),
    ]);
    expect(await store.alertCounts('run-1')).toEqual({ total: 4, ofRun: 4 });

    expect(await store.deleteAlerts(['a2', 'a2', "it's-not-there"])).toBe(2);
    expect(await store.restampAlerts('run-1', 'run-2', 'ensemble')).toBe(2);

    expect((await store.listAlerts()).map((a) => [a.alert_id, a.run_id])).toEqual([
      ['a1', 'run-2'],
      ['a3', 'run-2'],
      ['e1', 'run-1'],
    ]);
    expect(await store.alertCounts('run-2')).toEqual({ total: 3, ofRun: 2 });
    expect(await store.deleteAlerts([])).toBe(0);
  });

  it('summarises the alerts for the dashboard in SQL: the counts and top alerts a listing of every alert gives', async () => {
    // Deterministic variety: 7 methods, 3 merchants and none, 40 users, every hour, scores with ties.
    const alerts: Alert[] = Array.from({ length: 600 }, (_, i) =>
      makeAlert({
        alert_id: `a${String(i).padStart(4, '0')}`,
        method: [
          'rule:split',
          'rule:sum',
          'rule:count',
          'model:lof',
          'model:gmm',
          'rule:zscore',
          'model:dbscan',
        ][(i * 3) % 7],
        user_id: `user-${(i * i) % 40}`,
        merchant_id: i % 11 === 0 ? null : `merchant-${(i * 5) % 3}`,
        direction: i % 5 === 0 ? 'CREDITO' : 'DEBITO',
        window_end: `2021-03-${String(1 + (i % 28)).padStart(2, '0')} ${String((i * 13) % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00`,
        score: Math.round((i * 37) % 101) / 10,
      }),
    );
    await store.upsertAlerts(alerts);
    const listed = await store.listAlerts();
    const counts = (key: (a: Alert) => string) => {
      const m = new Map<string, number>();
      for (const a of listed) m.set(key(a), (m.get(key(a)) ?? 0) + 1);
      return [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    };

    const summary = await store.summarizeAlerts({ limit: 100, topN: 10, preferMethod: 'ensemble' });

    expect(summary.total).toBe(600);
    expect(summary.byMethod).toEqual(counts((a) => a.method));
    expect(summary.byDirection).toEqual(counts((a) => a.direction));
    expect(summary.byMerchant).toEqual(counts((a) => a.merchant_id ?? '(none)'));
    expect(summary.byMerchant.map(([m]) => m)).toContain('(none)');
    expect(summary.byUser).toEqual(counts((a) => a.user_id));
    expect(summary.byHour).toEqual(
      counts((a) => a.window_end.slice(11, 13)).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    );
    expect(summary.byHour).toHaveLength(24);
    // No ensemble in the store: the best alerts of every method, as the listing orders them.
    expect(summary.top).toEqual(listed.slice(0, 10));
    // The latest day's: those whose window ends on the last day any does (2021-03-28), best first.
    expect(summary.latest).toEqual(listed.filter((a) => a.window_end.startsWith('2021-03-28')).slice(0, 10));
    expect(summary.latest.length).toBeGreaterThan(0);

    // The largest merchants and users only, cut at `limit`; with an ensemble, its alerts only.
    await store.upsertAlerts([
      makeAlert({ alert_id: 'e1', method: 'ensemble', score: 0.2 }),
      makeAlert({ alert_id: 'e2', method: 'ensemble', score: 0.3 }),
    ]);
    const cut = await store.summarizeAlerts({ limit: 2, topN: 10, preferMethod: 'ensemble' });
    const users = counts((a) => a.user_id);
    expect(cut.byUser).toHaveLength(2);
    expect(cut.byUser.map(([, n]) => n)).toEqual(users.slice(0, 2).map(([, n]) => n));
    expect(cut.byMerchant).toHaveLength(2);
    expect(cut.byMethod).toHaveLength(8);
    expect(cut.total).toBe(602);
    expect(cut.top.map((a) => a.alert_id)).toEqual(['e2', 'e1']);
    // The ensemble's alerts of its latest day: e1 and e2 end on 2021-03-05 (the other methods' run to 2021-03-28)...
    expect(cut.latest.map((a) => a.alert_id)).toEqual(['e2', 'e1']);
    // ...until one ends a day later, after midnight: then it alone, though it scores lowest.
    await store.upsertAlerts([makeAlert({ alert_id: 'e3', method: 'ensemble', score: 0.1, window_start: '2021-03-05 23:00:00', window_end: '2021-03-06 00:30:00' })]);
    const later = await store.summarizeAlerts({ limit: 2, topN: 10, preferMethod: 'ensemble' });
    expect(later.latest.map((a) => a.alert_id)).toEqual(['e3']);
    expect(later.top.map((a) => a.alert_id)).toEqual(['e2', 'e1', 'e3']);
  });

  it('hands every alert over in the listing’s order a page at a time, and stops on a failing page', async () => {
    await store.upsertAlerts(
      Array.from({ length: 9 }, (_, i) =>
        makeAlert({ alert_id: `p${i}`, run_id: i < 4 ? 'run-1' : 'run-2', score: i % 3 }),
      ),
    );
    const pages: string[][] = [];

    const count = await store.forEachAlertPage({}, 4, async (page) => {
      pages.push(page.map((a) => a.alert_id));
    });

    expect(count).toBe(9);
    expect(pages.map((p) => p.length)).toEqual([4, 4, 1]);
    expect(pages.flat()).toEqual((await store.listAlerts()).map((a) => a.alert_id));
    const ofRun1: string[] = [];
    expect(
      await store.forEachAlertPage(
        { runId: 'run-1' },
        100,
        async (page) => void ofRun1.push(...page.map((a) => a.alert_id)),
      ),
    ).toBe(4);
    expect(ofRun1).toEqual((await store.listAlerts({ runId: 'run-1' })).map((a) => a.alert_id));
    await expect(
      store.forEachAlertPage({}, 4, async () => {
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    // The cursor went with its transaction: the store answers as before.
    expect(await store.forEachAlertPage({}, 10, async () => undefined)).toBe(9);
  });

  it('summarises an empty store', async () => {
    expect(await store.summarizeAlerts({ limit: 15, topN: 50, preferMethod: 'ensemble' })).toEqual({
      total: 0,
      byMethod: [],
      byDirection: [],
      byHour: [],
      byMerchant: [],
      byUser: [],
      top: [],
      latest: [],
    });
  });

  it('replaces an alert that comes back with new values', async () => {
    await store.upsertAlerts([makeAlert({ alert_id: 'a1', run_id: 'run-1', score: 0.5, n_tx: 3 })]);
    const updated = makeAlert({
      alert_id: 'a1',
      run_id: 'run-2',
      score: 0.8,
      n_tx: 4,
      reasons: 'now 4 parts',
    });

    await store.upsertAlerts([updated]);

    expect(await store.listAlerts()).toEqual([updated]);
  });

  it('keeps the last occurrence when one batch repeats an alert_id', async () => {
    const last = makeAlert({ alert_id: 'a1', score: 0.7 });

    expect(await store.upsertAlerts([makeAlert({ alert_id: 'a1', score: 0.1 }), last])).toBe(1);
    expect(await store.listAlerts()).toEqual([last]);
  });

  it('lists by score descending, then alert_id, with a limit', async () => {
    await store.upsertAlerts([
      makeAlert({ alert_id: 'c', score: 0.3 }),
      makeAlert({ alert_id: 'b', score: 0.9 }),
      makeAlert({ alert_id: 'd', score: 0.5 }),
      makeAlert({ alert_id: 'a', score: 0.9 }),
    ]);

    expect((await store.listAlerts()).map((a) => a.alert_id)).toEqual(['a', 'b', 'd', 'c']);
    expect((await store.listAlerts({ limit: 2 })).map((a) => a.alert_id)).toEqual(['a', 'b']);
  });

  it('filters by run id', async () => {
    await store.upsertAlerts([
      makeAlert({ alert_id: 'x1', run_id: 'run-1' }),
      makeAlert({ alert_id: 'x2', run_id: 'run-2' }),
      makeAlert({ alert_id: 'x3', run_id: 'run-1', score: 0.99 }),
    ]);

    expect((await store.listAlerts({ runId: 'run-1' })).map((a) => a.alert_id)).toEqual(['x3', 'x1']);
    expect(await store.listAlerts({ runId: "run-'none" })).toEqual([]);
  });

  it('keeps decimal amounts exact as text', async () => {
    const amounts = ['1234.56789012', '0.00000001', '9999999999999999.99999999', '5.94445501'];
    await store.upsertAlerts(
      amounts.map((total_amount, i) => makeAlert({ alert_id: `d${i}`, total_amount })),
    );

    const listed = await store.listAlerts();

    expect(listed.map((a) => a.total_amount).sort()).toEqual([...amounts].sort());
  });

  it('round-trips quotes and other awkward text in reasons and ids', async () => {
    const alert = makeAlert({
      reasons: `it's "split"; O'Brien's cap = 500 \\ 100% -- ; DROP TABLE x; ñandú ✓`,
      user_id: "u'1",
      account_number: null,
      merchant_id: null,
      transaction_ids: ["t'1", 't"2'],
    });

    await store.upsertAlerts([alert]);

    expect(await store.listAlerts()).toEqual([alert]);
  });

  it('round-trips an empty member list and many member ids', async () => {
    const many = Array.from({ length: 400 }, (_, i) => i.toString(16).padStart(32, '0'));
    await store.upsertAlerts([
      makeAlert({ alert_id: 'none', transaction_ids: [] }),
      makeAlert({ alert_id: 'many', transaction_ids: many }),
    ]);

    const byId = new Map((await store.listAlerts()).map((a) => [a.alert_id, a]));

    expect(byId.get('none')?.transaction_ids).toEqual([]);
    expect(byId.get('many')?.transaction_ids).toEqual(many);
  });

  it('round-trips text an array parameter must escape: braces, commas, backslashes, "NULL", blanks, line breaks', async () => {
    const awkward = [
      '{a,b}',
      'x, y',
      'back\\slash \\"q\\"',
      'NULL',
      '',
      '  padded  ',
      'line\nbreak\ttab\r',
      '"',
      "'",
    ];
    const alerts = awkward.map((text, i) =>
      makeAlert({
        alert_id: `w${i}`,
        reasons: text,
        user_id: text || 'u',
        transaction_ids: [text, `${text}2`],
      }),
    );

    await store.upsertAlerts(alerts);

    const byId = new Map((await store.listAlerts()).map((a) => [a.alert_id, a]));
    for (const alert of alerts) expect(byId.get(alert.alert_id)).toEqual(alert);
    // The text 'NULL' is a value, not a missing one; null ids stay NULL.
    expect(byId.get('w3')?.reasons).toBe('NULL');
  });

  it('refuses a non-finite score before writing anything', async () => {
    const error = await store
      .upsertAlerts([makeAlert({ alert_id: 'ok' }), makeAlert({ alert_id: 'nan', score: Number.NaN })])
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/non-finite number NaN .*score of alert nan/);
    expect(await store.listAlerts()).toEqual([]);
  });

  it('writes batches of several statement pairs in one transaction, replacing across batches, all or nothing', async () => {
    const small = new PostgresResultsStore(client, target.name, 4);
    const alerts = Array.from({ length: 10 }, (_, i) =>
      makeAlert({ alert_id: `b${i}`, score: i / 10, reasons: 'first' }),
    );
    expect(await small.upsertAlerts(alerts)).toBe(10);
    expect(await small.upsertAlerts(alerts.map((a) => ({ ...a, reasons: 'second' })))).toBe(10);
    expect((await store.listAlerts()).map((a) => a.reasons)).toEqual(Array(10).fill('second'));

    // The bad alert is in the third batch: the first two batches' replacements are rolled back too.
    const failing = alerts.map((a, i) => ({
      ...a,
      reasons: 'third',
      window_start: i === 9 ? 'not a timestamp' : a.window_start,
    }));
    const error = await small.upsertAlerts(failing).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ResultsStoreError);
    expect((error as Error).message).toMatch(/not a timestamp/);
    expect((await store.listAlerts()).map((a) => a.reasons)).toEqual(Array(10).fill('second'));
  });

  it('writes large batches spread over several statements in one go', async () => {
    const alerts = Array.from({ length: 1500 }, (_, i) =>
      makeAlert({ alert_id: `bulk-${String(i).padStart(5, '0')}`, score: i / 1500 }),
    );

    expect(await store.upsertAlerts(alerts)).toBe(1500);
    expect(await store.upsertAlerts(alerts)).toBe(1500);
    expect(await store.listAlerts()).toHaveLength(1500);
  });

  it('writes nothing for an empty list', async () => {
    expect(await store.upsertAlerts([])).toBe(0);
  });

  it('rolls the whole upsert back when a statement fails', async () => {
    await store.upsertAlerts([makeAlert({ alert_id: 'keep', reasons: 'original' })]);

    const error = await store
      .upsertAlerts([
        makeAlert({ alert_id: 'keep', reasons: 'changed' }),
        makeAlert({ alert_id: 'bad', window_start: 'not a timestamp' }),
      ])
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ResultsStoreError);
    expect((error as Error).message).toMatch(/not a timestamp/);
    expect((await store.listAlerts()).map((a) => [a.alert_id, a.reasons])).toEqual([['keep', 'original']]);
  });

  it('reports database errors as ResultsStoreError with the database message', async () => {
    await client.query(`DROP TABLE ${ALERTS_TABLE}`);

    const error = (await store.listAlerts().catch((e: unknown) => e)) as Error;

    expect(error).toBeInstanceOf(ResultsStoreError);
    expect(error.name).toBe('ResultsStoreError');
    expect(error.message).toContain(`${target.name}: relation "${ALERTS_TABLE}" does not exist`);
    expect(error.message).toContain('[SQL: SELECT alert_id');
  });
});

describe('PostgresResultsStore factories', () => {
  it('keeps alerts in a PGlite data folder across restarts', async () => {
    const dir = makeTempDir('pglite');
    const alert = makeAlert({ alert_id: 'persisted' });
    try {
      const first = await PostgresResultsStore.openPglite(dir);
      await first.ensureSchema();
      await first.upsertAlerts([alert]);
      await first.close();

      const second = await PostgresResultsStore.openPglite(dir);
      const listed = await second.listAlerts();
      await second.close();

      expect(second.name).toBe('pglite');
      expect(listed).toEqual([alert]);
    } finally {
      removeTempDir(dir);
    }
  });

  it('seeds new PGlite data folders from one template, each a store of its own', async () => {
    const root = makeTempDir('pglite-template');
    const [a, bRoot] = [makeTempDir('pglite-a'), makeTempDir('pglite-b')];
    const b = join(bRoot, 'nested', 'store');
    try {
      const first = new PostgresResultsStore(await PgliteClient.open(a, { templateRoot: root }), 'pglite');
      await first.ensureSchema();
      await first.upsertAlerts([makeAlert({ alert_id: 'only-in-a' })]);
      await first.close();
      const templates = readdirSync(root);
      // A mark in the template shows that the next new folder is a copy of it (not made by initdb).
      writeFileSync(join(root, templates[0], 'splitwatch-test-mark'), 'copied');
      const second = new PostgresResultsStore(await PgliteClient.open(b, { templateRoot: root }), 'pglite');
      await second.ensureSchema();

      // One complete template (no half-made folder left), copied rather than shared: b starts empty.
      expect(templates).toEqual([expect.stringMatching(/^splitwatch-pglite-template-\d+\.\d+\.\d+$/)]);
      expect(readdirSync(root)).toEqual(templates);
      expect(existsSync(join(root, templates[0], 'PG_VERSION'))).toBe(true);
      expect(existsSync(join(b, 'splitwatch-test-mark'))).toBe(true);
      expect(existsSync(join(a, 'splitwatch-test-mark'))).toBe(false);
      expect(await second.listAlerts()).toEqual([]);
      await second.upsertAlerts([makeAlert({ alert_id: 'only-in-b' })]);
      await second.close();
      const again = await PostgresResultsStore.openPglite(a);
      expect((await again.listAlerts()).map((x) => x.alert_id)).toEqual(['only-in-a']);
      await again.close();
    } finally {
      for (const dir of [root, a, bRoot]) removeTempDir(dir);
    }
  });

  it('creates the data folder the usual way when no template can be made', async () => {
    const dir = makeTempDir('pglite-no-template');
    const blocked = join(makeTempDir('pglite-blocked'), 'a-file');
    writeFileSync(blocked, 'not a folder');
    try {
      const store = new PostgresResultsStore(
        await PgliteClient.open(dir, { templateRoot: blocked }),
        'pglite',
      );
      await store.ensureSchema();
      await store.upsertAlerts([makeAlert({ alert_id: 'still-works' })]);

      expect((await store.listAlerts()).map((x) => x.alert_id)).toEqual(['still-works']);
      expect(readdirSync(dirname(dir)).filter((f) => f.startsWith(`${basename(dir)}.seed-`))).toEqual([]);
      await store.close();
    } finally {
      removeTempDir(dir);
      removeTempDir(dirname(blocked));
    }
  });

  it('fails fast with ResultsStoreError when the server does not answer, without echoing the password', async () => {
    const error = (await PostgresResultsStore.connect('postgresql://me:s3cret@127.0.0.1:1/none', {
      connectionTimeoutMillis: 2000,
    }).catch((e: unknown) => e)) as Error;

    expect(error).toBeInstanceOf(ResultsStoreError);
    expect(error.message).toMatch(
      /^Cannot connect to PostgreSQL at postgresql:\/\/me:\*\*\*@127\.0\.0\.1:1\/none: /,
    );
    expect(error.message).not.toContain('s3cret');
  });
});
