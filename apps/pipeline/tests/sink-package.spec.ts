import { readAwsAdaptersConfig } from '@splitwatch/adapters-aws';
import { resolveEnvironment, resolveValue } from './helpers/cfn-resolve';
import { loadInIsolation } from './helpers/isolated-lambda';
import {
  actionsOf,
  listedPrefixes,
  props,
  resourcesOf,
  resourcesOfType,
  roleStatements,
  slsPackage,
  type CfnTemplate,
  type IamStatement,
  type PackagedService,
} from './helpers/sls-package';
import { readZip } from './helpers/zip';

const PACKAGE_TIMEOUT_MS = 120_000;

const BUCKET = 'splitwatch-dev-data-${AWS::AccountId}-${AWS::Region}';
/** An object ARN of the data bucket: a prefix (`alerts/*`, kept as `alerts/`) or one key pattern. */
const OBJECT_ARN =
  /^arn:\$\{AWS::Partition\}:s3:::([^/]+)\/(?:([a-z][a-z/=-]*\/)\*|([a-z][a-z*/=.-]*[a-z]))$/;
const WORKGROUP_ARN =
  /^arn:\$\{AWS::Partition\}:redshift-serverless:\$\{AWS::Region\}:\$\{AWS::AccountId\}:workgroup\/[^/]+$/;
// The Data API actions that take no resource: AWS requires Resource "*" for them.
const RESOURCELESS_DATA_API = [
  'redshift-data:DescribeStatement',
  'redshift-data:GetStatementResult',
  'redshift-data:CancelStatement',
];

const ENV_KEYS = [
  'SPLITWATCH_MODE',
  'DATA_BUCKET',
  'DATA_KMS_KEY_ID',
  'ATHENA_DATABASE',
  'ATHENA_WORKGROUP',
  'ATHENA_OUTPUT_LOCATION',
  'ATHENA_MANAGED_TABLES',
  'REDSHIFT_DATABASE',
  'REDSHIFT_WORKGROUP',
  'AWS_NODEJS_CONNECTION_REUSE_ENABLED',
  'NODE_OPTIONS',
];

interface FunctionProps {
  Handler: string;
  Runtime: string;
  Architectures: string[];
  Role: unknown;
  Environment: { Variables: Record<string, unknown> };
}

const fn = (t: CfnTemplate, id: string) => props(t, id) as unknown as FunctionProps;
const subOf = (r: unknown) => (r as { 'Fn::Sub'?: unknown })['Fn::Sub'];

/** For each S3 object action of a role, the key prefixes it is granted on (e.g. `{ 's3:GetObject': ['alerts/'] }`). */
function s3ObjectGrants(statements: IamStatement[]): Record<string, string[]> {
  const grants: Record<string, string[]> = {};
  for (const s of statements.filter((x) => x.Effect === 'Allow')) {
    for (const action of actionsOf(s).filter((a) => /^s3:(Get|Put|Delete)Object$/.test(a))) {
      for (const r of resourcesOf(s)) {
        const match = OBJECT_ARN.exec(String(subOf(r)));
        if (!match || match[1] !== BUCKET)
          throw new Error(`${action} on ${JSON.stringify(r)}: not a prefix of the data bucket`);
        (grants[action] ??= []).push(match[2] ?? match[3]);
      }
    }
  }
  return grants;
}

