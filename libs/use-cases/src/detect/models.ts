import {
  estimateEps,
  fitRobustScaler,
  fromRows,
  OUTLIER_MODELS,
  Random,
  transformRobust,
  type OutlierModelKind,
  type RobustScalerModel,
} from '@splitwatch/models';
import type { DetectionConfig } from '@splitwatch/core';
import type { RuleHit } from './rules';
import { WINDOW_FEATURE_LABELS, WINDOW_FEATURES } from './window-vector';

/** Version of the window features and this fitting code: part of every artifact's path. */
export const MODEL_CODE_VERSION = 'w2';

export const MODEL_METHODS: Record<OutlierModelKind, string> = {
  'isolation-forest': 'model:iforest',
  'local-outlier-factor': 'model:lof',
  dbscan: 'model:dbscan',
  'gaussian-mixture': 'model:gmm',
};

/** A fitted detector as stored under `models/<kind>/<version>/model.json`. */
export interface ModelArtifact {
  kind: OutlierModelKind;
  method: string;
  version: string;
  features: string[];
  scaler: RobustScalerModel;
  model: unknown;
  /** Sorted scores of held-out training windows at 1001 evenly spaced quantiles: the score → rarity table. */
  quantiles: number[];
  contamination: number;
  /** Rarity threshold, −log10(contamination): 2 means rarer than 99% of training windows. */
  threshold: number;
  trainingRows: number;
  trainingRange: { from: string | null; to: string | null };
  configVersion: string;
  codeVersion: string;
  fittedAt: string;
  fitSeconds: number;
}

export function modelsVersion(config: DetectionConfig): string {
  return `${MODEL_CODE_VERSION}-${config.version}`;
}

export const modelKey = (kind: OutlierModelKind, version: string) => `models/${kind}/${version}/model.json`;

export function enabledModelKinds(config: DetectionConfig): OutlierModelKind[] {
  const m = config.models;
  if (!m.enabled) return [];
  const kinds: OutlierModelKind[] = [];
  if (m.isolationForest) kinds.push('isolation-forest');
  if (m.lof) kinds.push('local-outlier-factor');
  if (m.dbscan) kinds.push('dbscan');
  if (m.gmm) kinds.push('gaussian-mixture');
  return kinds;
}

/** Keeps a seeded uniform sample of at most `size` items from a stream (reservoir sampling). */
export class Reservoir<T> {
  readonly items: T[] = [];
  seen = 0;
  private readonly rng: Random;
  constructor(
    private readonly size: number,
    seed: number,
  ) {
    this.rng = new Random(seed);
  }
  offer(item: T): void {
    this.seen++;
    if (this.items.length < this.size) this.items.push(item);
    else {
      const j = this.rng.int(this.seen);
      if (j < this.size) this.items[j] = item;
    }
  }
}

/**
 * Fits every enabled model on a sample of window vectors: the robust scaler and the model on one half, the
 * score → rarity table on the other half (scores of windows the model has not seen), so a training window's
 * own presence does not make it look ordinary.
 */
export function fitArtifacts(
  sample: number[][],
  config: DetectionConfig,
  range: { from: string | null; to: string | null },
  kinds = enabledModelKinds(config),
): ModelArtifact[] {
  const m = config.models;
  const rng = new Random(m.seed);
  const order = sample.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const half = Math.ceil(order.length / 2);
  const fitRows = order.slice(0, half).map((i) => sample[i]);
  const holdRows = order.slice(half).map((i) => sample[i]);
  if (fitRows.length < 50 || holdRows.length < 50) return [];
  const scaler = fitRobustScaler(fromRows(fitRows));
  const Xfit = transformRobust(scaler, fromRows(fitRows));
  const Xhold = transformRobust(scaler, fromRows(holdRows));
  const artifacts: ModelArtifact[] = [];
  for (const kind of kinds) {
    const started = Date.now();
    let model: unknown;
    if (kind === 'isolation-forest') model = OUTLIER_MODELS[kind].fit(Xfit, { seed: m.seed });
    else if (kind === 'local-outlier-factor') {
      model = OUTLIER_MODELS[kind].fit(Xfit, { nNeighbors: Math.min(m.lofNeighbors, Xfit.n - 1) });
    } else if (kind === 'dbscan') {
      const eps = estimateEps(Xfit, m.dbscanMinSamples, 0.9, { seed: m.seed });
      model = OUTLIER_MODELS[kind].fit(Xfit, { eps, minSamples: m.dbscanMinSamples });
    } else {
      model = OUTLIER_MODELS[kind].fit(Xfit, { nComponents: m.gmmComponents, covarianceType: 'full', seed: m.seed });
    }
    const held = Float64Array.from(scoreWith(kind, model, Xhold)).sort();
    const quantiles = Array.from({ length: 1001 }, (_, q) => held[Math.min(held.length - 1, Math.round((q / 1000) * (held.length - 1)))]);
    artifacts.push({
      kind,
      method: MODEL_METHODS[kind],
      version: modelsVersion(config),
      features: [...WINDOW_FEATURES],
      scaler,
      model,
      quantiles,
      contamination: m.contamination,
      threshold: -Math.log10(m.contamination),
      trainingRows: sample.length,
      trainingRange: range,
      configVersion: config.version,
      codeVersion: MODEL_CODE_VERSION,
      fittedAt: new Date().toISOString(),
      fitSeconds: (Date.now() - started) / 1000,
    });
  }
  return artifacts;
}

