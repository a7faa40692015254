import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { parse } from 'yaml';
import { allStates, importedName, loadAsl } from './helpers/asl';
import { loadInIsolation } from './helpers/isolated-lambda';
import { appDir, WORKSPACE_ROOT } from './helpers/sls-package';

// Static checks over every service definition: the conventions each team's serverless.yml must keep, and the
// names that tie the stacks together (platform -> function services -> pipeline, serverless-compose.yml).
// Packaging every service would take half a minute; these run in a second or two.

const FUNCTION_SERVICES = ['ingest', 'feature-builder', 'detectors', 'sink', 'reporting'];
const LOCAL_ONLY = ['@duckdb/node-api', '@electric-sql/pglite', 'pg-native'];

interface EsbuildCustom {
  bundle: boolean;
  minify: boolean;
  sourcemap: boolean;
  target: string;
  platform: 'node';
  format: 'cjs';
  tsconfig: string;
  exclude: string[];
  external: string[];
}

interface ServiceYaml {
  service: string;
  frameworkVersion: string;
  params: { default: Record<string, unknown> } & Record<string, Record<string, unknown>>;
  provider: Record<string, unknown>;
  package?: { individually?: boolean };
  plugins?: string[];
  custom?: { esbuild?: EsbuildCustom; names?: Record<string, string> };
  functions?: Record<string, { handler: string }>;
}

const readYaml = <T>(path: string): T => parse(readFileSync(path, 'utf8')) as T;
const service = (app: string) => readYaml<ServiceYaml>(join(appDir(app), 'serverless.yml'));

/** Export names of a function service's outputs.yml (with `${sls:stage}` left in). */
function exportedNames(app: string): string[] {
  const outputs = readYaml<{ Outputs: Record<string, { Export?: { Name: string } }> }>(
    join(appDir(app), 'resources', 'outputs.yml'),
  ).Outputs;
  // Outputs without an export (the sink's RedshiftCopyRoleArn, for the operator) tie no stacks together.
  return Object.values(outputs).flatMap((o) => (o.Export ? [o.Export.Name] : []));
}

describe.each(FUNCTION_SERVICES)('apps/%s/serverless.yml', (app) => {
  const yml = service(app);

  it('targets nodejs22.x on arm64 with the stage and region from the command line', () => {
    expect(yml.frameworkVersion).toBe('4');
    expect(yml.provider).toEqual(
      expect.objectContaining({
        name: 'aws',
        runtime: 'nodejs22.x',
        architecture: 'arm64',
        stage: "${opt:stage, 'dev'}",
        region: "${opt:region, 'us-east-1'}",
        logRetentionInDays: '${param:logRetentionInDays}',
      }),
    );
  });

  it('bundles each function with serverless-esbuild and never bundles or ships the local-only adapters', () => {
    expect(yml.package?.individually).toBe(true);
    expect(yml.plugins).toEqual(['serverless-esbuild']);
    expect(yml.custom?.esbuild).toEqual(
      expect.objectContaining({
        bundle: true,
        minify: false,
        sourcemap: true,
        target: 'node22',
        platform: 'node',
        format: 'cjs',
        tsconfig: '../../tsconfig.base.json',
      }),
    );
    expect(yml.custom?.esbuild?.exclude).toEqual(expect.arrayContaining(LOCAL_ONLY));
    expect(yml.custom?.esbuild?.external).toEqual(yml.custom?.esbuild?.exclude);
  });

  it('points every function at an existing handler file', () => {
    for (const fn of Object.values(yml.functions ?? {})) {
      const file = fn.handler.replace(/\.[^.]+$/, '.ts');
      expect(existsSync(join(appDir(app), file))).toBe(true);
    }
  });

  it('sets the same environment as every other function service', () => {
    const env = (a: string) => readFileSync(join(appDir(a), 'resources', 'environment.yml'), 'utf8');

    expect(env(app)).toBe(env('ingest'));
  });

  it('defaults its platform params to the names apps/platform gives its resources', () => {
    const names = service('platform').custom!.names!;
    const defaults = yml.params.default;

    expect(defaults.dataBucket).toBe(names.dataBucket);
    expect(defaults.athenaWorkgroup).toBe(names.athenaWorkgroup);
    expect(defaults.glueDatabase).toBe(names.glueDatabase);
    expect(String(defaults.alarmTopicArn)).toMatch(
      new RegExp(`:${names.alarmTopic.replaceAll('$', '\\$')}$`),
    );
    expect(defaults.dataKeyArn).toEqual({ 'Fn::ImportValue': 'splitwatch-${sls:stage}-DataKeyArn' });
  });
});

