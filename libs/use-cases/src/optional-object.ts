import { ObjectNotFoundError, type ObjectStore } from '@splitwatch/core';

/**
 * Reads a small object that may not exist yet (a state file), or returns undefined. It is listed first instead of
 * read and caught: S3 answers a read of a missing key with 403 AccessDenied, not 404, unless the role may list the
 * bucket there — so each role lists exactly such keys (their IAM `s3:prefix` conditions name them).
 */
export async function getTextIfPresent(store: ObjectStore, key: string): Promise<string | undefined> {
  if (!(await store.list(key)).some((o) => o.key === key)) return undefined;
  try {
    return await store.getText(key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined; // removed since it was listed
    throw error;
  }
}
