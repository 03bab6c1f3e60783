/**
 * Training speed of a model from a file against the built-in model it equals:
 * cnn-small saved through model.save() and built back by buildLayersModel
 * (fresh weights from a seed), trained side by side with the built-in
 * cnn-small in interleaved rounds on one backend, batch 128, 28x28x1. Target:
 * the file's model within 10% of the built-in one's images/s.
 *
 *   node dist/bench/model-file.js [--rounds=6] [--seconds=2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { initComputeBackend } from '../compute/backend';
import { buildLayersModel, readLayersModel } from '../domain/ml/layers-model-file';
import { buildModel } from '../domain/ml/models';
import { applyForTraining } from '../domain/ml/training-forward';
import { readInputFile } from '../domain/storage/input-files';
import { saveLayersModel } from '../test/helpers/layers-model-files';
import { benchBatch, benchOptimizer } from './cnn-small-bench';
import { numberArg } from './bench-args';
import { machineLine } from './machine';

async function main(): Promise<void> {
  const rounds = numberArg('rounds', 6);
  const seconds = numberArg('seconds', 2);
  const backend = await initComputeBackend();
  const tf = backend.tf;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'winnow-bench-model-file-'));
  try {
    const spec = {
      name: 'cnn-small' as const,
      inputShape: [28, 28, 1] as [number, number, number],
      numClasses: 10,
      seed: 1,
    };
    const builtIn = buildModel(spec);
    const file = await saveLayersModel(builtIn, dir);
    const fromFile = await buildLayersModel(await readLayersModel(file, readInputFile), 'scratch', 1);
    const { x, y } = benchBatch(tf, 128);
    const runs = [
      { name: 'built-in cnn-small', model: builtIn, optimizer: benchOptimizer('adam'), images: 0, ms: 0 },
      { name: 'tfjs-layers model.json', model: fromFile, optimizer: benchOptimizer('adam'), images: 0, ms: 0 },
    ];
    const step = (model: TF.LayersModel, optimizer: TF.Optimizer) =>
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, applyForTraining(model, x)) as TF.Scalar)?.dispose();
    for (const run of runs) for (let i = 0; i < 3; i++) step(run.model, run.optimizer); // warm-up
    for (let round = 0; round < rounds; round++) {
      // Alternate which model goes first, so load drifts hit both alike.
      for (const run of round % 2 === 0 ? runs : [...runs].reverse()) {
        const start = performance.now();
        while (performance.now() - start < seconds * 1000) {
          step(run.model, run.optimizer);
          run.images += 128;
        }
        run.ms += performance.now() - start;
      }
    }
    console.log(machineLine());
    console.log(`backend ${backend.name}, batch 128, Adam, ${rounds} interleaved rounds of ${seconds} s each`);
    for (const run of runs) console.log(`${run.name.padEnd(24)} ${((run.images / run.ms) * 1000).toFixed(0)} images/s`);
    const ratio = runs[1].images / runs[1].ms / (runs[0].images / runs[0].ms);
    console.log(`ratio (file / built-in)   ${ratio.toFixed(3)}  (target >= 0.90: ${ratio >= 0.9 ? 'met' : 'NOT met'})`);
    x.dispose();
    y.dispose();
    runs.forEach((r) => r.model.dispose());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