function scoreWith(kind: OutlierModelKind, model: unknown, X: ReturnType<typeof fromRows>): Float64Array {
  return (OUTLIER_MODELS[kind].score as (m: unknown, x: typeof X) => Float64Array)(model, X);
}

/** −log10 of the share of held-out training windows scoring at least as high (capped by the table's resolution). */
export function rarity(quantiles: number[], score: number): number {
  let lo = 0;
  let hi = quantiles.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (quantiles[mid] <= score) lo = mid + 1;
    else hi = mid;
  }
  const above = 1 - lo / quantiles.length;
  return -Math.log10(Math.max(above, 1 / (quantiles.length + 1)));
}

/** Scores window vectors with stored artifacts and explains the windows that fire. */
export class ModelScorer {
  /** Per model: windows scored and milliseconds spent on them (robust scaling + score), for the step record. */
  readonly timing = new Map<OutlierModelKind, { windows: number; ms: number }>();

  constructor(readonly artifacts: ModelArtifact[]) {}

  /** For each vector, the hits of every model that finds it rarer than its contamination. */
  score(vectors: number[][]): RuleHit[][] {
    const hits: RuleHit[][] = vectors.map(() => []);
    if (vectors.length === 0) return hits;
    for (const a of this.artifacts) {
      const started = performance.now();
      const X = transformRobust(a.scaler, fromRows(vectors));
      const scores = scoreWith(a.kind, a.model, X);
      const t = this.timing.get(a.kind) ?? { windows: 0, ms: 0 };
      t.windows += vectors.length;
      t.ms += performance.now() - started;
      this.timing.set(a.kind, t);
      for (let i = 0; i < vectors.length; i++) {
        const r = rarity(a.quantiles, scores[i]);
        if (r < a.threshold) continue;
        const vector = vectors[i];
        hits[i].push({
          method: a.method,
          score: Math.round(r * 1e6) / 1e6,
          threshold: a.threshold,
          reason: '',
          explain: () => this.explain(a, vector, r),
        });
      }
    }
    return hits;
  }

  /** Which features made the window rare for this model (occlusion contributions, milliseconds). */
  explain(a: ModelArtifact, vector: number[], r: number): string {
    const x = transformRobust(a.scaler, fromRows([vector])).data;
    const { contributions } = (OUTLIER_MODELS[a.kind].explain as (m: unknown, x: ArrayLike<number>) => { contributions: Float64Array })(
      a.model,
      x,
    );
    const top = [...contributions]
      .map((c, j) => ({ c, j }))
      .filter((e) => e.c > 0)
      .sort((p, q) => q.c - p.c)
      .slice(0, 3)
      .map(({ c, j }) => `${WINDOW_FEATURE_LABELS[WINDOW_FEATURES[j]]} ${vector[j].toFixed(2)} (+${c.toPrecision(2)})`);
    return (
      `${a.method}: rarer than ${(100 * (1 - 10 ** -r)).toFixed(2)}% of training windows ` +
      `(threshold ${(100 * (1 - a.contamination)).toFixed(0)}%)` +
      (top.length ? `; driven by ${top.join(', ')}` : '')
    );
  }
}
