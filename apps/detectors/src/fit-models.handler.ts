import { createFitModelsHandler, once, openAdaptersFromEnv } from '@splitwatch/handlers';

/** Lambda entry point: adapters come from the environment (SPLITWATCH_MODE=aws in every stage). */
export const handler = createFitModelsHandler({ adapters: once(() => openAdaptersFromEnv(process.env)) });
