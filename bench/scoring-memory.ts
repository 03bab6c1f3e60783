/**
 * Memory of ensemble scoring: one scoreShard call over the full 60k
 * Fashion-MNIST training pool with 20 cnn-small checkpoints (untrained
 * weights: memory does not depend on the values). Target: peak RSS < 2 GiB.
 *
 *   node dist/bench/scoring-memory.js [--checkpoints=20] [--pool=60000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { initComputeBackend } from '../compute/backend';
import { putCheckpoint } from '../compute/tasks/checkpoint-store';
import { scoreShard } from '../compute/tasks/score-shard';
import { encodeCheckpoint } from '../domain/ml/checkpoint';
import { buildModel } from '../domain/ml/models';
import { openStore } from '../domain/storage/open-store';
import { machineLine, sampleRss } from './machine';

function arg(name: string, fallback: number): number {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.slice(name.length + 3)) : fallback;
}

async function main(): Promise<void> {
  const count = arg('checkpoints', 20);
  const pool = arg('pool', 60000);
  const backend = await initComputeBackend();
  console.log(machineLine());
  const root = mkdtempSync(path.join(os.tmpdir(), 'winnow-scoremem-'));
  const storageRoot = pathToFileURL(root).href;
  // The tasks only write inside the worker's root.
  process.env.WINNOW_STORAGE_ROOT = root;
  const store = openStore(storageRoot);
  try {
    const uris: string[] = [];
    for (let i = 0; i < count; i++) {
      const model = buildModel({ name: 'cnn-small', inputShape: [28, 28, 1], numClasses: 10, seed: i });
      const files = await encodeCheckpoint(model, undefined, {
        epoch: 1,
        seed: i,
        loss: null,
        accuracy: null,
        backend: backend.name,
        createdBy: 'bench',
      });
      model.dispose();
      uris.push((await putCheckpoint(store, `bench/ckpt-${i}`, files)).uri);
    }
    const before = process.memoryUsage().rss / 2 ** 20;
    const rss = sampleRss();
    const started = Date.now();
    const result = await scoreShard(
      {
        storageRoot,
        dataset: { kind: 'fashion-mnist' },
        start: 0,
        count: pool,
        checkpoints: uris,
        function: 'mutual-information',
        seed: 0,
        outputKey: 'bench/scores/shard-0',
      },
      () => undefined,
    );
    const seconds = (Date.now() - started) / 1000;
    const peak = rss.stop();
    console.log(
      `backend ${backend.name}: scored ${result.count} samples x ${result.models} checkpoints in ${seconds.toFixed(1)} s (${((result.count * result.models) / seconds).toFixed(0)} predictions/s)`,
    );
    console.log(`RSS before ${before.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB (target < 2048 MiB)`);
    console.log(machineLine());
    if (peak >= 2048) process.exitCode = 1;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
