/**
 * Detector benchmark: `npm run bench:detectors [-- --rows 1000000,5000000] [--models iforest,lof,dbscan,gmm-full,gmm-diag]
 * [--procs P] [--world default|small] [--chunk 250000] [--dir DIR] [--fresh] [--no-baseline]`, or
 * `npm run bench:detectors -- --end-to-end [--e2e-preset nequi] [--e2e-users N] [--e2e-seed S] [--memory-limit 8GB]
 * [--workers N]` (Detect's worker threads, as `splitwatch run --workers`; default one per core).
 *
 * What it measures: fitting and scoring the four unsupervised detectors (Isolation Forest, LOF, DBSCAN, Gaussian
 * mixture with full and with diagonal covariances) on data shaped like the product's real candidate windows, the
 * 8-feature window vectors of libs/use-cases/src/detect/window-vector.ts.
 *
 * Data. The empirical distribution comes from a labelled synthetic world (libs/synth preset `default`: 20,000 users
 * over 30 days, split episodes included, or `small`) run through the real pipeline pieces: ingest and buildFeatures
 * (embedded adapters: LocalObjectStore + DuckDB), then the candidate rows, segment typical days and window walk of
 * fitModels (forEachCandidateWindow: the candidate rows, segment typical days, window walk, 2..maxParts and
 * minSum filter, windowVector). Every candidate window is kept, unscaled, in `<dir>/windows-<world>.f64`
 * (+ `.json`) and reused by later runs unless --fresh. The N rows to score are a smoothed bootstrap of those windows, generated per chunk from a
 * seed (not timed): a uniformly drawn window plus Gaussian jitter of 0.02 × the feature's robust scale (IQR / 1.349,
 * or the standard deviation when the IQR is 0), clamped to the feature's observed range, so rows are not exact
 * copies but keep the windows' shape; `parts` is not jittered (it stays an integer 2..12).
 *
 * Fit, as the product does (fitArtifacts of libs/use-cases/src/detect/models.ts, DEFAULT_CONFIG): a seeded reservoir
 * sample of config.models.sampleSize = 20,000 windows, halved into a fit half (robust scaler + model: LOF k = 20,
 * DBSCAN minSamples = 10 with estimateEps at 90% core, GMM 4 components, seed 42) and a held-out half (the
 * score → rarity table). "fit s" is the artifact's fitSeconds (the model fit and scoring the held-out half). The
 * diagonal GMM is not a product option: it is fitted with the same scaler, rows and options but `diag` covariances.
 *
 * Score: P child processes (default: the machine's cores; production fans partitions out in a Step Functions Map)
 * each load the artifact JSON and score their share of the N rows in chunks (robust scaling + model score, as
 * ModelScorer does). Loading the artifact and the first call (KD-tree / Cholesky build) are timed apart. Reported:
 * scoring wall time for all N rows (fork to last exit: it also holds process start-up, reading the window cache and
 * generating the rows, a few seconds — "scoring alone" in the notes is the slowest process's time inside the score
 * calls), rows/s, CPU seconds summed over the scorers (score calls and artifact load; row generation excluded;
 * steadier than wall time on a shared machine), the largest peak RSS of any process (fit included), and the 1-minute
 * load average before and after (wall times stretch with it: on 2 cores at load 7 a process gets about a third of
 * a core).
 *
 * End to end (`--end-to-end`, tools/bench/end-to-end.ts): the whole local pipeline on a labelled world of the
 * `--e2e-preset` (default `nequi`, 21.5M rows; `--e2e-users N` for a fraction of it), with each step's time, the
 * models' share of Detect, the run's CPU and peak RSS, and precision / recall per detector. It replaces the
 * window-level measurement in that invocation.
 *
 * Baseline, in the same run, for LOF and DBSCAN on the first chunk of rows, in one process: the per-row query path
 * the library used before KdTree.knnAll (one cold k-NN / 1-NN KdTree.knnInto search per row, in leaf order, built
 * on the public KdTree API; it shares the current tree's leaf scan) and brute force on the chunk's first 2,000
 * rows. Both must give the library's scores (max |Δ| printed); their rows/s are printed beside the library's.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDbSqlEngine, LocalObjectStore } from '@splitwatch/adapters-local';
import { DEFAULT_CONFIG, type DetectionConfig } from '@splitwatch/core';
import {
  fitGaussianMixture,
  fromRows,
  KdTree,
  matrix,
  OUTLIER_MODELS,
  Random,
  scoreDbscan,
  scoreLof,
  transformRobust,
  type DbscanModel,
  type LofModel,
  type Matrix,
  type OutlierModelKind,
  type RobustScalerModel,
} from '@splitwatch/models';
import { SYNTH_PRESETS, synthesize } from '@splitwatch/synth';
import {
  buildFeatures,
  fitArtifacts,
  forEachCandidateWindow,
  ingest,
  registerFeatures,
  Reservoir,
} from '@splitwatch/use-cases';
import { E2E_CHILD_FLAG, endToEndChild, runEndToEnd, type EndToEndOptions } from './end-to-end';

const D = 8;
const PARTS = 1; // index of `parts` in the window vector
const JITTER = 0.02;
const BRUTE_ROWS = 2_000;
const MODELS = ['iforest', 'lof', 'dbscan', 'gmm-full', 'gmm-diag'] as const;
type BenchModel = (typeof MODELS)[number];
const KIND: Record<BenchModel, OutlierModelKind> = {
  iforest: 'isolation-forest',
  lof: 'local-outlier-factor',
  dbscan: 'dbscan',
  'gmm-full': 'gaussian-mixture',
  'gmm-diag': 'gaussian-mixture',
};
type World = 'default' | 'small';

interface Options {
  rows: number[];
  models: BenchModel[];
  procs: number;
  world: World;
  chunk: number;
  dir: string;
  fresh: boolean;
  baseline: boolean;
}

interface ChildArgs {
  role: 'fit' | 'score' | 'baseline';
  model: BenchModel;
  windows: string;
  artifact: string;
  chunk: number;
  rows?: number;
  part?: number;
  procs?: number;
}

/** What a child measures and reports back. */
interface FitResult {
  fitSeconds: number;
  peakRssMb: number;
  note: string;
}
interface ScoreResult {
  rows: number;
  loadSeconds: number;
  scoreSeconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  checksum: number;
}
interface BaselineResult {
  rows: number;
  libRate: number;
  coldRate: number;
  bruteRate: number;
  maxDiffCold: number;
  maxDiffBrute: number;
}

