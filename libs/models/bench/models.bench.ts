/**
 * Fit-on-a-sample, score-in-partitions benchmark for the four unsupervised models.
 *
 *   TSX_TSCONFIG_PATH=tsconfig.json node --import tsx libs/models/bench/models.bench.ts [N]
 *     [--procs P] [--dist clustered|latent|uniform] [--fit-rows R] [--models a,b,…]
 *
 * Per model, as the pipeline runs it: one process fits on an R-row sample (default 50,000) and writes the JSON
 * artifact; then P processes (default: the machine's cores, like a Step Functions Map over partitions) each load
 * the artifact and score their share of N rows of 8 features, generated in 250k-row chunks. Data generation is
 * not timed; loading the artifact (and rebuilding its KD-tree) is. Reported: fit time, scoring wall time for all N
 * rows, rows/s, CPU seconds summed over the scorers, the largest peak RSS of any process, and the load average
 * (the machine may be shared, which inflates wall times).
 *
 * Distributions: `clustered` (default) — six correlated full-rank 8-D Gaussian blobs plus 2% heavy-tailed
 * stragglers, a hard case for a KD-tree; `latent` — 8 features driven by 3 latent factors plus noise, closer to
 * window features (sums, counts, maxima and ratios of the same few quantities); `uniform` — a [-3, 3]^8 box, the
 * worst case for neighbour search.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  estimateEps,
  fitDbscan,
  fitGaussianMixture,
  fitIsolationForest,
  fitLof,
  matrix,
  Random,
  scoreDbscan,
  scoreGaussianMixture,
  scoreIsolationForest,
  scoreLof,
  type DbscanModel,
  type GaussianMixtureModel,
  type IsolationForestModel,
  type LofModel,
  type Matrix,
} from '../src';

const D = 8;
const CHUNK = 250_000;
const MODELS = [
  'isolation-forest',
  'local-outlier-factor',
  'dbscan',
  'gaussian-mixture-full',
  'gaussian-mixture-diag',
] as const;
type BenchModel = (typeof MODELS)[number];
const DISTS = ['clustered', 'latent', 'uniform'] as const;
type Dist = (typeof DISTS)[number];

interface Args {
  n: number;
  procs: number;
  dist: Dist;
  fitRows: number;
  models: BenchModel[];
  role?: 'fit' | 'score';
  model?: BenchModel;
  artifact?: string;
  part?: number;
}

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
}

/** The data "world" is drawn from a fixed seed, so every process generates the same distribution. */
function makeGenerator(dist: Dist): (X: Matrix, seed: number) => void {
  const rng = new Random(1);
  const blobs = Array.from({ length: 6 }, () => ({
    centre: Array.from({ length: D }, () => rng.uniform(-2, 2)),
    mix: Array.from({ length: D * D }, (_, i) =>
      i % (D + 1) === 0 ? rng.uniform(0.2, 0.8) : rng.uniform(-0.25, 0.25),
    ),
  }));
  const loadings = Array.from({ length: D * 3 }, () => rng.uniform(-1, 1));
  const z = new Float64Array(D);
  return (X, seed) => {
    const r = new Random(seed);
    const g = () => Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
    for (let i = 0; i < X.n; i++) {
      const o = i * D;
      if (dist === 'uniform') {
        for (let j = 0; j < D; j++) X.data[o + j] = r.uniform(-3, 3);
      } else if (r.next() < 0.02) {
        // Heavy-tailed stragglers: the windows a detector exists to find.
        for (let j = 0; j < D; j++) X.data[o + j] = g() * 6;
      } else if (dist === 'latent') {
        // Log-normal-ish factors (amount, count, spread) with nonlinear features of them, plus small noise.
        const f0 = g();
        const f1 = Math.abs(g());
        const f2 = g() * 0.5;
        for (let j = 0; j < D; j++) {
          const lin = loadings[j * 3] * f0 + loadings[j * 3 + 1] * f1 + loadings[j * 3 + 2] * f2;
          X.data[o + j] = (j % 3 === 0 ? Math.tanh(lin) * 2 : lin) + 0.05 * g();
        }
      } else {
        const b = blobs[r.int(blobs.length)];
        for (let j = 0; j < D; j++) z[j] = g();
        for (let j = 0; j < D; j++) {
          let s = b.centre[j];
          for (let m = 0; m < D; m++) s += b.mix[j * D + m] * z[m];
          X.data[o + j] = s;
        }
      }
    }
  };
}

let peakRss = 0;
function sampleRss(): void {
  peakRss = Math.max(peakRss, process.memoryUsage().rss / 2 ** 20, process.resourceUsage().maxRSS / 1024);
}

