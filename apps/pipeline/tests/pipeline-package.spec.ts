import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { openLocalAdapters, TASK_HANDLERS } from '@splitwatch/handlers';
import { acquireRunLock, RUN_LOCK_KEY } from '@splitwatch/use-cases';
import { join } from 'node:path';
import validateAsl from 'asl-validator';
import {
  appDir,
  actionsOf,
  props,
  resourcesOf,
  resourcesOfType,
  roleStatements,
  slsPackage,
  type CfnTemplate,
  type PackagedService,
} from './helpers/sls-package';

const PACKAGE_TIMEOUT_MS = 120_000;

const FUNCTION_EXPORTS = ['Ingest', 'BuildFeatures', 'FitModels', 'Detect', 'Sink', 'Report', 'RecordFailure'].map(
  (name) => `splitwatch-dev-${name}FunctionArn`,
);

const stageConfig = (stage: string): unknown =>
  JSON.parse(readFileSync(join(appDir('pipeline'), 'config', `${stage}.json`), 'utf8'));

interface StateMachineProps {
  StateMachineName: string;
  StateMachineType: string;
  DefinitionString: { 'Fn::Sub': [string, Record<string, { 'Fn::ImportValue': string }>] };
  LoggingConfiguration: unknown;
  TracingConfiguration: unknown;
}

interface RuleProps {
  Name: string;
  State: string;
  ScheduleExpression: string;
  Targets: { Arn: unknown; Input: string }[];
}

interface AlarmProps {
  MetricName: string;
  Namespace: string;
  Dimensions: unknown;
  AlarmActions: unknown;
}

function stateMachine(template: CfnTemplate): StateMachineProps {
  const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
  expect(Object.keys(machines)).toEqual(['PipelineStateMachine']);
  return props(template, 'PipelineStateMachine') as unknown as StateMachineProps;
}

function scheduleRule(template: CfnTemplate): RuleProps {
  const rules = Object.keys(resourcesOfType(template, 'AWS::Events::Rule')).filter(
    (r) => 'ScheduleExpression' in props(template, r),
  );
  expect(rules).toHaveLength(1);
  return props(template, rules[0]) as unknown as RuleProps;
}

/** What EventBridge makes of an InputTemplate: a placeholder as a JSON value is the value in JSON, inside quotes its text. */
function transformed(template: string, values: Record<string, string>): unknown {
  const text = template.replace(/("[^"]*")|<(\w+)>/g, (whole, quoted: string | undefined, bare: string | undefined) =>
    quoted !== undefined ? quoted.replace(/<(\w+)>/g, (_, k: string) => values[k]) : JSON.stringify(values[bare as string]),
  );
  return JSON.parse(text);
}