/** The artifact a scorer loads: the product's artifact fields the scorer needs. */
interface BenchArtifact {
  kind: OutlierModelKind;
  scaler: RobustScalerModel;
  model: unknown;
}

function positive(flag: string, v: string): number {
  const n = Number(v.replace(/_/g, ''));
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`${flag} must be a positive integer, got ${v}`);
  return n;
}

function readOptions(argv: string[]): Options & { child?: string; e2eChild?: string; endToEnd?: EndToEndOptions } {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: '1000000' },
      models: { type: 'string', default: MODELS.join(',') },
      procs: { type: 'string', default: String(availableParallelism()) },
      world: { type: 'string', default: 'default' },
      chunk: { type: 'string', default: '250000' },
      dir: { type: 'string', default: join(tmpdir(), 'splitwatch-bench', 'detectors') },
      fresh: { type: 'boolean', default: false },
      'no-baseline': { type: 'boolean', default: false },
      child: { type: 'string' },
      'end-to-end': { type: 'boolean', default: false },
      'e2e-preset': { type: 'string', default: 'nequi' },
      'e2e-users': { type: 'string' },
      'e2e-seed': { type: 'string' },
      'memory-limit': { type: 'string' },
      workers: { type: 'string' },
      [E2E_CHILD_FLAG.slice(2)]: { type: 'string' },
    },
  });
  const num = (v: string) => Number(v.replace(/_/g, ''));
  const rows = values.rows.split(',').map(num);
  if (rows.some((r) => !Number.isInteger(r) || r < 1))
    throw new Error(`--rows must be positive integers, got ${values.rows}`);
  const models = values.models.split(',') as BenchModel[];
  for (const m of models)
    if (!MODELS.includes(m)) throw new Error(`unknown model ${m}; known: ${MODELS.join(', ')}`);
  const procs = num(values.procs);
  if (!(Number.isInteger(procs) && procs >= 1)) throw new Error(`--procs must be an integer ≥ 1`);
  const chunk = num(values.chunk);
  if (!(Number.isInteger(chunk) && chunk >= 1000)) throw new Error(`--chunk must be an integer ≥ 1000`);
  if (values.world !== 'default' && values.world !== 'small')
    throw new Error(`--world must be default or small`);
  return {
    rows,
    models,
    procs,
    world: values.world,
    chunk,
    dir: values.dir,
    fresh: values.fresh,
    baseline: !values['no-baseline'],
    child: values.child,
    e2eChild: values[E2E_CHILD_FLAG.slice(2)] as string | undefined,
    endToEnd: values['end-to-end']
      ? {
          preset: values['e2e-preset'],
          users: values['e2e-users'] === undefined ? undefined : positive('--e2e-users', values['e2e-users']),
          seed: values['e2e-seed'] === undefined ? undefined : num(values['e2e-seed']),
          memoryLimit: values['memory-limit'],
          workers: values.workers === undefined ? undefined : positive('--workers', values.workers),
          dir: values.dir,
        }
      : undefined,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The empirical window distribution

/**
 * Synthesises the world, runs ingest and buildFeatures on it, and collects every candidate window vector the way
 * fitModels offers them to its reservoir. Returns the cache file path.
 */
async function collectWindows(o: Options): Promise<string> {
  const file = join(o.dir, `windows-${o.world}.f64`);
  const metaFile = `${file}.json`;
  if (!o.fresh && existsSync(file) && existsSync(metaFile)) return file;
  const work = join(o.dir, `world-${o.world}`);
  await rm(work, { recursive: true, force: true });
  const root = join(work, 'data');
  await mkdir(join(root, 'raw'), { recursive: true });
  let t = performance.now();
  const summary = await synthesize(SYNTH_PRESETS[o.world], join(work, 'synth'));
  await copyFile(summary.files.transactions, join(root, 'raw', 'transactions.csv'));
  log(`  synthesised the ${o.world} world: ${summary.rows.toLocaleString('en-US')} rows in ${secs(t)}`);
  const config: DetectionConfig = DEFAULT_CONFIG;
  const objectStore = new LocalObjectStore({ root });
  const sqlEngine = await DuckDbSqlEngine.open({ root });
  const vectors: number[] = [];
  let offered = 0;
  try {
    t = performance.now();
    await ingest(
      { objectStore, sqlEngine, tmpDir: work },
      { runId: 'bench', sources: ['raw/transactions.csv'] },
    );
    await buildFeatures({ objectStore, sqlEngine }, { runId: 'bench', config });
    log(`  ingest + buildFeatures in ${secs(t)}`);
    t = performance.now();
    await registerFeatures(sqlEngine);
    await forEachCandidateWindow(sqlEngine, config, (v) => {
      offered++;
      vectors.push(...v);
    });
    log(`  ${offered.toLocaleString('en-US')} candidate windows collected in ${secs(t)}`);
  } finally {
    await sqlEngine.close();
  }
  const data = Float64Array.from(vectors);
  for (let i = 0; i < data.length; i++)
    if (!Number.isFinite(data[i])) throw new Error(`non-finite window feature at ${i}`);
  await writeFile(file, new Uint8Array(data.buffer));
  await writeFile(
    metaFile,
    JSON.stringify({
      world: o.world,
      preset: SYNTH_PRESETS[o.world],
      transactions: summary.rows,
      windows: offered,
    }),
  );
  await rm(work, { recursive: true, force: true });
  return file;
}

async function loadWindows(file: string): Promise<Matrix> {
  const buf = await readFile(file);
  const data = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8).slice();
  return matrix(data.length / D, D, data);
}