function fitRole(args: Args): FitResult {
  const gen = makeGenerator(args.dist);
  const sample = matrix(args.fitRows, D);
  gen(sample, 42);
  sampleRss();
  const t0 = performance.now();
  let model: unknown;
  let note = '';
  switch (args.model) {
    case 'isolation-forest':
      model = fitIsolationForest(sample, { seed: 7 });
      break;
    case 'local-outlier-factor':
      model = fitLof(sample, { nNeighbors: 20 });
      break;
    case 'dbscan': {
      const eps = estimateEps(sample, 10, 0.9);
      const m = fitDbscan(sample, { eps, minSamples: 10 });
      note = `eps ${eps.toFixed(3)} (~90% core), ${m.nClusters} clusters, ${m.coreIndices.length} core points`;
      model = m;
      break;
    }
    case 'gaussian-mixture-full':
    case 'gaussian-mixture-diag': {
      const m = fitGaussianMixture(sample, {
        nComponents: 8,
        covarianceType: args.model === 'gaussian-mixture-full' ? 'full' : 'diag',
        seed: 7,
      });
      note = `8 components, ${m.nIter} EM iterations${m.converged ? '' : ' (not converged)'}`;
      model = m;
      break;
    }
    default:
      throw new Error(`unknown model ${args.model}`);
  }
  const fitSeconds = (performance.now() - t0) / 1000;
  sampleRss();
  writeFileSync(args.artifact as string, JSON.stringify(model));
  const mb = statSync(args.artifact as string).size / 2 ** 20;
  note = [note, `artifact ${mb.toFixed(1)} MB`].filter(Boolean).join(', ');
  if (args.model === 'local-outlier-factor') note += `; ${bruteForceLofNote(gen)}`;
  return { fitSeconds, peakRssMb: peakRss, note };
}

function scoreRole(args: Args): ScoreResult {
  const gen = makeGenerator(args.dist);
  const cpu0 = process.cpuUsage();
  let t0 = performance.now();
  const model = JSON.parse(readFileSync(args.artifact as string, 'utf8')) as unknown;
  let score: (X: Matrix) => Float64Array;
  switch (args.model) {
    case 'isolation-forest':
      score = (X) => scoreIsolationForest(model as IsolationForestModel, X);
      break;
    case 'local-outlier-factor':
      score = (X) => scoreLof(model as LofModel, X);
      break;
    case 'dbscan':
      score = (X) => scoreDbscan(model as DbscanModel, X);
      break;
    default:
      score = (X) => scoreGaussianMixture(model as GaussianMixtureModel, X);
  }
  // First call builds the compiled form (KD-tree, Cholesky factors): count it as loading.
  score(matrix(1, D));
  const loadSeconds = (performance.now() - t0) / 1000;

  const chunks = Math.ceil(args.n / CHUNK);
  const buf = new Float64Array(CHUNK * D);
  let scoreMs = 0;
  let rows = 0;
  let checksum = 0;
  for (let c = args.part as number; c < chunks; c += args.procs) {
    const size = Math.min(CHUNK, args.n - c * CHUNK);
    const X = matrix(size, D, buf.subarray(0, size * D));
    gen(X, 1000 + c);
    t0 = performance.now();
    const s = score(X);
    scoreMs += performance.now() - t0;
    checksum += s[0];
    rows += size;
    sampleRss();
  }
  if (!Number.isFinite(checksum)) throw new Error(`${args.model}: non-finite score`);
  const cpu = process.cpuUsage(cpu0);
  return {
    rows,
    loadSeconds,
    scoreSeconds: scoreMs / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRssMb: peakRss,
  };
}

/**
 * Baseline: LOF novelty scores on a 20k training subset with brute-force kNN (O(n) per query) against the KD-tree,
 * on the same 2,000 queries; also checks both give the same scores.
 */
function bruteForceLofNote(gen: (X: Matrix, seed: number) => void): string {
  const train = matrix(20_000, D);
  gen(train, 43);
  const Q = matrix(2_000, D);
  gen(Q, 44);
  const model = fitLof(train, { nNeighbors: 20 });
  scoreLof(model, matrix(1, D));
  let t0 = performance.now();
  const tree = scoreLof(model, Q);
  const treeMs = performance.now() - t0;

  t0 = performance.now();
  const k = model.nNeighbors;
  const dist = new Float64Array(train.n);
  const order = new Int32Array(train.n);
  let maxDiff = 0;
  for (let q = 0; q < Q.n; q++) {
    for (let i = 0; i < train.n; i++) {
      let s = 0;
      for (let j = 0; j < D; j++) {
        const t = train.data[i * D + j] - Q.data[q * D + j];
        s += t * t;
      }
      dist[i] = Math.sqrt(s);
      order[i] = i;
    }
    order.sort((a, b) => dist[a] - dist[b]);
    let reach = 0;
    for (let m = 0; m < k; m++) reach += Math.max(dist[order[m]], model.kDistance[order[m]]);
    const lrdP = 1 / (reach / k + 1e-10);
    let ratio = 0;
    for (let m = 0; m < k; m++) ratio += model.lrd[order[m]] / lrdP;
    maxDiff = Math.max(maxDiff, Math.abs(ratio / k - tree[q]));
  }
  const bruteMs = performance.now() - t0;
  const treeRate = Q.n / (treeMs / 1000);
  const bruteRate = Q.n / (bruteMs / 1000);
  return (
    `20k-row baseline: KD-tree ${fmt(treeRate)} rows/s vs brute force ${fmt(bruteRate)} rows/s ` +
    `(×${(treeRate / bruteRate).toFixed(0)}), max |Δscore| ${maxDiff.toExponential(1)}`
  );
}

