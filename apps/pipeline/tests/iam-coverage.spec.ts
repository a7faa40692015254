import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import type { ObjectStore, SqlEngine, TableDef } from '@splitwatch/core';
import { openLocalAdapters, TASK_HANDLERS, type Adapters, type PipelineState } from '@splitwatch/handlers';
import { synthesize, SYNTH_PRESETS } from '@splitwatch/synth';
import { acquireRunLock, RUN_LOCK_KEY } from '@splitwatch/use-cases';
import { grants, listedPrefixes, roleStatements, slsPackage, type IamStatement } from './helpers/sls-package';

/*
 * Least privilege that still works: every S3 object, every listed prefix and every Glue table the pipeline's
 * functions touch in a local run (the same use-cases and handlers the Lambdas run, over recording adapters) must be
 * granted to the role of the service that deploys that function. A grant missing here is an AccessDenied in AWS that
 * no local test would otherwise show (extra columns under extras/, a state file that cannot be listed).
 *
 * What the SQL engine does on the role's behalf in AWS: a registered table's location is listed and read (Athena
 * reads with the caller's credentials), an UNLOAD writes under its destination and the adapter lists what it wrote,
 * a registered table is a Glue table (CSV: `<name>_raw` and a view `<name>`), except the tables apps/platform
 * declares (ATHENA_MANAGED_TABLES).
 */

const PACKAGE_TIMEOUT_MS = 180_000;
const RUN_TIMEOUT_MS = 240_000;
/** As every service's ATHENA_MANAGED_TABLES (checked below against the packaged functions). */
const MANAGED_TABLES = new Set(['transactions', 'features', 'feature_changes']);
const GLUE_TABLES = 'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/splitwatch_dev/';

/** The service that deploys the function behind each Task of the state machine, and that function's role. */
const ROLE_OF: Record<keyof typeof TASK_HANDLERS, string> = {
  Ingest: 'ingest/IamRoleLambdaExecution',
  BuildFeatures: 'feature-builder/IamRoleLambdaExecution',
  FitModels: 'detectors/IamRoleLambdaExecution',
  DetectPartition: 'detectors/IamRoleLambdaExecution',
  Sink: 'sink/IamRoleLambdaExecution',
  Report: 'reporting/IamRoleLambdaExecution',
  RecordFailure: 'sink/RecordFailureRole',
};
const ROLES = [...new Set(Object.values(ROLE_OF))];
const SERVICES = [...new Set(ROLES.map((r) => r.split('/')[0]))];

interface Access {
  action: string;
  /** An object key, a listed prefix, or a Glue table name. */
  target: string;
  task: string;
}

function recordingStore(inner: ObjectStore, log: (action: string, target: string) => void): ObjectStore {
  const get = (key: string) => log('s3:GetObject', key);
  const put = (key: string) => log('s3:PutObject', key);
  return {
    location: inner.location,
    getText: (k) => (get(k), inner.getText(k)),
    getBytes: (k) => (get(k), inner.getBytes(k)),
    getStream: (k) => (get(k), inner.getStream(k)),
    putText: (k, b, t) => (put(k), inner.putText(k, b, t)),
    putTextIfAbsent: (k, b, t) => (put(k), inner.putTextIfAbsent(k, b, t)),
    putBytes: (k, b, t) => (put(k), inner.putBytes(k, b, t)),
    putFile: (k, p, t) => (put(k), inner.putFile(k, p, t)),
    exists: (k) => (get(k), inner.exists(k)), // a HEAD needs s3:GetObject
    list: (p) => (log('s3:ListBucket', p), inner.list(p)),
    copy: (from, to) => (get(from), put(to), inner.copy(from, to)),
    delete: (keys) => {
      for (const k of keys) log('s3:DeleteObject', k);
      return inner.delete(keys);
    },
  };
}

function recordingEngine(inner: SqlEngine, log: (action: string, target: string) => void): SqlEngine {
  const tables = (def: Pick<TableDef, 'name' | 'format'>) =>
    MANAGED_TABLES.has(def.name) ? [] : def.format === 'csv' ? [`${def.name}_raw`, def.name] : [def.name];
  const formats = new Map<string, TableDef['format']>();
  return {
    name: inner.name,
    registerTable: (def) => {
      log('s3:ListBucket', def.prefix);
      log('s3:GetObject', `${def.prefix}part-0`);
      for (const t of tables(def)) log('glue:CreateTable', t);
      formats.set(def.name, def.format);
      return inner.registerTable(def);
    },
    query: (sql) => inner.query(sql),
    stream: (sql, n) => inner.stream(sql, n),
    unload: (sql, prefix, o) => {
      log('s3:PutObject', `${prefix}part-0`);
      log('s3:ListBucket', prefix);
      return inner.unload(sql, prefix, o);
    },
    dropTable: (name) => {
      for (const t of tables({ name, format: formats.get(name) ?? 'parquet' })) log('glue:DeleteTable', t);
      return inner.dropTable(name);
    },
  };
}