describe('apps/pipeline packaged with serverless-step-functions (stage dev)', () => {
  let packaged: PackagedService;
  let template: CfnTemplate;

  beforeAll(async () => {
    packaged = await slsPackage('pipeline', { stage: 'dev' });
    template = packaged.template;
  }, PACKAGE_TIMEOUT_MS);

  afterAll(() => packaged?.dispose());

  it('validates the definition while packaging', () => {
    expect(packaged.log).toContain('State machine "pipeline" definition is valid');
  });

  it('creates the named state machine with the definition as an Fn::Sub over the six imported function ARNs', () => {
    const sm = stateMachine(template);
    const [body, params] = sm.DefinitionString['Fn::Sub'];

    expect(sm.StateMachineName).toBe('splitwatch-dev-pipeline');
    expect(sm.StateMachineType).toBe('STANDARD');
    expect(
      Object.values(params)
        .map((p) => p['Fn::ImportValue'])
        .sort(),
    ).toEqual([...FUNCTION_EXPORTS].sort());
    // What Step Functions receives once CloudFormation substitutes the ARNs is still valid ASL.
    const substituted = body.replace(/\$\{(\w+)\}/g, (_, key: string) =>
      key in params ? `arn:aws:lambda:us-east-1:123456789012:function:${key}` : `\${${key}}`,
    );
    expect(validateAsl(JSON.parse(substituted)).errorsText()).toBe('');
  });

  it('lets the state machine invoke those six functions and no other', () => {
    const invoke = roleStatements(template, 'PipelineStateMachineRole').filter((s) =>
      actionsOf(s).includes('lambda:InvokeFunction'),
    );

    expect(invoke).toHaveLength(1);
    const resources = resourcesOf(invoke[0]) as Record<string, unknown>[];
    const direct = resources.filter((r) => 'Fn::ImportValue' in r).map((r) => r['Fn::ImportValue']);
    expect(direct.sort()).toEqual([...FUNCTION_EXPORTS].sort());
    expect(resources).not.toContain('*');
  });

  it('logs errors without execution data to its own retained log group, and traces with X-Ray', () => {
    const sm = stateMachine(template);
    const logGroup = props(template, 'PipelineLogGroup');

    expect(sm.LoggingConfiguration).toEqual({
      Level: 'ERROR',
      IncludeExecutionData: false,
      Destinations: [
        { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': ['PipelineLogGroup', 'Arn'] } } },
      ],
    });
    expect(sm.TracingConfiguration).toEqual({ Enabled: true });
    expect(logGroup.RetentionInDays).toBeGreaterThan(0);
  });

  it('has a schedule rule, disabled on dev, that starts the pipeline over raw/ with the stage config', () => {
    const rule = scheduleRule(template);

    expect(rule.Name).toBe('splitwatch-dev-pipeline-schedule');
    expect(rule.State).toBe('DISABLED');
    expect(rule.ScheduleExpression).toMatch(/^(cron|rate)\(/);
    expect(rule.Targets[0].Arn).toEqual({ Ref: 'PipelineStateMachine' });
    expect(JSON.parse(rule.Targets[0].Input)).toEqual({ sources: ['raw/'], config: stageConfig('dev') });
  });

  it('records a stopped or timed-out execution with RecordFailure, which gives the run lock back', async () => {
    const rule = props(template, 'StoppedRunsRule') as unknown as {
      EventPattern: { source: string[]; 'detail-type': string[]; detail: { status: string[]; stateMachineArn: unknown[] } };
      Targets: { Arn: unknown; InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string } }[];
    };
    expect(rule.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['ABORTED', 'TIMED_OUT'], stateMachineArn: [{ Ref: 'PipelineStateMachine' }] },
    });
    const [target] = rule.Targets;
    expect(target.Arn).toEqual({ 'Fn::ImportValue': 'splitwatch-dev-RecordFailureFunctionArn' });
    expect(target.InputTransformer.InputPathsMap).toEqual({ name: '$.detail.name', status: '$.detail.status' });
    expect(props(template, 'StoppedRunsPermission')).toMatchObject({
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::ImportValue': 'splitwatch-dev-RecordFailureFunctionArn' },
      SourceArn: { 'Fn::GetAtt': ['StoppedRunsRule', 'Arn'] },
    });
    // The event it sends, handed to the RecordFailure handler: the stopped run's manifest, and its lock given back.
    const event = transformed(target.InputTransformer.InputTemplate, { name: 'run-stopped', status: 'ABORTED' });
    expect(event).toEqual({
      runId: 'run-stopped',
      error: { Error: 'ExecutionABORTED', Cause: 'the execution ended ABORTED before its last step' },
    });
    const dataDir = await mkdtemp(join(tmpdir(), 'splitwatch-stopped-'));
    const adapters = await openLocalAdapters({ dataDir, results: { kind: 'pglite' } });
    try {
      await acquireRunLock(adapters.objectStore, 'run-stopped');
      const handler = TASK_HANDLERS.RecordFailure({ adapters: async () => adapters, logger: () => undefined }) as unknown as (
        e: unknown,
        c: unknown,
      ) => Promise<unknown>;
      await handler(event, { getRemainingTimeInMillis: () => 60_000, functionName: 'recordFailure', awsRequestId: 'r' });
      expect(JSON.parse(await adapters.objectStore.getText('runs/run-stopped/manifest.json'))).toMatchObject({
        status: 'FAILED',
        failure: { error: 'ExecutionABORTED' },
      });
      expect(await adapters.objectStore.exists(RUN_LOCK_KEY)).toBe(false);
    } finally {
      await adapters.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('alarms on failed and timed-out executions to the stage alarm topic', () => {
    const alarms = Object.keys(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).map(
      (id) => props(template, id) as unknown as AlarmProps,
    );

    expect(alarms.map((a) => a.MetricName).sort()).toEqual(['ExecutionsFailed', 'ExecutionsTimedOut']);
    for (const alarm of alarms) {
      expect(alarm.Namespace).toBe('AWS/States');
      expect(alarm.Dimensions).toEqual([{ Name: 'StateMachineArn', Value: { Ref: 'PipelineStateMachine' } }]);
      expect(alarm.AlarmActions).toEqual([
        { 'Fn::Sub': 'arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:splitwatch-dev-alarms' },
      ]);
    }
  });
});

describe('apps/pipeline packaged for prod', () => {
  let packaged: PackagedService;

  beforeAll(async () => {
    packaged = await slsPackage('pipeline', { stage: 'prod' });
  }, PACKAGE_TIMEOUT_MS);

  afterAll(() => packaged?.dispose());

  it('enables the schedule and sends the prod detection overrides', () => {
    const rule = scheduleRule(packaged.template);

    expect(rule.State).toBe('ENABLED');
    expect(JSON.parse(rule.Targets[0].Input)).toEqual({ sources: ['raw/'], config: stageConfig('prod') });
  });

  it('imports the prod exports, never the dev ones', () => {
    const body = JSON.stringify(stateMachine(packaged.template).DefinitionString);

    expect(body).toContain('splitwatch-prod-IngestFunctionArn');
    expect(body).not.toContain('splitwatch-dev-');
  });
});
