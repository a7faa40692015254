import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { SplitwatchError } from '@splitwatch/core';

/** An object key or prefix is not valid for the local directory (escapes the root, absolute, reserved name…). */
export class InvalidObjectKeyError extends SplitwatchError {}

/** Suffix of in-flight files; they never end in `.parquet`/`.csv`, so table globs and listings skip them. */
export const TEMP_SUFFIX = '.splitwatch-tmp';
/** Directory under the root where whole outputs (unloads) are assembled before being moved into place. */
export const TEMP_DIR = '.splitwatch-tmp';

/** Absolute form of a root directory, as used for every path built under it. */
export function resolveRoot(root: string): string {
  if (typeof root !== 'string' || root.trim() === '') {
    throw new InvalidObjectKeyError('The local object store root must be a non-empty directory path');
  }
  return path.resolve(root);
}

function checkSegments(kind: 'key' | 'prefix', value: string, segments: string[]): void {
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new InvalidObjectKeyError(
        `Invalid object ${kind} "${value}": empty, "." and ".." path segments are not allowed (keys must stay inside the root)`,
      );
    }
  }
  if (segments[0] === TEMP_DIR || segments.some((s) => s.endsWith(TEMP_SUFFIX))) {
    throw new InvalidObjectKeyError(
      `Invalid object ${kind} "${value}": names ending in "${TEMP_SUFFIX}" are reserved`,
    );
  }
}

function checkText(kind: 'key' | 'prefix', value: string): void {
  if (typeof value !== 'string') throw new InvalidObjectKeyError(`Object ${kind} must be a string`);
  if (value.startsWith('/') || /^[A-Za-z]:/.test(value)) {
    throw new InvalidObjectKeyError(
      `Invalid object ${kind} "${value}": keys are relative, they must not be absolute`,
    );
  }
  if (value.includes('\\') || value.includes('\0')) {
    throw new InvalidObjectKeyError(
      `Invalid object ${kind} "${value}": backslashes and NUL bytes are not allowed`,
    );
  }
}

function insideRoot(root: string, full: string, kind: 'key' | 'prefix', value: string): string {
  if (full !== root && !full.startsWith(root + path.sep)) {
    throw new InvalidObjectKeyError(
      `Invalid object ${kind} "${value}": it resolves outside the root ${root}`,
    );
  }
  return full;
}

/** Local path of an object key (`a/b/c.parquet` → `<root>/a/b/c.parquet`); rejects keys that escape the root. */
export function keyToPath(root: string, key: string): string {
  checkText('key', key);
  if (key === '' || key.endsWith('/')) {
    throw new InvalidObjectKeyError(
      `Invalid object key "${key}": a key names a file, it cannot be empty or end with "/"`,
    );
  }
  const segments = key.split('/');
  checkSegments('key', key, segments);
  return insideRoot(root, path.join(root, ...segments), 'key', key);
}

/**
 * Splits a listing prefix (S3 semantics: `a/b/` is a folder, `a/b` also matches `a/bc/…` and `a/b.txt`) into the
 * directory to walk and validates it. `''` is the whole store.
 */
export function prefixToDir(root: string, prefix: string): string {
  checkText('prefix', prefix);
  const dirPart = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  const segments = dirPart === '' ? [] : dirPart.slice(0, -1).split('/');
  checkSegments('prefix', prefix, segments);
  const last = prefix.slice(dirPart.length);
  if (last === '..' || last.endsWith(TEMP_SUFFIX)) checkSegments('prefix', prefix, [last]);
  return insideRoot(root, path.join(root, ...segments), 'prefix', prefix);
}

/** Directory of a folder-like prefix (`''` or ending in `/`), for table locations and unload destinations. */
export function folderPrefixToDir(root: string, prefix: string, what: string): string {
  if (prefix !== '' && !prefix.endsWith('/')) {
    throw new InvalidObjectKeyError(
      `Invalid ${what} "${prefix}": it must be a folder prefix ending with "/"`,
    );
  }
  return prefixToDir(root, prefix);
}

/** Key of a path under the root (always `/`-separated). */
export function pathToKey(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}

/** A fresh temp name beside `file`, invisible to listings and table globs. */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}${TEMP_SUFFIX}`);
}

/** True for names the local adapters use while writing. */
export function isTempName(name: string): boolean {
  return name.endsWith(TEMP_SUFFIX);
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Walks `dir` recursively and yields every regular file (following symlinks), skipping in-flight temp files and,
 * when `root` is given, the root's temp directory. A missing directory yields nothing.
 */
export async function* walkFiles(
  dir: string,
  root?: string,
): AsyncGenerator<{ file: string; size: number; version: string }> {
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return;
    throw error;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (isTempName(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (root !== undefined && dir === root && entry.name === TEMP_DIR) continue;
    let stat;
    try {
      stat = await fsp.stat(full);
    } catch (error) {
      if (isMissing(error)) continue; // deleted while walking, or a dangling symlink
      throw error;
    }
    if (stat.isDirectory()) yield* walkFiles(full, root);
    else if (stat.isFile()) yield { file: full, size: stat.size, version: `${stat.size}-${stat.mtimeMs}-${stat.ino}` };
  }
}