/** Per-feature jitter scale and clamp range of the smoothed bootstrap. */
function jitterPlan(W: Matrix): { sd: Float64Array; lo: Float64Array; hi: Float64Array } {
  const sd = new Float64Array(D);
  const lo = new Float64Array(D);
  const hi = new Float64Array(D);
  const col = new Float64Array(W.n);
  for (let j = 0; j < D; j++) {
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < W.n; i++) {
      const v = W.data[i * D + j];
      col[i] = v;
      sum += v;
      sumSq += v * v;
    }
    col.sort();
    lo[j] = col[0];
    hi[j] = col[W.n - 1];
    const iqr = col[Math.floor(0.75 * (W.n - 1))] - col[Math.floor(0.25 * (W.n - 1))];
    const mean = sum / W.n;
    const scale = iqr > 0 ? iqr / 1.349 : Math.sqrt(Math.max(0, sumSq / W.n - mean * mean));
    sd[j] = j === PARTS ? 0 : JITTER * scale;
  }
  return { sd, lo, hi };
}

/** Fills `X` with a smoothed bootstrap of the windows, reproducibly from `seed`. */
function bootstrap(W: Matrix, plan: ReturnType<typeof jitterPlan>, X: Matrix, seed: number): void {
  const r = new Random(seed);
  const g = () => Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
  for (let i = 0; i < X.n; i++) {
    const src = r.int(W.n) * D;
    for (let j = 0; j < D; j++) {
      const v = W.data[src + j] + (plan.sd[j] > 0 ? plan.sd[j] * g() : 0);
      X.data[i * D + j] = Math.min(plan.hi[j], Math.max(plan.lo[j], v));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Child roles

let peakRss = 0;
function sampleRss(): void {
  peakRss = Math.max(peakRss, process.memoryUsage().rss / 2 ** 20, process.resourceUsage().maxRSS / 1024);
}

/** The product's fit: a seeded reservoir sample of the candidate windows, then fitArtifacts. */
async function fitRole(a: ChildArgs): Promise<FitResult> {
  const W = await loadWindows(a.windows);
  const config = DEFAULT_CONFIG;
  const reservoir = new Reservoir<number[]>(config.models.sampleSize, config.models.seed);
  for (let i = 0; i < W.n; i++) reservoir.offer(Array.from(W.data.subarray(i * D, i * D + D)));
  sampleRss();
  const kind = KIND[a.model];
  const t0 = performance.now();
  const [artifact] = fitArtifacts(reservoir.items, config, { from: null, to: null }, [kind]);
  let fitSeconds = artifact.fitSeconds;
  let model = artifact.model;
  if (a.model === 'gmm-diag') {
    // fitArtifacts' split (same seed, same shuffle), then the product's GMM options with diagonal covariances.
    const rng = new Random(config.models.seed);
    const order = reservoir.items.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    const fitRows = order.slice(0, Math.ceil(order.length / 2)).map((i) => reservoir.items[i]);
    const t1 = performance.now();
    model = fitGaussianMixture(transformRobust(artifact.scaler, fromRows(fitRows)), {
      nComponents: config.models.gmmComponents,
      covarianceType: 'diag',
      seed: config.models.seed,
    });
    fitSeconds = (performance.now() - t1) / 1000;
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  sampleRss();
  const bench: BenchArtifact = { kind, scaler: artifact.scaler, model };
  await writeFile(a.artifact, JSON.stringify(bench));
  const notes = [`sample ${reservoir.items.length} of ${W.n} windows`];
  if (a.model === 'dbscan') {
    const m = model as DbscanModel;
    notes.push(`eps ${m.eps.toFixed(3)}, ${m.nClusters} clusters, ${m.coreIndices.length} core points`);
  } else if (a.model === 'lof') {
    notes.push(`k ${(model as LofModel).nNeighbors} on ${(model as LofModel).nTraining} rows`);
  } else if (a.model.startsWith('gmm')) {
    const m = model as { nIter: number; converged: boolean };
    notes.push(
      `${config.models.gmmComponents} components, ${m.nIter} EM iterations${m.converged ? '' : ' (not converged)'}`,
    );
  }
  if (a.model === 'gmm-diag')
    notes.push(`fitArtifacts (full) ${totalSeconds.toFixed(2)} s before the diag refit`);
  return { fitSeconds, peakRssMb: peakRss, note: notes.join(', ') };
}

async function loadArtifact(
  a: ChildArgs,
): Promise<{ art: BenchArtifact; score: (X: Matrix) => Float64Array }> {
  const art = JSON.parse(await readFile(a.artifact, 'utf8')) as BenchArtifact;
  const fn = OUTLIER_MODELS[art.kind].score as (m: unknown, X: Matrix) => Float64Array;
  return { art, score: (X) => fn(art.model, transformRobust(art.scaler, X)) };
}

async function scoreRole(a: ChildArgs): Promise<ScoreResult> {
  const W = await loadWindows(a.windows);
  const plan = jitterPlan(W);
  const n = a.rows as number;
  const procs = a.procs as number;
  const cpu0 = process.cpuUsage();
  let t0 = performance.now();
  const { art, score } = await loadArtifact(a);
  // The first call builds the compiled form (KD-tree, Cholesky factors): counted as loading.
  score(matrix(1, D, Float64Array.from(art.scaler.center)));
  const loadSeconds = (performance.now() - t0) / 1000;
  const chunks = Math.ceil(n / a.chunk);
  const buf = new Float64Array(a.chunk * D);
  let genCpu = 0;
  let scoreMs = 0;
  let rows = 0;
  let checksum = 0;
  for (let c = a.part as number; c < chunks; c += procs) {
    const size = Math.min(a.chunk, n - c * a.chunk);
    const X = matrix(size, D, buf.subarray(0, size * D));
    const g0 = process.cpuUsage();
    bootstrap(W, plan, X, 1000 + c);
    const g = process.cpuUsage(g0);
    genCpu += g.user + g.system;
    t0 = performance.now();
    const s = score(X);
    scoreMs += performance.now() - t0;
    for (let i = 0; i < s.length; i += 997) checksum += s[i];
    rows += size;
    sampleRss();
  }
  if (!Number.isFinite(checksum)) throw new Error(`${a.model}: non-finite score`);
  const cpu = process.cpuUsage(cpu0);
  return {
    rows,
    loadSeconds,
    scoreSeconds: scoreMs / 1000,
    cpuSeconds: (cpu.user + cpu.system - genCpu) / 1e6,
    peakRssMb: peakRss,
    checksum,
  };
}

/**
 * The previous query path and brute force against the library on the first chunk: LOF novelty scores from a cold
 * k-NN search per row (leaf order, as scoreLof did) and DBSCAN distances from a cold 1-NN search.
 */
async function baselineRole(a: ChildArgs): Promise<BaselineResult> {
  const W = await loadWindows(a.windows);
  const X = matrix(Math.min(a.chunk, a.rows as number), D);
  bootstrap(W, jitterPlan(W), X, 1000);
  const art = JSON.parse(await readFile(a.artifact, 'utf8')) as BenchArtifact;
  const Xs = transformRobust(art.scaler, X);
  let ref: Matrix;
  let k: number;
  let fromNeighbours: (idx: Int32Array, dist: Float64Array) => number;
  let lib: (Q: Matrix) => Float64Array;
  if (a.model === 'lof') {
    const m = art.model as LofModel;
    ref = matrix(m.nTraining, D, Float64Array.from(m.training));
    k = m.nNeighbors;
    const kDistance = Float64Array.from(m.kDistance);
    const lrd = Float64Array.from(m.lrd);
    fromNeighbours = (idx, dist) => {
      let reach = 0;
      for (let r = 0; r < k; r++) reach += Math.max(dist[r], kDistance[idx[r]]);
      const lrdP = 1 / (reach / k + 1e-10);
      let ratio = 0;
      for (let r = 0; r < k; r++) ratio += lrd[idx[r]] / lrdP;
      return ratio / k;
    };
    lib = (Q) => scoreLof(m, Q);
  } else {
    const m = art.model as DbscanModel;
    ref = matrix(m.coreIndices.length, D, Float64Array.from(m.core));
    k = 1;
    fromNeighbours = (_idx, dist) => dist[0];
    lib = (Q) => scoreDbscan(m, Q);
  }
  lib(matrix(1, D));
  let t0 = performance.now();
  const libScores = lib(Xs);
  const libRate = Xs.n / ((performance.now() - t0) / 1000);

  const tree = KdTree.build(ref, (art.model as { leafSize: number }).leafSize);
  const qi = new Int32Array(k);
  const qd = new Float64Array(k);
  t0 = performance.now();
  let maxDiffCold = 0;
  for (const i of tree.leafOrder(Xs)) {
    tree.knnInto(Xs.data, i * D, k, qi, qd, 0);
    maxDiffCold = Math.max(maxDiffCold, Math.abs(fromNeighbours(qi, qd) - libScores[i]));
  }
  const coldRate = Xs.n / ((performance.now() - t0) / 1000);

  const nb = Math.min(BRUTE_ROWS, Xs.n);
  const dist = new Float64Array(ref.n);
  const order = new Int32Array(ref.n);
  t0 = performance.now();
  let maxDiffBrute = 0;
  for (let q = 0; q < nb; q++) {
    for (let i = 0; i < ref.n; i++) {
      let s = 0;
      for (let j = 0; j < D; j++) {
        const t = ref.data[i * D + j] - Xs.data[q * D + j];
        s += t * t;
      }
      dist[i] = Math.sqrt(s);
      order[i] = i;
    }
    order.sort((x, y) => dist[x] - dist[y] || x - y);
    for (let r = 0; r < k; r++) {
      qi[r] = order[r];
      qd[r] = dist[order[r]];
    }
    maxDiffBrute = Math.max(maxDiffBrute, Math.abs(fromNeighbours(qi, qd) - libScores[q]));
  }
  const bruteRate = nb / ((performance.now() - t0) / 1000);
  return { rows: Xs.n, libRate, coldRate, bruteRate, maxDiffCold, maxDiffBrute };
}

// ---------------------------------------------------------------------------------------------------------------
// Parent

function child<T>(a: ChildArgs): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const proc = fork(process.argv[1], ['--child', JSON.stringify(a)], { execArgv: process.execArgv });
    let result: T | undefined;
    proc.once('message', (m) => (result = m as T));
    proc.once('error', reject);
    proc.once('exit', (code) =>
      code === 0 && result !== undefined
        ? resolvePromise(result)
        : reject(new Error(`benchmark child ${a.role} ${a.model} exited ${code}`)),
    );
  });
}

const log = (s: string) => process.stderr.write(s + '\n');
const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
/** 1234567 → "1.23M". */
function fmt(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
}

async function main(): Promise<void> {
  const o = readOptions(process.argv.slice(2));
  if (o.child) {
    const a = JSON.parse(o.child) as ChildArgs;
    const r =
      a.role === 'fit' ? await fitRole(a) : a.role === 'score' ? await scoreRole(a) : await baselineRole(a);
    process.send?.(r);
    return;
  }
  if (o.e2eChild) return endToEndChild(o.e2eChild);
  await mkdir(o.dir, { recursive: true });
  if (o.endToEnd) return runEndToEnd(o.endToEnd, (json) => [`${E2E_CHILD_FLAG}=${json}`]);
  log(`bench:detectors — ${o.world} world, data under ${o.dir}; load average ${load()}`);
  const windows = await collectWindows(o);
  const meta = JSON.parse(await readFile(`${windows}.json`, 'utf8')) as {
    windows: number;
    transactions: number;
  };
  log(
    `${meta.windows.toLocaleString('en-US')} candidate windows from ${meta.transactions.toLocaleString('en-US')} ` +
      `synthetic transactions; scoring in ${o.procs} process(es), ${o.chunk.toLocaleString('en-US')}-row chunks`,
  );
  const artifactDir = join(o.dir, `artifacts-${process.pid}`);
  await mkdir(artifactDir, { recursive: true });
  const table = [
    '| model | fit s | rows | score wall s | rows/s | CPU s | peak RSS MB | load (1 min) | notes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  const baselines: string[] = [];
  try {
    for (const model of o.models) {
      const artifact = join(artifactDir, `${model}.json`);
      const base: Omit<ChildArgs, 'role'> = { model, windows, artifact, chunk: o.chunk };
      const fit = await child<FitResult>({ ...base, role: 'fit' });
      log(`${model}: fitted in ${fit.fitSeconds.toFixed(2)} s (${fit.note})`);
      for (const n of o.rows) {
        const before = loadavg()[0];
        const t0 = performance.now();
        const parts = await Promise.all(
          Array.from({ length: o.procs }, (_, part) =>
            child<ScoreResult>({ ...base, role: 'score', rows: n, part, procs: o.procs }),
          ),
        );
        const wall = (performance.now() - t0) / 1000;
        const cpu = parts.reduce((s, p) => s + p.cpuSeconds, 0);
        const loadS = Math.max(...parts.map((p) => p.loadSeconds));
        const scoreOnly = Math.max(...parts.map((p) => p.scoreSeconds));
        const rss = Math.max(fit.peakRssMb, ...parts.map((p) => p.peakRssMb));
        const line =
          `| ${model} | ${fit.fitSeconds.toFixed(2)} | ${n.toLocaleString('en-US')} | ${wall.toFixed(1)} | ` +
          `${fmt(n / wall)} | ${cpu.toFixed(1)} | ${rss.toFixed(0)} | ${before.toFixed(2)}→${loadavg()[0].toFixed(2)} | ` +
          `load ${loadS.toFixed(2)} s, scoring alone ${scoreOnly.toFixed(1)} s |`;
        table.push(line);
        log(line);
      }
      if (o.baseline && (model === 'lof' || model === 'dbscan')) {
        const b = await child<BaselineResult>({ ...base, role: 'baseline', rows: Math.max(...o.rows) });
        const line =
          `| ${model} | ${b.rows.toLocaleString('en-US')} | ${fmt(b.libRate)} | ${fmt(b.coldRate)} ` +
          `(×${(b.libRate / b.coldRate).toFixed(1)}) | ${fmt(b.bruteRate)} (×${(b.libRate / b.bruteRate).toFixed(0)}) | ` +
          `${b.maxDiffCold.toExponential(1)} / ${b.maxDiffBrute.toExponential(1)} |`;
        baselines.push(line);
        log(line);
      }
    }
  } finally {
    await rm(artifactDir, { recursive: true, force: true });
  }
  console.log(
    `\nfit + score (${o.procs} scoring processes), ${meta.windows.toLocaleString('en-US')} ${o.world}-world windows`,
  );
  console.log(table.join('\n'));
  if (baselines.length) {
    console.log('\nbaseline on one chunk, one process (rows/s; speed-up of the library in brackets)');
    console.log(
      '| model | rows | library (knnAll) | per-row KD-tree search | brute force | max |Δ| per-row / brute |',
    );
    console.log('|---|---:|---:|---:|---:|---|');
    console.log(baselines.join('\n'));
  }
  console.log(`\nload average after: ${load()}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
