import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import validateAsl from 'asl-validator';
import { parse } from 'yaml';
import { allStates, importedName, loadAsl, reachableStates, withLambdaArns } from './helpers/asl';

const TASK_EXPORTS: Record<string, string> = {
  Ingest: 'splitwatch-test-IngestFunctionArn',
  BuildFeatures: 'splitwatch-test-BuildFeaturesFunctionArn',
  FitModels: 'splitwatch-test-FitModelsFunctionArn',
  DetectPartition: 'splitwatch-test-DetectFunctionArn',
  Sink: 'splitwatch-test-SinkFunctionArn',
  Report: 'splitwatch-test-ReportFunctionArn',
  RecordFailure: 'splitwatch-test-RecordFailureFunctionArn',
};

describe('the pipeline state machine definition (statemachines/pipeline.asl.yaml)', () => {
  const definition = loadAsl('test');
  const tasks = allStates(definition.States).filter(([, s]) => s.Type === 'Task');
  const topLevelWork = Object.entries(definition.States).filter(([, s]) => s.Type === 'Task' || s.Type === 'Map');

  it('is valid Amazon States Language once the imported function ARNs are filled in', () => {
    const result = validateAsl(withLambdaArns(definition));

    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('invokes, state by state, the function each service exports for the stage', () => {
    const imported = Object.fromEntries(tasks.map(([name, s]) => [name, importedName(s.Resource)]));

    expect(imported).toEqual(TASK_EXPORTS);
  });

  it("gives every Task its Lambda's timeout, so a hung step fails when its function would (never the ASL default of 60 s)", () => {
    const TASK_FUNCTION: Record<string, [string, string]> = {
      Ingest: ['ingest', 'ingest'],
      BuildFeatures: ['feature-builder', 'buildFeatures'],
      FitModels: ['detectors', 'fitModels'],
      DetectPartition: ['detectors', 'detect'],
      Sink: ['sink', 'sink'],
      Report: ['reporting', 'report'],
      RecordFailure: ['sink', 'recordFailure'],
    };
    for (const [name, state] of tasks) {
      const [app, fn] = TASK_FUNCTION[name];
      const sls = parse(readFileSync(join(__dirname, '..', '..', app, 'serverless.yml'), 'utf8')) as {
        provider: { timeout: number };
        functions: Record<string, { timeout?: number }>;
      };
      expect(sls.functions[fn]).toBeDefined();
      const lambdaTimeout = sls.functions[fn].timeout ?? sls.provider.timeout;
      expect({ name, timeout: state.TimeoutSeconds }).toEqual({ name, timeout: lambdaTimeout });
    }
  });

  it('retries every Task on TransientError and on Lambda service errors', () => {
    for (const [name, state] of tasks) {
      const retried = (state.Retry ?? []).flatMap((r) => r.ErrorEquals);
      expect({ name, retried }).toEqual({
        name,
        retried: expect.arrayContaining([
          'TransientError',
          'Lambda.ServiceException',
          'Lambda.TooManyRequestsException',
        ]),
      });
    }
  });

  it('catches every error of every step (a Map for the Tasks inside it) into RecordFailure, keeping the input next to the error', () => {
    for (const [name, state] of topLevelWork.filter(([n]) => n !== 'RecordFailure')) {
      expect({ name, catch: state.Catch }).toEqual({
        name,
        catch: [
          expect.objectContaining({
            ErrorEquals: ['States.ALL'],
            Next: 'RecordFailure',
            ResultPath: '$.error',
          }),
        ],
      });
    }
  });

  it('ends a failed run in a Fail state after RecordFailure, without catching its own errors', () => {
    const recordFailure = definition.States.RecordFailure;

    expect(recordFailure.Catch).toBeUndefined();
    expect(definition.States[recordFailure.Next!].Type).toBe('Fail');
  });

  it('ends a run that Ingest found refused the data set in a Succeed state, before any other step', () => {
    const choice = definition.States[definition.States.Ingest.Next!] as unknown as {
      Type: string;
      Choices: { Variable: string; IsPresent: boolean; Next: string }[];
      Default: string;
    };
    expect(choice.Type).toBe('Choice');
    expect(choice.Choices).toEqual([{ Variable: '$.ingest.skipped', IsPresent: true, Next: 'SkippedBusy' }]);
    expect(choice.Default).toBe('BuildFeatures');
    expect(definition.States.SkippedBusy.Type).toBe('Succeed');
  });

  it('fans Detect out over the account slices, each slice one DetectPartition Task with its own Retry', () => {
    const detect = definition.States.Detect;
    expect(detect.Type).toBe('Map');
    expect(detect.ItemsPath).toBe('$.partitions');
    expect(definition.States.PlanPartitions.Result).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(detect.ItemSelector).toEqual({
      'runId.$': '$.runId',
      'config.$': '$.config',
      'partition.$': '$$.Map.Item.Value',
      partitions: 8,
    });
  });

  it('reaches every state from StartAt', () => {
    expect([...reachableStates(definition)].sort()).toEqual(Object.keys(definition.States).sort());
  });
});
