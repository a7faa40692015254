import type { Context } from 'aws-lambda';

/**
 * How long a Task may run locally (24 h). In AWS each Task's `TimeoutSeconds` is its Lambda's limit (15 min at
 * most); a laptop has no such limit, and a whole year of a real log legitimately takes longer in one process.
 */
export const LOCAL_TASK_TIMEOUT_SECONDS = 86_400;

/**
 * The Lambda context a local Task handler gets. Its remaining time counts down from the local Task timeout, as in
 * AWS it counts down from the function's: middy cuts a handler short (TimeoutError) just before the remaining time
 * runs out, so a fixed 15 min here failed any local step longer than the Lambda limit (a year of the real log's
 * BuildFeatures takes ~50 min on a laptop).
 */
export function localLambdaContext(state: string, timeoutSeconds = LOCAL_TASK_TIMEOUT_SECONDS, now: () => number = Date.now): Context {
  const deadline = now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `splitwatch-local-${state}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:splitwatch-local-${state}`,
    memoryLimitInMB: '1024',
    awsRequestId: `local-${now()}`,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