describe('the names that tie the stacks together', () => {
  it('exports exactly the function ARNs the pipeline definition imports, each from one service', () => {
    const exported = FUNCTION_SERVICES.flatMap(exportedNames);
    const imported = allStates(loadAsl('${sls:stage}').States)
      .map(([, s]) => importedName(s.Resource))
      .filter((n): n is string => n !== undefined);

    expect(new Set(exported).size).toBe(exported.length);
    expect([...exported].sort()).toEqual([...new Set(imported)].sort());
  });

  it('lists every service in serverless-compose.yml, the pipeline after all function services', () => {
    const compose = readYaml<{
      services: Record<string, { path: string; dependsOn?: string[]; params?: Record<string, string> }>;
    }>(join(WORKSPACE_ROOT, 'serverless-compose.yml')).services;

    expect(
      Object.values(compose)
        .map((s) => basename(s.path))
        .sort(),
    ).toEqual([...FUNCTION_SERVICES, 'pipeline', 'platform'].sort());
    expect([...(compose.pipeline.dependsOn ?? [])].sort()).toEqual([...FUNCTION_SERVICES].sort());
    // A compose param a service does not declare would be silently ignored by it: catch the typo here.
    for (const [name, s] of Object.entries(compose)) {
      const declared = Object.keys(service(basename(s.path)).params?.default ?? {});
      expect({ name, params: Object.keys(s.params ?? {}).filter((p) => !declared.includes(p)) }).toEqual({
        name,
        params: [],
      });
    }
  });
});

describe('handler bundles built with each service’s esbuild settings', () => {
  const FAKE_AWS_ENV = {
    SPLITWATCH_MODE: 'aws',
    DATA_BUCKET: 'splitwatch-test-data-123456789012-us-east-1',
    DATA_KMS_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000',
    ATHENA_DATABASE: 'splitwatch_test',
    ATHENA_WORKGROUP: 'splitwatch-test',
    ATHENA_OUTPUT_LOCATION: 's3://splitwatch-test-data-123456789012-us-east-1/athena-results/',
    ATHENA_MANAGED_TABLES: 'transactions,features,feature_changes',
    REDSHIFT_DATABASE: 'dev',
    REDSHIFT_WORKGROUP: 'splitwatch',
    AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
    NODE_OPTIONS: '--enable-source-maps',
    AWS_REGION: 'us-east-1',
  };

  const handlers = FUNCTION_SERVICES.flatMap((app) =>
    Object.entries(service(app).functions ?? {}).map(([name, fn]) => ({ app, name, handler: fn.handler })),
  );

  it.each(handlers)(
    '$app/$name loads with nothing but its bundle and the AWS-mode environment',
    async ({ app, name, handler }) => {
      const options = service(app).custom!.esbuild!;
      const entry = handler.replace(/\.[^.]+$/, '.ts');
      const settings: BuildOptions = {
        absWorkingDir: appDir(app),
        entryPoints: [entry],
        outdir: join(appDir(app), '.esbuild-test'),
        write: false,
        bundle: options.bundle,
        minify: options.minify,
        sourcemap: options.sourcemap,
        target: options.target,
        platform: options.platform,
        format: options.format,
        tsconfig: options.tsconfig,
        external: [...new Set([...options.exclude, ...options.external])],
        logLevel: 'silent',
      };

      const result = await build(settings);
      const files = new Map(
        (result.outputFiles ?? []).map((f) => [`src/${basename(f.path)}`, Buffer.from(f.contents)]),
      );
      const js = `src/${basename(entry, '.ts')}.js`;
      // An event without sources or runId is rejected before any AWS call, which exercises the bundled middy
      // chain and use-case. recordFailure accepts any event (the caught error) and would go on to S3: only load it.
      const event = name === 'recordFailure' ? undefined : {};
      const loaded = await loadInIsolation(files, js, FAKE_AWS_ENV, event);

      expect(loaded.exports).toContain('handler');
      if (event !== undefined) expect(loaded.error?.name).toBe('InvalidEventError');
    },
  );
});
