import type { Context } from 'aws-lambda';
import { createDetectHandler, type StepLogger } from '../src';

const context = { getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

describe('the step handlers', () => {
  it("fail with the step's error whatever the logger returns (a returned value must not become the step's result)", async () => {
    const entries: string[] = [];
    // MessagePort.postMessage, a worker's way to log, returns true.
    const logger = ((e) => (entries.push(`${e.step}:${e.event}`), true)) as StepLogger;
    const handler = createDetectHandler({
      adapters: async () => {
        throw new Error('no data directory');
      },
      logger,
    });
    await expect(handler({ runId: 'r1' }, context)).rejects.toThrow('no data directory');
    expect(entries).toEqual(['detect:start', 'detect:error']);
  });
});
