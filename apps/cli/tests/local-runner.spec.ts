import '../src/polyfills';
import { StateMachine } from 'aws-local-stepfunctions';
import middy from '@middy/core';
import { localizeDefinition, localLambdaContext, LOCAL_TASK_TIMEOUT_SECONDS, withReadableCause } from '../src/local-runner';

/** A one-Task machine whose Task has a Lambda-like timeout of 1 s, as the deployed ASL declares them. */
const asl = {
  StartAt: 'Slow',
  States: {
    Slow: { Type: 'Task', Resource: { 'Fn::ImportValue': 'splitwatch-test-SlowFunctionArn' }, TimeoutSeconds: 1, End: true },
  },
};

async function runSlow(timeoutSeconds?: number): Promise<unknown> {
  const machine = new StateMachine(localizeDefinition(asl, timeoutSeconds), { validationOptions: { checkArn: false } });
  const execution = machine.run({}, {
    overrides: {
      taskResourceLocalHandlers: { Slow: async () => new Promise((resolve) => setTimeout(() => resolve({ done: true }), 1500)) },
    },
  });
  return execution.result;
}

describe('localizeDefinition', () => {
  it('points intrinsic Resources at a placeholder ARN and lifts Task timeouts to the local limit', () => {
    const local = localizeDefinition(asl) as unknown as { States: { Slow: { Resource: string; TimeoutSeconds: number } } };
    expect(local.States.Slow.Resource).toBe('arn:aws:lambda:us-east-1:000000000000:function:splitwatch-local-Slow');
    expect(local.States.Slow.TimeoutSeconds).toBe(LOCAL_TASK_TIMEOUT_SECONDS);
    expect(asl.States.Slow.TimeoutSeconds).toBe(1); // the input is not modified
  });

  it('lets a step run past its Lambda limit locally, and still enforces a given limit', async () => {
    await expect(runSlow()).resolves.toEqual({ done: true });
    await expect(runSlow(1)).rejects.toThrow(/States\.Timeout/);
  });
});

describe('localLambdaContext', () => {
  it('counts the remaining time down from the local Task timeout, not the 15 min Lambda limit', () => {
    let t = 1_000_000;
    const ctx = localLambdaContext('BuildFeatures', LOCAL_TASK_TIMEOUT_SECONDS, () => t);
    expect(ctx.getRemainingTimeInMillis()).toBe(LOCAL_TASK_TIMEOUT_SECONDS * 1000);
    t += 3_600_000; // an hour into the step, past any Lambda limit
    expect(ctx.getRemainingTimeInMillis()).toBe((LOCAL_TASK_TIMEOUT_SECONDS - 3600) * 1000);
    t += LOCAL_TASK_TIMEOUT_SECONDS * 1000;
    expect(ctx.getRemainingTimeInMillis()).toBe(0);
  });

  it('is the time middy allows a handler: it stops one at the given limit, not before', async () => {
    const slow = middy(async () => new Promise((resolve) => setTimeout(() => resolve('done'), 1500)));
    await expect(slow({}, localLambdaContext('BuildFeatures'))).resolves.toBe('done');
    await expect(slow({}, localLambdaContext('BuildFeatures', 1))).rejects.toMatchObject({ name: 'TimeoutError' });
  });
});

describe('withReadableCause', () => {
  it("keeps the error's name and turns an object cause into text the run's failure message can show", () => {
    const timeout = Object.assign(new Error('[AbortError]: The operation was aborted.', { cause: { package: '@middy/core' } }), { name: 'TimeoutError' });
    const out = withReadableCause(timeout) as Error;
    expect(out.name).toBe('TimeoutError');
    expect(out.cause).toBe('[AbortError]: The operation was aborted. (cause: {"package":"@middy/core"})');
    const wrapped = withReadableCause(new Error('Cannot open PGlite', { cause: new TypeError('no flag') })) as Error;
    expect(wrapped.cause).toBe('Cannot open PGlite (cause: TypeError: no flag)');
    const plain = new Error('bad input');
    expect(withReadableCause(plain)).toBe(plain);
  });
});
