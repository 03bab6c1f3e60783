/**
 * Early stopping of evaluation models (evaluation.earlyStopping): the kept epoch is the one a plain run's
 * checkpoints show as best on the held-out samples, training stops `patience` epochs after it, a retry of a
 * stopped run trains nothing more, and a held-out range past the training split is refused by name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { initComputeBackend } from '../../compute/backend';
import { getCheckpoint } from '../../compute/tasks/checkpoint-store';
import { trainMember, type TrainMemberInput } from '../../compute/tasks/train-member';
import { openDataset } from '../../domain/data';
import { classificationMetrics } from '../../domain/ml/metrics';
import { predictProbabilities } from '../../domain/ml/predict';
import { defaultTrainingSettings } from '../../domain/ml/train';
import { openStore } from '../../domain/storage/open-store';
import { parseSearchConfig } from '../../contracts/config';
import { artifactPaths } from '../../contracts/artifact-paths';

let root: string;
let storageRoot: string;
const uri = 'synthetic:?seed=5&shape=10x10x1&classes=4&test=100';
const pool = { kind: 'synthetic' as const, uri, size: 400, limit: 200 };
const silent = (): void => undefined;
const maxEpochs = 14;
const patience = 2;

function input(memberKey: string, overrides: Partial<TrainMemberInput> = {}): TrainMemberInput {
  return {
    storageRoot,
    dataset: pool,
    model: { name: 'cnn-small', width: 0.25 },
    training: { ...defaultTrainingSettings, epochs: maxEpochs, batchSize: 32, learningRate: 0.01 },
    subsetUri: null,
    memberKey,
    checkpointEpochs: [maxEpochs],
    seed: 3,
    context: `test ${memberKey}`,
    earlyStopping: { validationStart: 200, validationSamples: 120, patience },
    ...overrides,
  };
}

/** Accuracy of a stored checkpoint on training samples 200..319, computed here from the whole split. */
async function heldOutAccuracy(checkpointUri: string): Promise<number> {
  const whole = await openDataset({ kind: 'synthetic', uri, size: 400 });
  const batch = await whole.readRange('train', 200, 120);
  const { model } = await getCheckpoint(openStore(storageRoot), checkpointUri);
  try {
    const p = predictProbabilities(model, batch.images, batch.count, whole.info.shape);
    return classificationMetrics(p, batch.labels, whole.info.numClasses).accuracy;
  } finally {
    model.dispose();
  }
}

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'winnow-early-'));
  storageRoot = pathToFileURL(root).href;
  process.env.WINNOW_STORAGE_ROOT = root;
  await initComputeBackend();
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('early stopping', () => {
  it('keeps the best held-out epoch of a plain run and stops patience epochs after it', async () => {
    // The same model trained without early stopping, a checkpoint at every epoch: the reference.
    const all = Array.from({ length: maxEpochs }, (_, i) => i + 1);
    const plain = await trainMember(input('plain', { earlyStopping: undefined, checkpointEpochs: all }), silent, {
      log: silent,
    });
    const accuracies: number[] = [];
    for (const c of plain.checkpoints) accuracies.push(await heldOutAccuracy(c.uri));
    let bestEpoch = 1;
    let stopEpoch = maxEpochs;
    for (let e = 1; e <= maxEpochs; e++) {
      if (accuracies[e - 1] > accuracies[bestEpoch - 1]) bestEpoch = e;
      if (e - bestEpoch >= patience) {
        stopEpoch = e;
        break;
      }
    }
    const early = await trainMember(input('early'), silent, { log: silent });
    assert.ok(early.earlyStopping, 'the result reports early stopping');
    assert.equal(early.earlyStopping.bestEpoch, bestEpoch, `held-out accuracies per epoch: ${accuracies.join(', ')}`);
    assert.equal(early.earlyStopping.epochsTrained, stopEpoch);
    assert.equal(early.history.length, stopEpoch);
    assert.equal(early.checkpoints.length, 1);
    assert.equal(early.checkpoints[0].epoch, bestEpoch);
    assert.ok(Math.abs(early.earlyStopping.validationAccuracy - accuracies[bestEpoch - 1]) < 1e-9);
    assert.ok(Math.abs((await heldOutAccuracy(early.checkpoints[0].uri)) - accuracies[bestEpoch - 1]) < 1e-9);
  });

  it('a retry of a run that stopped trains nothing more and returns the same checkpoint', async () => {
    const first = await trainMember(input('retry'), silent, { log: silent });
    const again = await trainMember(input('retry'), silent, { log: silent });
    assert.ok(first.earlyStopping!.epochsTrained < maxEpochs, 'this data stops early');
    assert.equal(again.history.length, 0);
    assert.deepEqual(again.checkpoints, first.checkpoints);
    assert.deepEqual(again.earlyStopping, first.earlyStopping);
  });

  it('a retry after a run that trained all its epochs trains nothing and keeps the same best', async () => {
    const long = { validationStart: 200, validationSamples: 120, patience: 50 };
    const first = await trainMember(input('full-run', { earlyStopping: long }), silent, { log: silent });
    assert.equal(first.earlyStopping!.epochsTrained, maxEpochs);
    const again = await trainMember(input('full-run', { earlyStopping: long }), silent, { log: silent });
    assert.equal(again.history.length, 0);
    assert.deepEqual(again.checkpoints, first.checkpoints);
  });

  it('a crash between saving the best and the resume point resumes one epoch back and keeps the same best', async () => {
    const long = { validationStart: 200, validationSamples: 120, patience: 50 };
    const short = { ...defaultTrainingSettings, epochs: 5, batchSize: 32, learningRate: 0.01 };
    const key = 'crash';
    const first = await trainMember(input(key, { earlyStopping: long, training: short }), silent, { log: silent });
    // Drop the newest resume slot: the state a kill right after writing ckpt-best at the last epoch leaves.
    const store = openStore(storageRoot);
    const slots = await Promise.all(
      artifactPaths.resumeSlots(key).map(async (slot) => ({
        slot,
        epoch: (await getCheckpoint(store, slot).then((c) => (c.model.dispose(), c.meta.epoch))) as number,
      })),
    );
    const newest = slots.reduce((a, b) => (b.epoch > a.epoch ? b : a));
    assert.equal(newest.epoch, 5);
    await store.deletePrefix(`${newest.slot}/`);
    const lines: string[] = [];
    const again = await trainMember(input(key, { earlyStopping: long, training: short }), silent, {
      log: (l) => lines.push(l),
    });
    assert.ok(
      lines.some((l) => /resuming after epoch 4/.test(l)),
      lines.join('\n'),
    );
    assert.equal(again.history.length, 1, 'only the last epoch is trained again');
    assert.equal(again.earlyStopping!.bestEpoch, first.earlyStopping!.bestEpoch);
    assert.ok(Math.abs(again.earlyStopping!.validationAccuracy - first.earlyStopping!.validationAccuracy) < 1e-9);
  });

  it("another seed's best is not used: the run is the same as on a fresh key", async () => {
    await trainMember(input('seeded', { seed: 3 }), silent, { log: silent });
    const other = await trainMember(input('seeded', { seed: 4 }), silent, { log: silent });
    const fresh = await trainMember(input('seed-4-fresh', { seed: 4 }), silent, { log: silent });
    assert.deepEqual(other.earlyStopping, fresh.earlyStopping);
  });

  it('refuses a held-out range past the training split, naming the fields to change', async () => {
    await assert.rejects(
      trainMember(
        input('past', { earlyStopping: { validationStart: 200, validationSamples: 300, patience } }),
        silent,
        {
          log: silent,
        },
      ),
      /training samples 200\.\.499, but the training split has 400; lower dataset\.limit or evaluation\.earlyStopping\.validationSamples/,
    );
  });

  it('the config needs dataset.limit and a classification task', () => {
    const base = {
      dataset: { kind: 'fashion-mnist' },
      targets: [1000],
      evaluation: { earlyStopping: { validationSamples: 500 } },
    };
    const noLimit = parseSearchConfig(base);
    assert.ok(!noLimit.ok && noLimit.problems.some((p) => /^evaluation\.earlyStopping: needs dataset\.limit/.test(p)));
    const ok = parseSearchConfig({ ...base, dataset: { kind: 'fashion-mnist', limit: 50000 } });
    assert.ok(ok.ok && ok.config.evaluation.earlyStopping?.patience === 3);
    const detection = parseSearchConfig({
      ...base,
      task: 'detection',
      dataset: { format: 'scenes', train: 100, test: 20 },
    });
    assert.ok(
      !detection.ok && detection.problems.some((p) => /^evaluation\.earlyStopping: .*classification only/.test(p)),
    );
  });
});
