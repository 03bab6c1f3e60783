/**
 * Scoring a detection pool: the scoreShard task (compute/tasks/score-shard.ts)
 * over every shard of a generated-scenes pool with an ensemble of detectors,
 * one shard after another in this process as a warm compute child runs them,
 * printing images/s, model-images/s and the peak RSS (target: a 50k pool with
 * 8 models under 2 GiB):
 *
 *   node dist/bench/detection-scoring.js [--pool=50000] [--models=8] [--shard=1000]
 *        [--size=96] [--width=1] [--stride=4] [--backend=tfjs-node|wasm]
 *
 * The detectors are freshly initialised (seeds 1..models): inference cost does
 * not depend on the weights. Entropy per class-map cell, max per image.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { initComputeBackend, parseBackendPreference } from '../compute/backend';
import { putCheckpoint } from '../compute/tasks/checkpoint-store';
import { scoreShard } from '../compute/tasks/score-shard';
import { openDetectionTaskDataset } from '../compute/tasks/task-datasets';
import { encodeCheckpoint } from '../domain/ml/checkpoint';
import { buildDetector, type DetectorStride } from '../domain/ml/detector-model';
import { openStore } from '../domain/storage/open-store';
import { numberArg } from './bench-args';
import { machineLine } from './machine';

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const pool = numberArg('pool', 50_000, true);
  const models = numberArg('models', 8, true);
  const shard = numberArg('shard', 1000, true);
  const size = numberArg('size', 96, true);
  const width = numberArg('width', 1);
  const stride = numberArg('stride', 4, true) as DetectorStride;
  const backendArg = process.argv.find((a) => a.startsWith('--backend='))?.slice('--backend='.length);
  const backend = await initComputeBackend(parseBackendPreference(backendArg ?? process.env.WINNOW_BACKEND));
  console.log(machineLine());

  const root = mkdtempSync(path.join(os.tmpdir(), 'winnow-detection-scoring-'));
  process.env.WINNOW_STORAGE_ROOT = root;
  const storageRoot = pathToFileURL(root).href;
  try {
    const spec = { format: 'scenes' as const, seed: 1, train: pool, test: 10, size };
    const fullSpec = {
      ...spec,
      maxObjects: 8,
      objectSizes: [14, 20, 28, 36, 48].filter((s) => s <= size),
      classSkew: 0.75,
      maxClutter: 4,
      noise: 24,
      maxHidden: 0.7,
    };
    const dataset = await openDetectionTaskDataset(fullSpec);
    const { shape, numClasses } = dataset.info;
    const store = openStore(storageRoot);
    const checkpoints: string[] = [];
    for (let m = 0; m < models; m++) {
      const model = buildDetector({ inputShape: shape, numClasses, stride, width, seed: m + 1 });
      const files = await encodeCheckpoint(model, undefined, {
        epoch: 1,
        seed: m + 1,
        loss: null,
        accuracy: null,
        backend: backend.name,
        createdBy: 'bench detection-scoring',
      });
      const stored = await putCheckpoint(store, `bench/model-${m}`, files);
      checkpoints.push(stored.uri);
      if (m === 0)
        console.log(
          `backend ${backend.name}; detector ${shape.join('x')}, stride ${stride}, width ${width}, ${numClasses + 1} map classes, ${model.countParams()} parameters`,
        );
      model.dispose();
    }
    console.log(`pool ${pool} scenes in shards of ${shard}, ${models} models, entropy per cell, max per image`);
    const started = performance.now();
    const rssBefore = process.memoryUsage().rss;
    let compute = 0;
    let dataRead = 0;
    for (let start = 0, k = 0; start < pool; start += shard, k++) {
      const count = Math.min(shard, pool - start);
      const result = await scoreShard(
        {
          storageRoot,
          dataset: fullSpec,
          reduction: 'max',
          start,
          count,
          checkpoints,
          function: 'entropy',
          seed: 1,
          outputKey: `bench/scores/shard-${k}`,
        },
        () => undefined,
      );
      compute += result.phases?.compute ?? 0;
      dataRead += result.phases?.dataRead ?? 0;
      if (k % 10 === 9 || start + count >= pool) {
        const seconds = (performance.now() - started) / 1000;
        console.log(
          `  ${start + count} scenes in ${seconds.toFixed(1)} s; rss ${mib(process.memoryUsage().rss)}, peak ${mib(process.resourceUsage().maxRSS * 1024)}`,
        );
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const peak = process.resourceUsage().maxRSS * 1024;
    console.log(
      `scored ${pool} scenes x ${models} models in ${seconds.toFixed(1)} s: ${(pool / seconds).toFixed(0)} images/s, ${((pool * models) / seconds).toFixed(0)} model-images/s (compute ${compute.toFixed(1)} s, scene reading ${dataRead.toFixed(1)} s)`,
    );
    console.log(
      `peak RSS ${mib(peak)} (${mib(rssBefore)} before scoring); target < 2048 MiB: ${peak < 2 ** 31 ? 'met' : 'NOT met'}`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
