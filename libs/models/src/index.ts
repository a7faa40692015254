export { ModelFitError, ModelInputError } from './errors';
export { assertMatrix, assertRow, columnMedians, fromRows, matrix, row, takeRows, toRows } from './matrix';
export type { Matrix } from './matrix';
export { Random, sampleIndices } from './random';
export { DEFAULT_LEAF_SIZE, KdTree } from './kd-tree';
export type { Neighbours, OpenSet } from './kd-tree';
export { fitRobustScaler, inverseTransformRobust, transformRobust } from './robust-scaler';
export type { RobustScalerModel, RobustScalerOptions } from './robust-scaler';
export { explainByOcclusion } from './explain';
export type { Explanation } from './explain';
export {
  averagePathLength,
  explainIsolationForest,
  fitIsolationForest,
  scoreIsolationForest,
} from './isolation-forest';
export type { IsolationForestModel, IsolationForestOptions } from './isolation-forest';
export { explainLof, fitLof, scoreLof } from './local-outlier-factor';
export type { LofModel, LofOptions } from './local-outlier-factor';
export { estimateEps, explainDbscan, fitDbscan, predictDbscan, scoreDbscan } from './dbscan';
export type { DbscanModel, DbscanOptions } from './dbscan';
export {
  explainGaussianMixture,
  fitGaussianMixture,
  logLikelihoodGaussianMixture,
  scoreGaussianMixture,
} from './gaussian-mixture';
export type {
  CovarianceType,
  GaussianMixtureInit,
  GaussianMixtureModel,
  GaussianMixtureOptions,
} from './gaussian-mixture';
export { OUTLIER_MODELS } from './registry';
export type { OutlierModel, OutlierModelKind } from './registry';
export { decisionLogisticRegression, fitLogisticRegression } from './logistic-regression';
export type { LogisticRegressionModel, LogisticRegressionOptions } from './logistic-regression';
export { contributionsBoostedTrees, fitBoostedTrees, predictBoostedTrees } from './gradient-boosting';
export type { BoostedTree, BoostedTreesModel, BoostedTreesOptions } from './gradient-boosting';
