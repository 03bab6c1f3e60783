/**
 * The detection side of trainMember / scoreShard / evaluate against a real file
 * store and generated scenes: a detector member with checkpoints and an exact
 * resume, shard scores equal to entropy per class-map cell reduced per image
 * (checked against a plain recomputation from the checkpoints' maps), mAP with
 * box previews, and the refusals that keep a classifier off detection data.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { initComputeBackend } from '../../compute/backend';
import { getCheckpoint } from '../../compute/tasks/checkpoint-store';
import { evaluateCheckpoints } from '../../compute/tasks/evaluate';
import { scoreShard } from '../../compute/tasks/score-shard';
import { trainMember, type TrainMemberInput } from '../../compute/tasks/train-member';
import { FailureType } from '../../contracts/failures';
import { parseScoreShard } from '../../domain/acquisition/score-shard-codec';
import { openDetectionDataset } from '../../domain/data';
import { predictClassMaps } from '../../domain/ml/detector-predict';
import { detectorGeometry } from '../../domain/ml/detector-model';
import { defaultTrainingSettings } from '../../domain/ml/train';
import { openStore } from '../../domain/storage/open-store';

let root: string;
let storageRoot: string;
const scenes = {
  format: 'scenes' as const,
  seed: 3,
  train: 64,
  test: 24,
  size: 32,
  maxObjects: 2,
  objectSizes: [12, 16],
  classSkew: 0.75,
  maxClutter: 1,
  noise: 24,
  maxHidden: 0.7,
};
const silent = (): void => undefined;

function input(memberKey: string, overrides: Partial<TrainMemberInput> = {}): TrainMemberInput {
  return {
    storageRoot,
    dataset: scenes,
    model: { name: 'detector-s4', width: 0.25 },
    training: { ...defaultTrainingSettings, epochs: 2, batchSize: 16, learningRate: 0.003, augmentation: 'flip' },
    subsetUri: null,
    memberKey,
    checkpointEpochs: [1, 2],
    seed: 11,
    context: `test ${memberKey}`,
    ...overrides,
  };
}

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'winnow-detection-tasks-'));
  storageRoot = pathToFileURL(root).href;
  process.env.WINNOW_STORAGE_ROOT = root;
  await initComputeBackend();
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('detection compute tasks', () => {
  it('trains a detector member, scores a shard per cell reduced per image, and evaluates mAP', async () => {
    const trained = await trainMember(input('det/m0'), silent, { log: silent });
    assert.deepEqual(
      trained.checkpoints.map((c) => c.epoch),
      [1, 2],
    );
    assert.equal(trained.samples, 64);
    // Run again: the member is complete, so nothing is trained and the same checkpoints come back.
    const again = await trainMember(input('det/m0'), silent, { log: silent });
    assert.equal(again.resumedFromEpoch, 2);
    assert.deepEqual(again.checkpoints, trained.checkpoints);

    const checkpoints = trained.checkpoints.map((c) => c.uri);
    const scored = await scoreShard(
      {
        storageRoot,
        dataset: scenes,
        reduction: 'max',
        start: 8,
        count: 20,
        checkpoints,
        function: 'entropy',
        seed: 1,
        outputKey: 'det/scores-0',
      },
      silent,
    );
    const store = openStore(storageRoot);
    const scores = parseScoreShard(await store.get('det/scores-0'), 'det/scores-0').scores;
    assert.equal(scores.length, 20);

    // The same numbers from scratch: mean class probabilities per cell, their entropy, the max per image.
    const dataset = await openDetectionDataset(scenes);
    const batch = await dataset.readRange('train', 8, 20);
    const maps: Float32Array[] = [];
    let cells = 0;
    let classes = 0;
    for (const uri of checkpoints) {
      const { model } = await getCheckpoint(store, uri);
      const geometry = detectorGeometry(model);
      cells = geometry.mapHeight * geometry.mapWidth;
      classes = geometry.classes;
      maps.push(predictClassMaps(model, batch.images, batch.count));
      model.dispose();
    }
    assert.equal(classes, 11, '10 Fashion-MNIST categories and background');
    for (let image = 0; image < 20; image++) {
      let best = -Infinity;
      for (let cell = 0; cell < cells; cell++) {
        let entropy = 0;
        for (let k = 0; k < classes; k++) {
          const at = (image * cells + cell) * classes + k;
          const p = maps.reduce((sum, m) => sum + m[at]!, 0) / maps.length;
          if (p > 0) entropy -= p * Math.log(p);
        }
        best = Math.max(best, entropy);
      }
      assert.ok(Math.abs(scores[image]! - best) < 1e-4, `image ${image}: ${scores[image]} vs ${best}`);
    }
    assert.ok(Math.abs(scored.max - Math.max(...scores)) < 1e-6);

    // A sum over cells is larger than their max wherever more than one cell is uncertain.
    await scoreShard(
      {
        storageRoot,
        dataset: scenes,
        reduction: 'sum',
        start: 8,
        count: 20,
        checkpoints,
        function: 'entropy',
        seed: 1,
        outputKey: 'det/scores-sum',
      },
      silent,
    );
    const sums = parseScoreShard(await store.get('det/scores-sum'), 'det/scores-sum').scores;
    sums.forEach((s, i) => assert.ok(s > scores[i]!, `image ${i}: sum ${s} > max ${scores[i]}`));

    const evaluated = await evaluateCheckpoints({
      storageRoot,
      dataset: scenes,
      split: 'test',
      checkpoints: [checkpoints[1]!],
      previewKey: 'det/previews',
    });
    assert.ok('detection' in evaluated);
    const metrics = evaluated.detection;
    assert.equal(metrics.images, 24);
    assert.ok(metrics.map >= 0 && metrics.map <= metrics.map50 && metrics.map50 <= 1, JSON.stringify(metrics));
    assert.equal(metrics.perCategoryAp.length, 10);
    assert.equal(evaluated.previews?.length, 4);
    const png = PNG.sync.read(await store.get('det/previews/0.png'));
    assert.deepEqual([png.width, png.height], [32, 32]);
  });

  it('refuses a classifier or crop-flip on detection data, and keeping detection accumulators', async () => {
    await assert.rejects(
      trainMember(input('det/bad-model', { model: { name: 'cnn-small' } }), silent, { log: silent }),
      (err: Error & { failureType?: string }) =>
        err.failureType === FailureType.InvalidConfig && /detection data needs a detector/.test(err.message),
    );
    await assert.rejects(
      trainMember(input('det/bad-aug', { training: { ...input('x').training, augmentation: 'crop-flip' } }), silent, {
        log: silent,
      }),
      /crop-flip" is for classification/,
    );
    const trained = await trainMember(
      input('det/m1', { checkpointEpochs: [1], training: { ...input('x').training, epochs: 1 } }),
      silent,
      {
        log: silent,
      },
    );
    await assert.rejects(
      scoreShard(
        {
          storageRoot,
          dataset: scenes,
          start: 0,
          count: 4,
          checkpoints: [trained.checkpoints[0]!.uri],
          function: 'entropy',
          seed: 1,
          outputKey: 'det/never',
          accumulatorKey: 'det/never-acc',
        },
        silent,
      ),
      /detection keeps no accumulators/,
    );
  });
});
