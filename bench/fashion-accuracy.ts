/**
 * End-to-end check of the ML engine on real data: one cnn-small member
 * trained on the full Fashion-MNIST training set with the default training
 * settings, through the trainMember task (checkpoints to a file store), then
 * evaluated on the 10k test set. Target: >= 88% test accuracy.
 *
 *   node dist/bench/fashion-accuracy.js [--epochs=N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { initComputeBackend } from '../compute/backend';
import { evaluateCheckpoints } from '../compute/tasks/evaluate';
import { trainMember } from '../compute/tasks/train-member';
import { defaultTrainingSettings } from '../domain/ml/train';
import { machineLine } from './machine';

async function main(): Promise<void> {
  const epochsArg = process.argv.find((a) => a.startsWith('--epochs='));
  const epochs = epochsArg ? Number(epochsArg.slice(9)) : defaultTrainingSettings.epochs;
  const backend = await initComputeBackend();
  console.log(machineLine());
  console.log(`backend: ${backend.name}; training: ${JSON.stringify({ ...defaultTrainingSettings, epochs })}`);
  const root = mkdtempSync(path.join(os.tmpdir(), 'winnow-fashion-'));
  const storageRoot = pathToFileURL(root).href;
  // The tasks only write inside the worker's root.
  process.env.WINNOW_STORAGE_ROOT = root;
  const dataset = { kind: 'fashion-mnist' as const };
  try {
    const started = Date.now();
    const trained = await trainMember(
      {
        storageRoot,
        dataset,
        model: { name: 'cnn-small' },
        training: { ...defaultTrainingSettings, epochs },
        subsetUri: null,
        memberKey: 'bench/round-0/member-0',
        checkpointEpochs: [epochs],
        seed: 1,
        context: 'fashion-accuracy bench',
      },
      (p) =>
        console.log(
          `epoch ${p.epoch}/${p.epochs}: loss ${p.loss.toFixed(4)}, train accuracy ${(100 * p.accuracy).toFixed(2)}%`,
        ),
    );
    const trainSeconds = (Date.now() - started) / 1000;
    const metrics = await evaluateCheckpoints({
      storageRoot,
      dataset,
      split: 'test',
      checkpoints: trained.checkpoints.map((c) => c.uri),
    });
    console.log(
      `trained ${trained.samples} samples x ${epochs} epochs in ${trainSeconds.toFixed(1)} s (${((trained.samples * epochs) / trainSeconds).toFixed(0)} images/s incl. data loading and checkpoints)`,
    );
    console.log(
      `test accuracy ${(100 * metrics.accuracy).toFixed(2)}% (target >= 88%), test loss ${metrics.loss.toFixed(4)}`,
    );
    console.log(`per class: ${metrics.perClassAccuracy.map((a) => (100 * a).toFixed(1)).join(' ')}`);
    console.log(machineLine());
    if (metrics.accuracy < 0.88) process.exitCode = 1;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
