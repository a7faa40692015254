import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { renderDashboard, type RunManifest, type StepRecord } from '@splitwatch/use-cases';
import { withAdapters, type StoreOptions } from './context';

/** `splitwatch report`: the dashboard from every alert in the results store, with the latest run's steps. */
export async function reportCommand(opts: StoreOptions & { out: string }, log: (s: string) => void = console.log): Promise<string> {
  return withAdapters(opts, async (a) => {
    const store = await a.resultsStore();
    await store.ensureSchema();
    const manifests = (await a.objectStore.list('runs/')).filter((o) => o.key.endsWith('/manifest.json'));
    let steps: StepRecord[] = [];
    let runId: string | null = null;
    if (manifests.length > 0) {
      const latest = JSON.parse(await a.objectStore.getText(manifests[manifests.length - 1].key)) as RunManifest;
      steps = latest.steps;
      runId = latest.runId;
    }
    const { html, summary } = await renderDashboard(
      { objectStore: a.objectStore, resultsStore: store, sqlEngine: await a.sqlEngine() },
      runId,
      steps,
    );
    const dir = resolve(opts.out);
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'index.html');
    await writeFile(file, html);
    log(`report with ${summary.total} alert(s) written to ${file}`);
    return file;
  });
}
