import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ObjectNotFoundError, SplitwatchError, type ObjectInfo, type ObjectStore } from '@splitwatch/core';
import { keyToPath, pathToKey, prefixToDir, resolveRoot, tempPathFor, walkFiles } from './local-keys';

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

const NOT_FOUND_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

/**
 * Object store over a local directory with the same key layout as the S3 bucket:
 * key `a/b/c.parquet` is the file `<root>/a/b/c.parquet`.
 *
 * Writes are atomic for readers (temp file beside the target, then rename), so a crash or a concurrent reader never
 * sees half an object. Content types are accepted for parity with S3 and ignored.
 *
 * @example
 * const store = new LocalObjectStore({ root: '.splitwatch' });
 * await store.putText('runs/r1/manifest.json', '{}');
 */
export class LocalObjectStore implements ObjectStore {
  readonly location: string;
  private readonly root: string;

  constructor(options: { root: string }) {
    this.root = resolveRoot(options.root);
    this.location = this.root;
  }

  /** Absolute local path of `key` (for engines that read files directly); rejects keys that escape the root. */
  localPathOf(key: string): string {
    return keyToPath(this.root, key);
  }

  async getText(key: string): Promise<string> {
    return Buffer.from(await this.getBytes(key)).toString('utf8');
  }

  async getBytes(key: string): Promise<Uint8Array> {
    const file = this.localPathOf(key);
    try {
      return new Uint8Array(await fsp.readFile(file));
    } catch (error) {
      throw this.mapReadError(error, key, file);
    }
  }

  async getStream(key: string): Promise<Readable> {
    const file = this.localPathOf(key);
    // Opening first makes a missing key fail here, not later as a stream 'error' event.
    let handle;
    try {
      handle = await fsp.open(file, 'r');
      const stat = await handle.stat();
      if (!stat.isFile()) throw Object.assign(new Error(`${file} is not a file`), { code: 'EISDIR' });
    } catch (error) {
      await handle?.close();
      throw this.mapReadError(error, key, file);
    }
    return createReadStream(file, { fd: handle });
  }

  async putText(key: string, body: string, contentType?: string): Promise<void> {
    await this.putBytes(key, Buffer.from(body, 'utf8'), contentType);
  }

  /** Written beside the file, then hard-linked into place: link(2) fails when the name exists, so one writer wins. */
  async putTextIfAbsent(key: string, body: string, _contentType?: string): Promise<boolean> {
    const file = this.localPathOf(key);
    let created = false;
    await this.writeAtomically(key, file, async (tmp) => {
      await fsp.writeFile(tmp, body, { flag: 'wx' });
      try {
        await fsp.link(tmp, file);
        created = true;
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw error;
      }
    }, false);
    return created;
  }

  async putBytes(key: string, body: Uint8Array, _contentType?: string): Promise<void> {
    const file = this.localPathOf(key);
    await this.writeAtomically(key, file, (tmp) => fsp.writeFile(tmp, body, { flag: 'wx' }));
  }

  async putFile(
    key: string,
    localPath: string,
    _contentType?: string,
    options?: { move?: boolean },
  ): Promise<void> {
    const file = this.localPathOf(key);
    await this.writeAtomically(key, file, async (tmp) => {
      try {
        if (options?.move) {
          try {
            await fsp.rename(localPath, tmp); // same file system: no copy
            return;
          } catch (error) {
            if (errnoCode(error) !== 'EXDEV') throw error;
          }
        }
        await fsp.copyFile(localPath, tmp);
      } catch (error) {
        throw new SplitwatchError(
          `Cannot upload local file ${localPath} as ${key}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    });
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await fsp.stat(this.localPathOf(key))).isFile();
    } catch (error) {
      if (NOT_FOUND_CODES.has(errnoCode(error) ?? '')) return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const dir = prefixToDir(this.root, prefix);
    const found: ObjectInfo[] = [];
    for await (const { file, size, version } of walkFiles(dir, this.root)) {
      const key = pathToKey(this.root, file);
      // Every write lands as a new file renamed into place: a new inode and modification time.
      if (key.startsWith(prefix)) found.push({ key, size, version });
    }
    // Plain code-unit order, as S3 lists keys (the walk's per-directory order differs around "/").
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    const from = this.localPathOf(fromKey);
    const to = this.localPathOf(toKey);
    await this.writeAtomically(toKey, to, async (tmp) => {
      try {
        await fsp.copyFile(from, tmp);
      } catch (error) {
        throw this.mapReadError(error, fromKey, from);
      }
    });
  }

  async delete(keys: string[]): Promise<void> {
    const files = keys.map((key) => this.localPathOf(key)); // validate all before deleting any
    const folders = new Set<string>();
    for (const file of files) {
      try {
        // A directory is not an object, so deleting its "key" is a no-op, as in S3.
        if ((await fsp.lstat(file)).isDirectory()) continue;
        await fsp.unlink(file);
        folders.add(path.dirname(file));
      } catch (error) {
        if (!NOT_FOUND_CODES.has(errnoCode(error) ?? '')) throw error;
      }
    }
    // S3 has no folders: once its last object is gone, a prefix is gone. Deepest first, up to (never) the root.
    for (const folder of [...folders].sort((a, b) => b.length - a.length))
      await this.removeEmptyFolders(folder);
  }

  /** Removes `folder` and its ancestors below the root while they are empty; stops at the first that is not. */
  private async removeEmptyFolders(folder: string): Promise<void> {
    for (let dir = folder; dir.startsWith(this.root + path.sep); dir = path.dirname(dir)) {
      try {
        await fsp.rmdir(dir);
      } catch {
        return; // not empty (or already gone, or in use): its ancestors are not empty either
      }
    }
  }

  private async writeAtomically(
    key: string,
    file: string,
    write: (tmp: string) => Promise<void>,
    /** false: `write` puts the file in place itself (the temporary one is removed afterwards). */
    renameIntoPlace = true,
  ): Promise<void> {
    try {
      await fsp.mkdir(path.dirname(file), { recursive: true });
    } catch (error) {
      throw new SplitwatchError(
        `Cannot create the folder for ${key} (${path.dirname(file)}): ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const tmp = tempPathFor(file);
    try {
      try {
        await write(tmp);
      } catch (error) {
        // A concurrent delete may have removed the (then empty) folder after it was made: make it again, once.
        if (errnoCode(error) !== 'ENOENT') throw error;
        await fsp.mkdir(path.dirname(file), { recursive: true });
        await write(tmp);
      }
      if (renameIntoPlace) await fsp.rename(tmp, file);
      else await fsp.rm(tmp, { force: true });
    } catch (error) {
      await fsp.rm(tmp, { force: true });
      throw error;
    }
  }

  private mapReadError(error: unknown, key: string, file: string): Error {
    if (NOT_FOUND_CODES.has(errnoCode(error) ?? '')) {
      return new ObjectNotFoundError(`Object ${key} not found in ${this.location} (no file at ${file})`, {
        cause: error,
      });
    }
    return error as Error;
  }
}
