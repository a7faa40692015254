import { Command, InvalidArgumentError } from 'commander';
import { demoCommand } from './commands/demo.command';
import { evalCommand } from './commands/eval.command';
import { exportAlertsCommand } from './commands/export.command';
import { queryCommand, sourcesCommand } from './commands/query.command';
import { showAlertsCommand } from './commands/show.command';
import { reportCommand } from './commands/report.command';
import { runCommand } from './commands/run.command';
import { synthCommand } from './commands/synth.command';
import { DEFAULT_DATA_DIR } from './paths';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

function storeOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'local data directory (object store, DuckDB tables, PGlite)', DEFAULT_DATA_DIR)
    .option('--results-store <kind>', 'pglite (embedded, default) or postgres', 'pglite')
    .option('--database-url <url>', 'PostgreSQL connection string when --results-store postgres (or DATABASE_URL)')
    .option('--memory-limit <size>', 'DuckDB memory limit, e.g. 448MB; spills to a temp directory past it (or SPLITWATCH_DUCKDB_MEMORY_LIMIT)');
}

export function buildCli(): Command {
  const program = new Command('splitwatch')
    .description('Detect transaction splitting (fraccionamiento transaccional) in transaction logs, locally or in AWS.')
    .showHelpAfterError();

  storeOptions(
    program
      .command('run')
      .description('run the whole pipeline (the Step Functions ASL, locally) on a CSV/Parquet file or directory')
      .option('--input <path>', 'a .csv, .csv.gz or .parquet file, or a directory of them')
      .option(
        '--withdraw <key...>',
        'remove the curated rows of files ingested before, by their key (e.g. raw/2021-11-02.csv, as the run manifests name them); --input may then be left out',
      )
      .option('--config <file>', 'detection settings (JSON) overriding the defaults')
      .option('--column-map <file>', 'JSON: contract column → its name in your files, e.g. {"_id": "id", "transaction_amount": "amount"}')
      .option(
        '--reingest',
        'read every input file again, even those already ingested from the same content (they are skipped by default)',
      )
      .option('--quiet', 'print only the summary')
      .option(
        '--workers <n>',
        "threads Detect's account slices and ingest's CSV chunks run on (default: one per core, at most 8; 1 = all in the main thread)",
        positiveInt('--workers'),
      ),
  ).action(async (o) => {
    await runCommand(o);
  });

  const alerts = program.command('alerts').description('work with the alerts in the results store');
  storeOptions(
    alerts
      .command('export')
      .description('write the alerts (alert contract columns) to a CSV file')
      .requiredOption('--out <file>', 'CSV file to write')
      .option('--run-id <id>', 'only alerts last written by this run'),
  ).action(async (o) => {
    await exportAlertsCommand(o);
  });

  storeOptions(
    alerts
      .command('show')
      .description('print alerts by id: who, when, how much, every reason on a line, and their member transactions')
      .argument('<alertId...>', 'alert ids (the alert_id column)')
      .option('--format <format>', 'text or json', 'text'),
  ).action(async (ids, o) => {
    await showAlertsCommand(ids, o);
  });

  storeOptions(
    program
      .command('report')
      .description('write the HTML dashboard (alerts by method, merchant, client, hour; top alerts)')
      .requiredOption('--out <dir>', 'directory to write index.html into'),
  ).action(async (o) => {
    await reportCommand(o);
  });

  storeOptions(
    program
      .command('query')
      .description('run SQL over the local lake: tables transactions and features (DuckDB, same names as in Athena)')
      .argument('<sql>', 'the SQL text')
      .option('--format <format>', 'table, csv or json', 'table')
      .option('--limit <n>', 'rows to print', int('--limit'), 1000),
  ).action(async (sql, o) => {
    await queryCommand(sql, o);
  });

  storeOptions(
    program
      .command('sources')
      .description('list the files ingested into the data directory (curated or withdrawn) with their row counts and days')
      .option('--format <format>', 'table, csv or json', 'table'),
  ).action(async (o) => {
    await sourcesCommand(o);
  });

  program
    .command('synth')
    .description('write a labelled synthetic transaction log (transactions.csv, labels.csv, episodes.csv)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--preset <name>', 'tiny, small, default or nequi', 'default')
    .option('--users <n>', 'number of users (overrides the preset)', int('--users'))
    .option('--days <n>', 'number of days (overrides the preset)', int('--days'))
    .option('--seed <n>', 'random seed (same seed, same bytes)', int('--seed'))
    .option('--start-date <date>', 'first day, YYYY-MM-DD')
    .option('--episode-rate <rate>', 'share of users with a split episode', parseFloat)
    .option('--gzip', 'write transactions.csv.gz')
    .action(async (o) => {
      await synthCommand(o);
    });

  storeOptions(
    program
      .command('eval')
      .description('precision and recall of every detector (and the ensemble) against labels.csv of a synthetic world')
      .requiredOption('--labels <file>', 'labels.csv (_id,episode_id,scenario)')
      .option('--run-id <id>', 'only alerts last written by this run')
      .option('--json <file>', 'also write the metrics as JSON')
      .option('--format <format>', 'table or json', 'table'),
  ).action(async (o) => {
    await evalCommand(o);
  });

  program
    .command('demo')
    .description('synthesise a demo world, run the pipeline, export alerts and write the report')
    .option('--data-dir <dir>', 'local data directory', DEFAULT_DATA_DIR)
    .option('--preset <name>', 'synthetic world size', 'default')
    .option('--seed <n>', 'random seed', int('--seed'))
    .action(async (o) => {
      await demoCommand(o);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    const e = err as Error;
    console.error(`splitwatch: ${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}`);
    if (process.env.SPLITWATCH_DEBUG) console.error(e.stack);
    process.exitCode = 1;
  }
}

if (require.main === module) void main(process.argv);
