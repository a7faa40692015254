import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '@splitwatch/core';
import { appDir } from './helpers/sls-package';

// The schedule sends config/<stage>.json (else config/default.json) as the execution's `config`; the
// handlers reject unknown keys and wrong types at run time. Catch a typo here, before it is deployed.
describe('per-stage detection overrides (apps/pipeline/config)', () => {
  const dir = join(appDir('pipeline'), 'config');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

  it('has a default plus the dev and prod stages', () => {
    expect(files).toEqual(expect.arrayContaining(['default.json', 'dev.json', 'prod.json']));
  });

  it.each(files)('%s is accepted by resolveConfig', (file) => {
    const override: unknown = JSON.parse(readFileSync(join(dir, file), 'utf8'));

    expect(() => resolveConfig(override)).not.toThrow();
  });
});