/** 1234567 → "1.23M". */
function fmt(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    n: 1_000_000,
    procs: availableParallelism(),
    dist: 'clustered',
    fitRows: 50_000,
    models: [...MODELS],
  };
  const num = (v: string) => Number(v.replace(/_/g, ''));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dist') args.dist = argv[++i] as Dist;
    else if (a === '--models') args.models = argv[++i].split(',') as BenchModel[];
    else if (a === '--procs') args.procs = num(argv[++i]);
    else if (a === '--fit-rows') args.fitRows = num(argv[++i]);
    else if (a === '--role') args.role = argv[++i] as Args['role'];
    else if (a === '--model') args.model = argv[++i] as BenchModel;
    else if (a === '--artifact') args.artifact = argv[++i];
    else if (a === '--part') args.part = num(argv[++i]);
    else if (/^[\d_]+$/.test(a)) args.n = num(a);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!DISTS.includes(args.dist))
    throw new Error(`--dist must be one of ${DISTS.join(', ')}, got ${args.dist}`);
  for (const m of args.models)
    if (!MODELS.includes(m)) throw new Error(`unknown model ${m}; known: ${MODELS.join(', ')}`);
  if (!(args.procs >= 1)) throw new Error(`--procs must be ≥ 1`);
  return args;
}

function child<T>(args: Args, extra: string[]): Promise<T> {
  const argv = [
    String(args.n),
    '--procs',
    String(args.procs),
    '--dist',
    args.dist,
    '--fit-rows',
    String(args.fitRows),
  ];
  return new Promise<T>((resolve, reject) => {
    const proc = fork(process.argv[1], [...argv, ...extra], { execArgv: process.execArgv });
    let result: T | undefined;
    proc.once('message', (m) => (result = m as T));
    proc.once('error', reject);
    proc.once('exit', (code) =>
      code === 0 && result
        ? resolve(result)
        : reject(new Error(`benchmark child ${extra.join(' ')} exited ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.role === 'fit') return void process.send?.(fitRole(args));
  if (args.role === 'score') return void process.send?.(scoreRole(args));

  const dir = mkdtempSync(join(tmpdir(), 'models-bench-'));
  console.log(
    `${args.dist} data, ${D} features; fit on ${args.fitRows} rows; score ${args.n} rows in ${args.procs} ` +
      `process(es), ${CHUNK}-row chunks; load average ${loadavg()
        .map((v) => v.toFixed(1))
        .join(' ')}`,
  );
  console.log('model                   fit s  score wall s    rows/s   CPU s  peak RSS MB  notes');
  try {
    for (const model of args.models) {
      const artifact = join(dir, `${model}.json`);
      const fit = await child<FitResult>(args, ['--role', 'fit', '--model', model, '--artifact', artifact]);
      const t0 = performance.now();
      const parts = await Promise.all(
        Array.from({ length: args.procs }, (_, part) =>
          child<ScoreResult>(args, [
            '--role',
            'score',
            '--model',
            model,
            '--artifact',
            artifact,
            '--part',
            String(part),
          ]),
        ),
      );
      const wall = (performance.now() - t0) / 1000;
      const cpu = parts.reduce((s, p) => s + p.cpuSeconds, 0);
      const load = Math.max(...parts.map((p) => p.loadSeconds));
      const scoreOnly = Math.max(...parts.map((p) => p.scoreSeconds));
      const rss = Math.max(fit.peakRssMb, ...parts.map((p) => p.peakRssMb));
      console.log(
        `${model.padEnd(22)} ${fit.fitSeconds.toFixed(2).padStart(6)} ${wall.toFixed(2).padStart(13)} ${fmt(
          args.n / wall,
        ).padStart(9)} ${cpu.toFixed(1).padStart(7)} ${rss.toFixed(0).padStart(12)}  ` +
          `artifact load ${load.toFixed(2)} s, scoring alone ${scoreOnly.toFixed(2)} s; ${fit.note}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `load average after: ${loadavg()
      .map((v) => v.toFixed(1))
      .join(' ')}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
