import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const WORKSPACE_ROOT = join(__dirname, '..', '..', '..', '..');
export const appDir = (app: string) => join(WORKSPACE_ROOT, 'apps', app);

/** The parts of a CloudFormation template the tests read. */
export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
  DeletionPolicy?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
  Conditions?: Record<string, unknown>;
}

export interface PackagedService {
  /** `cloudformation-template-update-stack.json`, parsed. */
  template: CfnTemplate;
  /** Absolute paths of the function zips. */
  zips: string[];
  /** The CLI's output, for failure messages. */
  log: string;
  dispose(): Promise<void>;
}

/**
 * An environment with no way to reach AWS credentials: packaging must work on a laptop or CI runner that
 * has none (variables such as ${aws:accountId}, ${ssm:…}, ${cf:…} would fail here, as they should).
 */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  return {
    ...env,
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_EC2_METADATA_DISABLED: 'true',
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
  };
}

/**
 * Runs `serverless package` for one app into a temporary directory (the way serverless-step-functions tests
 * its plugin: package, then assert on the generated CloudFormation), offline and without credentials.
 */
export async function slsPackage(app: string, options: { stage?: string } = {}): Promise<PackagedService> {
  const out = await mkdtemp(join(tmpdir(), `splitwatch-package-${app}-`));
  const cli = require.resolve('serverless/bin/serverless.js', { paths: [WORKSPACE_ROOT] });
  const args = [cli, 'package', '--stage', options.stage ?? 'dev', '--package', out];
  let log: string;
  try {
    const { stdout, stderr } = await run(process.execPath, args, {
      cwd: appDir(app),
      env: offlineEnv(),
      timeout: 110_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    log = stdout + stderr;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    await rm(out, { recursive: true, force: true });
    throw new Error(
      `serverless package failed for apps/${app}:\n${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`,
    );
  }
  const template = JSON.parse(
    await readFile(join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as CfnTemplate;
  const zips = (await readdir(out)).filter((f) => f.endsWith('.zip')).map((f) => join(out, f));
  return { template, zips, log, dispose: () => rm(out, { recursive: true, force: true }) };
}

/** Resources of one CloudFormation type, by logical id. */
export function resourcesOfType(template: CfnTemplate, type: string): Record<string, CfnResource> {
  return Object.fromEntries(Object.entries(template.Resources).filter(([, r]) => r.Type === type));
}

export interface IamStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export const actionsOf = (s: IamStatement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
export const resourcesOf = (s: IamStatement): unknown[] =>
  Array.isArray(s.Resource) ? s.Resource : [s.Resource];

/** The data bucket's ARN on stage dev, as the services' IAM statements write it. */
export const DEV_BUCKET_ARN =
  'arn:${AWS::Partition}:s3:::splitwatch-dev-data-${AWS::AccountId}-${AWS::Region}';

const subOf = (r: unknown) => String((r as { 'Fn::Sub'?: unknown })['Fn::Sub'] ?? JSON.stringify(r));

/**
 * For each action of a role's Allow statements matching `pattern`, the resources it is granted on, sorted (keys of
 * the dev data bucket without the bucket's ARN).
 */
export function grants(statements: IamStatement[], pattern: RegExp): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of statements.filter((x) => x.Effect === 'Allow')) {
    for (const action of actionsOf(s).filter((a) => pattern.test(a))) {
      for (const r of resourcesOf(s)) (out[action] ??= []).push(subOf(r).replace(`${DEV_BUCKET_ARN}/`, ''));
    }
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

/**
 * The key prefixes a role may list (`s3:prefix` patterns of its Allow s3:ListBucket statements, in order); throws
 * when one of those statements lets it list the whole bucket.
 */
export function listedPrefixes(statements: IamStatement[]): string[] {
  return statements
    .filter((s) => s.Effect === 'Allow' && actionsOf(s).includes('s3:ListBucket'))
    .flatMap((s) => {
      const prefixes = s.Condition?.StringLike?.['s3:prefix'];
      if (!Array.isArray(prefixes)) throw new Error(`s3:ListBucket without an s3:prefix condition: ${JSON.stringify(s)}`);
      return prefixes as string[];
    });
}

/** Every statement of the inline policies of an AWS::IAM::Role. */
export function roleStatements(template: CfnTemplate, logicalId: string): IamStatement[] {
  const role = template.Resources[logicalId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${logicalId} is not an AWS::IAM::Role`);
  const policies = (role.Properties?.Policies ?? []) as { PolicyDocument: { Statement: IamStatement[] } }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

/** Properties of a resource, typed loosely for assertions. */
export function props(template: CfnTemplate, logicalId: string): Record<string, unknown> {
  const r = template.Resources[logicalId];
  if (!r) throw new Error(`No resource ${logicalId} in the template`);
  return r.Properties ?? {};
}