/** IAM's `*` matches any characters, `/` included. */
const globMatch = (pattern: string, value: string) =>
  new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(value);

function deniedAccesses(role: IamStatement[], accesses: Access[]): string[] {
  const objects = grants(role, /^s3:(Get|Put|Delete)Object$/);
  const glue = grants(role, /^glue:(CreateTable|DeleteTable)$/);
  const listPrefixes = listedPrefixes(role);
  const denied = new Set<string>();
  for (const a of accesses) {
    const ok =
      a.action === 's3:ListBucket'
        ? listPrefixes.some((p) => globMatch(p, a.target))
        : a.action.startsWith('glue:')
          ? (glue[a.action] ?? []).some((p) => p.startsWith(GLUE_TABLES) && globMatch(p.slice(GLUE_TABLES.length), a.target))
          : (objects[a.action] ?? []).some((p) => globMatch(p, a.target));
    if (!ok) denied.add(`${a.task}: ${a.action} ${a.target}`);
  }
  return [...denied].sort();
}

const context = { getRemainingTimeInMillis: () => 900_000 } as unknown as Context;

describe('every function of a local run is granted what it touches by its service role (stage dev)', () => {
  const roles: Record<string, IamStatement[]> = {};
  const managedInPackages = new Set<string>();
  const accesses: Access[] = [];
  let dir: string;

  beforeAll(async () => {
    for (const service of SERVICES) {
      const packaged = await slsPackage(service, { stage: 'dev' });
      for (const role of ROLES.filter((r) => r.startsWith(`${service}/`))) {
        roles[role] = roleStatements(packaged.template, role.split('/')[1]);
      }
      for (const r of Object.values(packaged.template.Resources)) {
        if (r.Type !== 'AWS::Lambda::Function') continue;
        const env = (r.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables ?? {};
        managedInPackages.add(String(env.ATHENA_MANAGED_TABLES));
      }
      await packaged.dispose();
    }
  }, PACKAGE_TIMEOUT_MS);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'splitwatch-iam-'));
    const dataDir = join(dir, 'data');
    const local = await openLocalAdapters({ dataDir, results: { kind: 'pglite' } });
    try {
      // A CSV log with an extra column, a Parquet log with one, and (second run) a new day's file.
      // Two weeks: the second run's Detect and Sink are incremental (a change in the log's first week is not).
      const synth = await synthesize({ ...SYNTH_PRESETS.tiny, users: 1500, days: 14, txPerUserDay: 0.2, seed: 3 }, join(dir, 'input'));
      const [header, ...lines] = (await readFile(synth.files.transactions, 'utf8')).trimEnd().split('\n');
      const at = header.split(',').indexOf('transaction_date');
      const dayOf = (line: string) => line.split(',')[at].slice(0, 10);
      const last = lines.map(dayOf).sort().pop()!;
      const before = lines.filter((l) => dayOf(l) < last);
      await writeFile(join(dir, 'a.csv'), [`${header},channel`, ...before.map((l) => `${l},app`)].join('\n') + '\n');
      await writeFile(join(dir, 'b.csv'), [header, ...lines.filter((l) => dayOf(l) === last)].join('\n') + '\n');
      const engine = await local.sqlEngine();
      const [parquet] = await engine.unload(
        `SELECT 'pq-1' AS _id, 'm1' AS merchant_id, 's1' AS subsidiary, TIMESTAMP '2021-06-01 10:00:00' AS transaction_date,
                'acc-pq' AS account_number, 'u-pq' AS user_id, CAST(12.5 AS DECIMAL(24,8)) AS transaction_amount,
                'DEBITO' AS transaction_type, 'web' AS channel`,
        'scratch/parquet/',
      );
      await copyFile(join(dataDir, parquet), join(dir, 'c.parquet'));
      await local.objectStore.delete([parquet]);

      let task = '';
      const log = (action: string, target: string) => accesses.push({ action, target, task });
      const recorded: Adapters = {
        ...local,
        objectStore: recordingStore(local.objectStore, log),
        sqlEngine: async () => recordingEngine(await local.sqlEngine(), log),
      };
      const handler = (name: keyof typeof TASK_HANDLERS) => {
        const h = TASK_HANDLERS[name]({ adapters: async () => recorded, logger: () => undefined }) as unknown as (
          e: PipelineState,
          c: Context,
        ) => Promise<unknown>;
        return async (state: PipelineState) => {
          task = name;
          return h(state, context);
        };
      };
      const run = async (runId: string, files: string[], withdraw?: string[]) => {
        for (const f of files) await local.objectStore.putFile(`raw/${f}`, join(dir, f));
        const state: PipelineState = { runId, sources: ['raw/'], ...(withdraw ? { withdraw } : {}) };
        state.ingest = (await handler('Ingest')(state)) as PipelineState['ingest'];
        state.features = (await handler('BuildFeatures')(state)) as PipelineState['features'];
        state.models = (await handler('FitModels')(state)) as PipelineState['models'];
        const detect = [];
        for (let partition = 0; partition < 8; partition++) {
          detect.push(await handler('DetectPartition')({ runId, partition, partitions: 8 }));
        }
        state.detect = detect as PipelineState['detect'];
        state.sink = (await handler('Sink')(state)) as PipelineState['sink'];
        state.report = (await handler('Report')(state)) as PipelineState['report'];
        return state;
      };
      const first = await run('iam-1', ['a.csv', 'c.parquet']);
      expect(first.ingest?.totals).toMatchObject({ files: 2, rejected: 0 });
      const second = await run('iam-2', ['b.csv']);
      expect(second.ingest?.totals).toMatchObject({ files: 1, unchanged: 2 });
      expect(second.features?.mode).toBe('incremental');
      expect([second.detect ?? []].flat().map((d) => d.mode)).toEqual(Array(8).fill('incremental'));
      expect(second.sink?.carried).toBeGreaterThan(0);
      // A run that ended without giving the lock back (a stale lock): the next one takes it over.
      await local.objectStore.putText(RUN_LOCK_KEY, JSON.stringify({ runId: 'iam-2', since: new Date().toISOString() }));
      // A file withdrawn (the scheduled input given too): its curated rows, conflicts list and state change.
      const third = await run('iam-3', [], ['raw/b.csv']);
      expect(third.ingest?.withdrawn).toMatchObject([{ source: 'raw/b.csv', status: 'withdrawn' }]);
      // A run refused the data set (another holds it) records why and does nothing else.
      await acquireRunLock(local.objectStore, 'iam-holder');
      const refused = (await handler('Ingest')({ runId: 'iam-refused', sources: ['raw/'] })) as PipelineState['ingest'];
      expect(refused?.skipped).toMatch(/^Run iam-holder has been working on this data/);
      await local.objectStore.delete([RUN_LOCK_KEY]);
      // A failed run gives its lock back.
      await acquireRunLock(local.objectStore, 'iam-4');
      await handler('RecordFailure')({ runId: 'iam-4', error: { Error: 'TestError', Cause: 'a step failed' } });
    } finally {
      await local.close();
    }
  }, RUN_TIMEOUT_MS);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('treats as declared by apps/platform exactly the tables the packaged functions are told are', () => {
    expect([...managedInPackages]).toEqual([[...MANAGED_TABLES].join(',')]);
  });

  it('records what each Task touched (the check below is not vacuous)', () => {
    const tasks = new Set(accesses.map((a) => a.task));
    expect([...tasks].sort()).toEqual(Object.keys(ROLE_OF).sort());
    const touched = (action: string, prefix: string) =>
      accesses.some((a) => a.action === action && a.target.startsWith(prefix));
    expect(touched('s3:PutObject', 'extras/')).toBe(true);
    expect(touched('s3:PutObject', 'curated/sources/')).toBe(true);
    expect(touched('s3:DeleteObject', 'curated/sources/conflicts/')).toBe(true);
    expect(touched('s3:ListBucket', 'features/state.json')).toBe(true);
    expect(touched('glue:CreateTable', 'features_users_')).toBe(true);
    // The dashboard reads its top alerts' members from the lake.
    expect(accesses.some((a) => a.task === 'Report' && a.action === 's3:GetObject' && a.target.startsWith('curated/transactions/'))).toBe(true);
  });

  it.each(ROLES)('%s: nothing its functions touched is outside the role', (role) => {
    const mine = accesses.filter((a) => ROLE_OF[a.task as keyof typeof ROLE_OF] === role);
    expect(mine.length).toBeGreaterThan(0);
    expect(deniedAccesses(roles[role], mine)).toEqual([]);
  });
});
