import { explainDbscan, fitDbscan, scoreDbscan, type DbscanModel, type DbscanOptions } from './dbscan';
import type { Explanation } from './explain';
import {
  explainGaussianMixture,
  fitGaussianMixture,
  scoreGaussianMixture,
  type GaussianMixtureModel,
  type GaussianMixtureOptions,
} from './gaussian-mixture';
import {
  explainIsolationForest,
  fitIsolationForest,
  scoreIsolationForest,
  type IsolationForestModel,
  type IsolationForestOptions,
} from './isolation-forest';
import { explainLof, fitLof, scoreLof, type LofModel, type LofOptions } from './local-outlier-factor';
import type { Matrix } from './matrix';

/** The common shape of every model: fit to a plain JSON artifact, score (higher = more anomalous), explain. */
export interface OutlierModel<M, O> {
  fit(X: Matrix, options: O): M;
  score(model: M, X: Matrix): Float64Array;
  explain(model: M, x: ArrayLike<number>): Explanation;
}

/**
 * The four unsupervised detectors by artifact `kind`, so a caller can load `models/<detector>/<version>/` and
 * dispatch on the stored kind.
 */
export const OUTLIER_MODELS = {
  'isolation-forest': {
    fit: fitIsolationForest,
    score: scoreIsolationForest,
    explain: explainIsolationForest,
  } satisfies OutlierModel<IsolationForestModel, IsolationForestOptions | undefined>,
  'local-outlier-factor': { fit: fitLof, score: scoreLof, explain: explainLof } satisfies OutlierModel<
    LofModel,
    LofOptions | undefined
  >,
  dbscan: { fit: fitDbscan, score: scoreDbscan, explain: explainDbscan } satisfies OutlierModel<
    DbscanModel,
    DbscanOptions
  >,
  'gaussian-mixture': {
    fit: fitGaussianMixture,
    score: scoreGaussianMixture,
    explain: explainGaussianMixture,
  } satisfies OutlierModel<GaussianMixtureModel, GaussianMixtureOptions | undefined>,
} as const;

export type OutlierModelKind = keyof typeof OUTLIER_MODELS;
