import type { ObjectStore } from '@splitwatch/core';

/**
 * Copies the files an UNLOAD wrote under `fromPrefix` to `toPrefix`, keeping their partition folders
 * (`dt=…/`, `month=…/`) and naming each `<namePrefix>-<file>.parquet`: the name says which source or run wrote it,
 * and Athena's UNLOAD names files without an extension, which keeps the layout uniform across engines.
 * Returns the keys written, in the order of `keys`.
 */
export async function publishUnloaded(
  objectStore: ObjectStore,
  keys: readonly string[],
  fromPrefix: string,
  toPrefix: string,
  namePrefix: string,
): Promise<string[]> {
  const written: string[] = [];
  for (const from of keys) {
    const rel = from.slice(fromPrefix.length); // e.g. dt=YYYY-MM-DD/file
    const cut = rel.lastIndexOf('/');
    const file = rel.slice(cut + 1);
    const to = `${toPrefix}${rel.slice(0, cut + 1)}${namePrefix}-${file}${file.endsWith('.parquet') ? '' : '.parquet'}`;
    await objectStore.copy(from, to);
    written.push(to);
  }
  return written;
}
