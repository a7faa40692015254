import { ConfigError } from '@splitwatch/core';

/** How an adapter waits for an asynchronous statement (Athena query, Redshift Data API statement). */
export interface PollSettings {
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  timeoutMs: number;
  sleep: (ms: number) => Promise<void>;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves poll settings from adapter options, rejecting non-positive values. */
export function pollSettings(
  owner: string,
  options: Partial<PollSettings>,
  defaults: Omit<PollSettings, 'sleep'>,
): PollSettings {
  const settings: PollSettings = {
    pollIntervalMs: options.pollIntervalMs ?? defaults.pollIntervalMs,
    maxPollIntervalMs:
      options.maxPollIntervalMs ?? Math.max(defaults.maxPollIntervalMs, options.pollIntervalMs ?? 0),
    timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
    sleep: options.sleep ?? realSleep,
  };
  for (const key of ['pollIntervalMs', 'maxPollIntervalMs', 'timeoutMs'] as const) {
    const v = settings[key];
    if (!Number.isFinite(v) || v <= 0)
      throw new ConfigError(`${owner}: ${key} must be a positive number, got ${v}`);
  }
  return settings;
}

/**
 * Calls `check` until it returns a value, sleeping between calls with exponential backoff capped at
 * `maxPollIntervalMs`. Returns `undefined` when `timeoutMs` passes first.
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  s: PollSettings,
): Promise<T | undefined> {
  const started = Date.now();
  let slept = 0;
  let delay = s.pollIntervalMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    // Wall-clock time covers real runs; the slept total makes an injected (instant) sleep still reach the timeout.
    const elapsed = Math.max(Date.now() - started, slept);
    if (elapsed >= s.timeoutMs) return undefined;
    const wait = Math.min(delay, s.maxPollIntervalMs, s.timeoutMs - elapsed);
    await s.sleep(wait);
    slept += wait;
    delay = Math.min(delay * 2, s.maxPollIntervalMs);
  }
}
