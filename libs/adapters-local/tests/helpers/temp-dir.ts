import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh directory under the OS temp folder; remove it with {@link removeTempDir}. */
export function makeTempDir(label: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `splitwatch-${label}-`));
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
