import { resolve } from 'node:path';

/** The repository root, found from this file (the CLI runs from the checkout through tsx). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/** The pipeline state machine: the same file serverless-step-functions deploys. */
export const PIPELINE_ASL = resolve(REPO_ROOT, 'apps', 'pipeline', 'statemachines', 'pipeline.asl.yaml');

export const DEFAULT_DATA_DIR = '.splitwatch';