describe('apps/sink packaged (stage dev)', () => {
  let packaged: PackagedService;
  let template: CfnTemplate;
  let sinkRole: IamStatement[];
  let recordFailureRole: IamStatement[];

  beforeAll(async () => {
    packaged = await slsPackage('sink', { stage: 'dev' });
    template = packaged.template;
    sinkRole = roleStatements(template, 'IamRoleLambdaExecution');
    recordFailureRole = roleStatements(template, 'RecordFailureRole');
  }, PACKAGE_TIMEOUT_MS);

  afterAll(() => packaged?.dispose());

  it('exports both function ARNs under the names the pipeline imports', () => {
    expect(template.Outputs?.SinkFunctionArn).toEqual(
      expect.objectContaining({
        Value: { 'Fn::GetAtt': ['SinkLambdaFunction', 'Arn'] },
        Export: { Name: 'splitwatch-dev-SinkFunctionArn' },
      }),
    );
    expect(template.Outputs?.RecordFailureFunctionArn).toEqual(
      expect.objectContaining({
        Value: { 'Fn::GetAtt': ['RecordFailureLambdaFunction', 'Arn'] },
        Export: { Name: 'splitwatch-dev-RecordFailureFunctionArn' },
      }),
    );
  });

  it('runs both functions on nodejs22.x arm64, recordFailure under its own role', () => {
    for (const id of ['SinkLambdaFunction', 'RecordFailureLambdaFunction']) {
      expect(fn(template, id).Runtime).toBe('nodejs22.x');
      expect(fn(template, id).Architectures).toEqual(['arm64']);
    }
    expect(fn(template, 'SinkLambdaFunction').Role).toEqual({
      'Fn::GetAtt': ['IamRoleLambdaExecution', 'Arn'],
    });
    expect(fn(template, 'RecordFailureLambdaFunction').Role).toEqual({
      'Fn::GetAtt': ['RecordFailureRole', 'Arn'],
    });
  });

  it('sets the AWS-mode environment, which the handlers’ own configuration check accepts', () => {
    for (const id of ['SinkLambdaFunction', 'RecordFailureLambdaFunction']) {
      const env = resolveEnvironment(fn(template, id).Environment.Variables);
      // The sink's own: the role Redshift's COPY reads staged alerts with, off ('') until the param is set.
      const own = id === 'SinkLambdaFunction' ? ['REDSHIFT_COPY_ROLE'] : [];

      expect(Object.keys(env).sort()).toEqual([...ENV_KEYS, ...own].sort());
      if (own.length) expect(env.REDSHIFT_COPY_ROLE).toBe('');
      expect(env).toEqual(
        expect.objectContaining({
          SPLITWATCH_MODE: 'aws',
          DATA_BUCKET: 'splitwatch-dev-data-123456789012-us-east-1',
          ATHENA_OUTPUT_LOCATION: 's3://splitwatch-dev-data-123456789012-us-east-1/athena-results/',
          ATHENA_MANAGED_TABLES: 'transactions,features,feature_changes',
        }),
      );
      expect(() => readAwsAdaptersConfig(env)).not.toThrow();
    }
  });

  it('grants "*" only for the Data API actions that take no resource, limited to the role’s own statements', () => {
    for (const s of [...sinkRole, ...recordFailureRole]) {
      if (!resourcesOf(s).includes('*')) continue;
      expect(actionsOf(s).every((a) => RESOURCELESS_DATA_API.includes(a))).toBe(true);
      expect(s.Condition?.StringEquals?.['redshift-data:statement-owner-iam-userid']).toEqual({
        'Fn::Sub': '${!aws:userid}',
      });
    }
  });

  it('scopes S3 to key prefixes of the data bucket: the sink reads alerts and writes the audit trail', () => {
    // It also reads the previous run's sink record (how many alerts it left in the store).
    // And stages a large upsert's alerts for Redshift's COPY under staging/sink/, deleting them after the load.
    expect(s3ObjectGrants(sinkRole)).toEqual({
      's3:GetObject': ['alerts/', 'runs/*/steps/sink.json'],
      's3:PutObject': ['runs/', 'staging/sink/'],
      's3:DeleteObject': ['staging/sink/'],
    });
    // A failed run's recordFailure gives the run lock back.
    expect(s3ObjectGrants(recordFailureRole)).toEqual({
      's3:GetObject': ['runs/'],
      's3:PutObject': ['runs/'],
      's3:DeleteObject': ['runs/lock.json'],
    });
  });

  it('makes a role only Redshift can assume, which reads only the staged alerts (bulk load), and outputs its ARN', () => {
    const role = template.Resources.RedshiftCopyRole as unknown as {
      Properties: { AssumeRolePolicyDocument: { Statement: { Principal: { Service: string[] } }[] } };
    };
    const statements = roleStatements(template, 'RedshiftCopyRole');

    expect(role.Properties.AssumeRolePolicyDocument.Statement.map((s) => s.Principal.Service)).toEqual([
      ['redshift.amazonaws.com', 'redshift-serverless.amazonaws.com'],
    ]);
    expect(s3ObjectGrants(statements)).toEqual({ 's3:GetObject': ['staging/sink/'] });
    expect(listedPrefixes(statements)).toEqual(['staging/sink/*']);
    expect(statements.flatMap(actionsOf).sort()).toEqual(['kms:Decrypt', 's3:GetObject', 's3:ListBucket']);
    expect(template.Outputs?.RedshiftCopyRoleArn).toEqual(
      expect.objectContaining({ Value: { 'Fn::GetAtt': ['RedshiftCopyRole', 'Arn'] } }),
    );
  });

  it('lets the sink list only alerts/ (it finds the run’s alert parts by listing) and recordFailure only runs/', () => {
    expect(listedPrefixes(sinkRole)).toEqual(['alerts/*', 'runs/*/steps/sink.json']);
    expect(listedPrefixes(recordFailureRole)).toEqual(['runs/*']);
  });

  it('scopes the Redshift statements and credentials to the workgroup, for the sink only', () => {
    const redshift = sinkRole.filter((s) =>
      actionsOf(s).some((a) =>
        [
          'redshift-data:ExecuteStatement',
          'redshift-data:BatchExecuteStatement',
          'redshift-serverless:GetCredentials',
        ].includes(a),
      ),
    );

    expect(redshift.flatMap(actionsOf).sort()).toEqual([
      'redshift-data:BatchExecuteStatement',
      'redshift-data:ExecuteStatement',
      'redshift-serverless:GetCredentials',
    ]);
    for (const s of redshift) for (const r of resourcesOf(s)) expect(String(subOf(r))).toMatch(WORKGROUP_ARN);
    expect(recordFailureRole.flatMap(actionsOf).filter((a) => a.startsWith('redshift'))).toEqual([]);
  });

  it('lets both roles use the data key only through S3', () => {
    for (const statements of [sinkRole, recordFailureRole]) {
      const kms = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')));

      expect(kms).toHaveLength(1);
      expect(resourcesOf(kms[0]).map(resolveValue)).toEqual([expect.stringMatching(/^arn:aws:kms:.*:key\//)]);
      expect(kms[0].Condition?.StringEquals?.['kms:ViaService']).toEqual([
        { 'Fn::Sub': 's3.${AWS::Region}.amazonaws.com' },
      ]);
    }
  });

  it('alarms on errors of each function and keeps their logs for a bounded time', () => {
    const alarmed = Object.keys(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).map((id) =>
      props(template, id),
    );

    expect(alarmed.map((a) => a.MetricName)).toEqual(['Errors', 'Errors']);
    expect(alarmed.map((a) => a.Dimensions)).toEqual([
      [{ Name: 'FunctionName', Value: { Ref: 'SinkLambdaFunction' } }],
      [{ Name: 'FunctionName', Value: { Ref: 'RecordFailureLambdaFunction' } }],
    ]);
    for (const id of ['SinkLogGroup', 'RecordFailureLogGroup'])
      expect(props(template, id).RetentionInDays).toBeGreaterThan(0);
  });

  it('ships each handler as one bundle with its source map and no node_modules', async () => {
    const names = packaged.zips.map((z) => z.split('/').pop()).sort();
    expect(names).toEqual(['recordFailure.zip', 'sink.zip']);

    const sink = await readZip(packaged.zips.find((z) => z.endsWith('/sink.zip'))!);
    expect([...sink.keys()].sort()).toEqual(['src/sink.handler.js', 'src/sink.handler.js.map']);
  });

  it('loads the sink bundle with nothing but its zip and the function environment, as Lambda would', async () => {
    const files = await readZip(packaged.zips.find((z) => z.endsWith('/sink.zip'))!);
    const env = {
      ...resolveEnvironment(fn(template, 'SinkLambdaFunction').Environment.Variables),
      AWS_REGION: 'us-east-1',
    };

    // An event without a runId is rejected before any AWS call: the bundled middy chain and use-case run.
    const result = await loadInIsolation(files, 'src/sink.handler.js', env, {});

    expect(result.exports).toContain('handler');
    expect(result.error?.name).toBe('InvalidEventError');
  });
});
