import { SplitwatchError } from '@splitwatch/core';

/** A matrix, row or option handed to a model is unusable (wrong shape, non-finite value, bad parameter). */
export class ModelInputError extends SplitwatchError {}

/** Fitting failed on otherwise valid input (e.g. a degenerate covariance the regulariser cannot rescue). */
export class ModelFitError extends SplitwatchError {}
