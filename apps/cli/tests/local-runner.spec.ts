import '../src/polyfills';
import { StateMachine } from 'aws-local-stepfunctions';
import { localizeDefinition, LOCAL_TASK_TIMEOUT_SECONDS } from '../src/local-runner';

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
