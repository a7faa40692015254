import {
  grants,
  listedPrefixes,
  roleStatements,
  slsPackage,
  type IamStatement,
  type PackagedService,
} from './helpers/sls-package';

const PACKAGE_TIMEOUT_MS = 120_000;
const GLUE_TABLES = 'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/splitwatch_dev/';

describe('apps/feature-builder packaged (stage dev)', () => {
  let packaged: PackagedService;
  let role: IamStatement[];

  beforeAll(async () => {
    packaged = await slsPackage('feature-builder', { stage: 'dev' });
    role = roleStatements(packaged.template, 'IamRoleLambdaExecution');
  }, PACKAGE_TIMEOUT_MS);

  afterAll(() => packaged?.dispose());

  it('grants S3 object actions only on what BuildFeatures reads and writes, incremental builds included', () => {
    expect(grants(role, /^s3:(Get|Put|Delete)Object$/)).toEqual({
      's3:GetObject': [
        'athena-results/*',
        'curated/transactions/*',
        'features/state.json',
        'features/windows/*',
        'staging/run=*/features/*',
      ],
      's3:PutObject': [
        'athena-results/*',
        // The users an incremental build recomputed, for Detect (a full build clears them).
        'features/changes/*',
        'features/state.json',
        'features/windows/*',
        'runs/*',
        'staging/run=*/features/*',
      ],
      's3:DeleteObject': ['features/changes/*', 'features/state.json', 'features/windows/*', 'staging/run=*/features/*'],
    });
  });

  it('lists only its own prefixes of the bucket', () => {
    expect(listedPrefixes(role)).toEqual([
      'curated/transactions/*',
      'features/state.json',
      'features/windows/*',
      'features/changes/*',
      'staging/run=*/features/*',
      'athena-results/*',
    ]);
  });

  it('creates and drops only its per-run tables of recomputed users in the Glue catalog', () => {
    const tables = grants(role, /^glue:(CreateTable|DeleteTable|UpdateTable)$/);
    expect(Object.keys(tables).sort()).toEqual(['glue:CreateTable', 'glue:DeleteTable']);
    for (const resources of Object.values(tables)) {
      expect(resources.filter((r) => r.includes(':table/'))).toEqual([`${GLUE_TABLES}features_users_*`]);
    }
  });
});
