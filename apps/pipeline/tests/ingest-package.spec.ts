import {
  grants,
  listedPrefixes,
  roleStatements,
  slsPackage,
  type IamStatement,
  type PackagedService,
} from './helpers/sls-package';

const PACKAGE_TIMEOUT_MS = 120_000;

describe('apps/ingest packaged (stage dev)', () => {
  let packaged: PackagedService;
  let role: IamStatement[];

  beforeAll(async () => {
    packaged = await slsPackage('ingest', { stage: 'dev' });
    role = roleStatements(packaged.template, 'IamRoleLambdaExecution');
  }, PACKAGE_TIMEOUT_MS);

  afterAll(() => packaged?.dispose());

  it('grants S3 object actions only on what Ingest reads and writes: source states and extra columns included', () => {
    expect(grants(role, /^s3:(Get|Put|Delete)Object$/)).toEqual({
      's3:GetObject': [
        'athena-results/*',
        'curated/sources/*',
        'curated/transactions/*',
        'raw/*',
        'runs/*/manifest.json',
        'runs/lock.json',
        'staging/*',
      ],
      's3:PutObject': [
        'athena-results/*',
        'curated/sources/*',
        'curated/transactions/*',
        'extras/*',
        'quarantine/*',
        'runs/*',
        'staging/*',
      ],
      // Never raw/: ingest does not remove its input. The run lock: taken over from a run that ended holding it.
      's3:DeleteObject': ['curated/sources/*', 'curated/transactions/*', 'runs/lock.json', 'staging/*'],
    });
  });

  it('lists only its own prefixes, the source states among them (read only after they are listed)', () => {
    expect(listedPrefixes(role)).toEqual([
      'raw/*',
      'staging/*',
      'curated/transactions/*',
      'curated/sources/*',
      'extras/*',
      'athena-results/*',
      'runs/lock.json',
      'runs/*/manifest.json',
    ]);
  });
});
