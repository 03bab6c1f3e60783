/**
 * The detector on the worker's backend (WINNOW_BACKEND picks it): its
 * shapes and seeds, its loss on hand-made maps and at initialisation, the
 * class-map layout the ensemble accumulator folds, checkpoint round trip,
 * exact resume inside an epoch, flips, and no tensor leaks.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initComputeBackend } from '../../compute/backend';
import { scoreAccumulator } from '../../domain/acquisition/acquisition-scores';
import { createAccumulator, foldMember } from '../../domain/acquisition/ensemble-accumulator';
import { encodeTargets } from '../../domain/detection/targets';
import { decodeCheckpoint, encodeCheckpoint } from '../../domain/ml/checkpoint';
import { defaultDetectorLossOptions, detectorLoss, targetTensors } from '../../domain/ml/detector-loss';
import { buildDetector, detectorGeometry } from '../../domain/ml/detector-model';
import { predictClassMaps, predictDetectorMaps } from '../../domain/ml/detector-predict';
import { createOptimizer, TrainingInterrupted } from '../../domain/ml/train';
import {
  defaultDetectorTrainingSettings,
  flipDetections,
  trainDetector,
  type DetectorTrainingSettings,
} from '../../domain/ml/train-detector';
import { makeScenes } from './detector-scenes';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

function parameterCount(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
}

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((t) => t.dataSync() as Float32Array);
}

describe('the detector', () => {
  before(async () => {
    await initComputeBackend();
  });

  it('maps images to a stride-4 or stride-8 map of classes + 5 channels, seeded, under 200k parameters', () => {
    const s4 = buildDetector({ inputShape: [96, 96, 3], numClasses: 3, seed: 1 });
    assert.deepEqual(s4.outputs[0].shape, [null, 24, 24, 3 + 1 + 4]);
    assert.deepEqual(detectorGeometry(s4), {
      inputShape: [96, 96, 3],
      mapHeight: 24,
      mapWidth: 24,
      stride: 4,
      classes: 4,
    });
    const count = parameterCount(s4);
    assert.ok(count > 50_000 && count < 200_000, `${count} parameters`);
    const s8 = buildDetector({ inputShape: [48, 64, 1], numClasses: 5, stride: 8, seed: 1, width: 0.5 });
    assert.deepEqual(detectorGeometry(s8), {
      inputShape: [48, 64, 1],
      mapHeight: 6,
      mapWidth: 8,
      stride: 8,
      classes: 6,
    });
    const again = buildDetector({ inputShape: [96, 96, 3], numClasses: 3, seed: 1 });
    const other = buildDetector({ inputShape: [96, 96, 3], numClasses: 3, seed: 2 });
    const [a, b, c] = [s4, again, other].map(weightsOf);
    a.forEach((w, i) => assert.deepEqual(w, b[i], `weight ${i}, same seed`));
    assert.notDeepEqual(a[0], c[0], 'another seed, other weights');
    // The background prior: softmax(b, 0, 0, 0)[0] = 0.99 at every location before training.
    const bias = a[a.length - 1];
    close(bias[0], Math.log((0.99 * 3) / 0.01), 1e-5, 'background bias');
    assert.ok(bias.subarray(1).every((v) => v === 0));
    [s4, s8, again, other].forEach((m) => m.dispose());
  });

  it('rejects impossible specs with the problem named', () => {
    assert.throws(() => buildDetector({ inputShape: [30, 32, 3], numClasses: 2, seed: 0 }), /multiples of the stride/);
    assert.throws(
      () => buildDetector({ inputShape: [32, 32, 3], numClasses: 2, stride: 2 as 4, seed: 0 }),
      /stride must be one of 4, 8/,
    );
    assert.throws(() => buildDetector({ inputShape: [32, 32, 3], numClasses: 0, seed: 0 }), /numClasses must be/);
    assert.throws(
      () => buildDetector({ inputShape: [32, 32, 3], numClasses: 2, seed: 0, backgroundPrior: 1 }),
      /backgroundPrior must lie in \(0, 1\)/,
    );
  });

  it('computes the focal class loss and the L1 box loss of hand-made maps exactly, without leaks', () => {
    // An 8x8 input at stride 4: a 2x2 map. One object in cell (0, 0): dx = dy = 0.5, log sizes 0.
    const targets = encodeTargets([[{ x: 0, y: 0, w: 4, h: 4, category: 0 }]], [8, 8, 3], {
      stride: 4,
      negatives: 'uniform',
    });
    // 2 categories: 3 class logits + 4 box values per location.
    // Cell 0 (positive): uniform logits, box raw (0, 0, 1, -1). Cell 1 (background): uniform logits.
    // Cells 2, 3: background, certain. Box values off the centre cell are ignored.
    const output = tf.tensor4d(
      [
        [0, 0, 0, 0, 0, 1, -1],
        [0, 0, 0, 5, 5, 5, 5],
        [40, 0, 0, 5, 5, 5, 5],
        [40, 0, 0, 5, 5, 5, 5],
      ].flat(),
      [1, 2, 2, 7],
    );
    const before = tf.memory().numTensors;
    const focal = (4 / 9) * Math.log(3); // (1 - 1/3)^2 * -log(1/3)
    for (const [gamma, perLocation] of [
      [2, focal],
      [0, Math.log(3)],
    ]) {
      const options = { ...defaultDetectorLossOptions, gamma, backgroundWeight: 0.5, boxWeight: 0.5 };
      const tensors = targetTensors(targets, options);
      const loss = detectorLoss(output, tensors, options);
      // Positive cell 1 x, background cell 0.5 x; normalised by the one positive.
      close(loss.classLoss.dataSync()[0], 1.5 * perLocation, 1e-5, `class loss, gamma ${gamma}`);
      // |sigmoid(0) - 0.5| x 2 + |1 - 0| + |-1 - 0|.
      close(loss.boxLoss.dataSync()[0], 2, 1e-6, 'box loss');
      close(loss.total.dataSync()[0], 1.5 * perLocation + 0.5 * 2, 1e-5, 'total');
      [
        loss.total,
        loss.classLoss,
        loss.boxLoss,
        tensors.classes,
        tensors.weights,
        tensors.boxes,
        tensors.centers,
      ].forEach((t) => t.dispose());
    }
    assert.equal(tf.memory().numTensors, before, 'tensors after the losses');
    output.dispose();
  });

  it('starts at the loss of its background prior and lowers it in a few steps', () => {
    const scenes = makeScenes(16, 48, 3);
    const model = buildDetector({ inputShape: scenes.shape, numClasses: 3, seed: 7 });
    const options = defaultDetectorLossOptions;
    const targets = encodeTargets(scenes.objects, scenes.shape, { stride: 4 });
    const tensors = targetTensors(targets, options);
    const xs = tf.tensor4d(scenes.images, [16, ...scenes.shape]);
    const lossOf = () =>
      tf.tidy(() => {
        const loss = detectorLoss(model.apply(xs) as tf.Tensor, tensors, options);
        return [loss.total, loss.classLoss, loss.boxLoss].map((t) => t.dataSync()[0]);
      });
    const before = tf.memory().numTensors;
    const [total, classLoss, boxLoss] = lossOf();
    assert.equal(tf.memory().numTensors, before, 'tensors after a loss in tidy');
    // Every positive starts at probability 0.01 / 3 for its category: (1 - q)^2 * -log q (background adds ~1e-6).
    const q = 0.01 / 3;
    close(classLoss, (1 - q) ** 2 * -Math.log(q), 0.05 * -Math.log(q), 'initial class loss');
    assert.ok(Number.isFinite(boxLoss) && boxLoss > 0.1 && boxLoss < 10, `initial box loss ${boxLoss}`);
    close(total, classLoss + boxLoss, 1e-4, 'total = class + box');
    const optimizer = createOptimizer({
      ...defaultDetectorTrainingSettings,
      learningRate: 0.003,
      augmentation: 'none',
    });
    for (let step = 0; step < 20; step++) {
      tf.tidy(() => {
        optimizer.minimize(
          () => detectorLoss(model.apply(xs, { training: true }) as tf.Tensor, tensors, options).total,
        );
      });
    }
    const [after] = lossOf();
    assert.ok(after < 0.5 * total, `loss ${total} -> ${after} after 20 steps`);
    [xs, tensors.classes, tensors.weights, tensors.boxes, tensors.centers].forEach((t) => t.dispose());
    model.dispose();
    optimizer.dispose();
  });

  it('predicts class maps as [image][location][class] distributions the accumulator folds, without leaks', () => {
    const scenes = makeScenes(10, 32, 5);
    const model = buildDetector({ inputShape: scenes.shape, numClasses: 2, seed: 3, backgroundPrior: 0.5 });
    const { mapHeight, mapWidth, classes } = detectorGeometry(model);
    const locations = mapHeight * mapWidth;
    const before = tf.memory().numTensors;
    const maps = predictClassMaps(model, scenes.images, scenes.count, 4);
    const full = predictDetectorMaps(model, scenes.images, scenes.count, 3);
    assert.equal(tf.memory().numTensors, before, 'tensors after predicting');
    assert.equal(maps.length, scenes.count * locations * classes);
    assert.deepEqual(full.classMaps, maps, 'the same class maps in any block size');
    for (let row = 0; row < scenes.count * locations; row++) {
      const sum = maps[row * 3] + maps[row * 3 + 1] + maps[row * 3 + 2];
      close(sum, 1, 1e-5, `row ${row} sums to 1`);
    }
    // The layout: image 7, cell (3, 5) of the 8x8 map, from the raw output.
    const raw = tf.tidy(() => {
      const out = model.predict(tf.tensor4d(scenes.images, [scenes.count, ...scenes.shape])) as tf.Tensor;
      return out.slice([7, 3, 5, 0], [1, 1, 1, classes + 4]).dataSync();
    });
    const exp = [0, 1, 2].map((k) => Math.exp(raw[k]));
    const l = 7 * locations + 3 * mapWidth + 5;
    exp.forEach((e, k) => close(maps[l * classes + k], e / (exp[0] + exp[1] + exp[2]), 1e-6, `class ${k}`));
    close(full.boxMaps[l * 4], 1 / (1 + Math.exp(-raw[3])), 1e-6, 'dx = sigmoid');
    close(full.boxMaps[l * 4 + 3], raw[6], 1e-6, 'log h as output');
    const acc = createAccumulator({ samples: scenes.count, locations, classes });
    foldMember(acc, maps);
    foldMember(acc, maps);
    const entropy = scoreAccumulator(acc, 'entropy', { reduction: 'max' });
    assert.equal(entropy.length, scenes.count);
    assert.ok(entropy.every((h) => h > 0 && h <= Math.log(3) + 1e-6));
    assert.throws(
      () => predictClassMaps(model, scenes.images, 11),
      /11 images of 32x32x3 need 33792 floats, got 30720/,
    );
    model.dispose();
  });

  it('flips images and boxes together, seeded', () => {
    const shape: [number, number, number] = [2, 4, 1];
    const images = Float32Array.from({ length: 8 * 8 }, (_, i) => i);
    const objects = Array.from({ length: 8 }, (_, i) => [{ x: 1, y: 0, w: 1 + (i % 3), h: 1, category: i % 3 }]);
    const flipped = images.slice();
    const out = flipDetections(flipped, objects, 8, shape, 21);
    let flips = 0;
    for (let b = 0; b < 8; b++) {
      // Pixel values are all distinct: a mirrored image differs from its original.
      const same = flipped.subarray(b * 8, b * 8 + 8).every((v, i) => v === images[b * 8 + i]);
      if (same) {
        assert.deepEqual(out[b], objects[b], `image ${b}: unflipped keeps its box`);
        continue;
      }
      flips++;
      for (let y = 0; y < 2; y++)
        for (let x = 0; x < 4; x++) assert.equal(flipped[b * 8 + y * 4 + x], images[b * 8 + y * 4 + 3 - x]);
      assert.deepEqual(out[b], [{ ...objects[b][0], x: 4 - 1 - objects[b][0].w }], `image ${b}: box mirrored`);
    }
    assert.ok(flips > 0 && flips < 8, `${flips} of 8 flipped`);
    const back = flipDetections(flipped, out, 8, shape, 21);
    assert.deepEqual(flipped, images, 'the same seed flips back');
    assert.deepEqual(back, objects);
  });

  it('round-trips a checkpoint to the same class maps and resumes inside an epoch to the same weights', async () => {
    const scenes = makeScenes(64, 32, 8);
    const samples = { ...scenes, numClasses: 3 };
    // Small batches, so that 6 epochs of 64 images make enough steps to get some centre cells right.
    const settings: DetectorTrainingSettings = {
      ...defaultDetectorTrainingSettings,
      epochs: 6,
      batchSize: 4,
      schedule: { kind: 'constant' },
    };
    const build = () => buildDetector({ inputShape: scenes.shape, numClasses: 3, seed: 2, width: 0.5 });
    const straight = build();
    const straightOptimizer = createOptimizer({ ...settings, augmentation: 'none' });
    const straightHistory = await trainDetector({
      model: straight,
      optimizer: straightOptimizer,
      samples,
      settings,
      seed: 6,
      context: 'straight',
    });
    assert.equal(straightHistory.length, 6);

    // 16 batches per epoch, asked before every batch but an epoch's first: the 78th answer stops epoch 6 at batch 3.
    const interrupted = build();
    const interruptedOptimizer = createOptimizer({ ...settings, augmentation: 'none' });
    let asked = 0;
    let saved: Awaited<ReturnType<typeof encodeCheckpoint>> | undefined;
    await assert.rejects(
      trainDetector({
        model: interrupted,
        optimizer: interruptedOptimizer,
        samples,
        settings,
        seed: 6,
        context: 'round 1, member 0',
        shouldStop: () => ++asked > 77,
        onInterrupt: async (epochsDone, position) => {
          saved = await encodeCheckpoint(interrupted, interruptedOptimizer, {
            epoch: epochsDone,
            seed: 6,
            loss: null,
            accuracy: null,
            backend: tf.getBackend(),
            createdBy: 'test',
            within: position,
          });
        },
      }),
      (err: Error) =>
        err instanceof TrainingInterrupted &&
        err.position.batch === 3 &&
        /round 1, member 0: training interrupted in epoch 6 after batch 3/.test(err.message),
    );
    assert.ok(saved);
    const restored = await decodeCheckpoint(saved, 'memory://detector');
    assert.equal(restored.meta.within?.batch, 3);
    assert.ok((restored.meta.within?.centers ?? 0) > 0, 'the centre cells seen are saved');
    assert.deepEqual(
      predictClassMaps(restored.model, scenes.images, scenes.count),
      predictClassMaps(interrupted, scenes.images, scenes.count),
      'a restored detector predicts the same class maps',
    );
    const resumedOptimizer = createOptimizer({ ...settings, augmentation: 'none' });
    await restored.restoreOptimizer(resumedOptimizer);
    const [resumed] = await trainDetector({
      model: restored.model,
      optimizer: resumedOptimizer,
      samples,
      settings,
      seed: 6,
      firstEpoch: 6,
      within: restored.meta.within,
      context: 'resumed',
    });
    const [a, b] = [restored.model, straight].map(weightsOf);
    a.forEach((w, i) => w.forEach((v, j) => close(v, b[i][j], 1e-5 * Math.max(1, Math.abs(v)), `weight ${i}[${j}]`)));
    const want = straightHistory[5];
    assert.ok(want.accuracy > 0.1, `centre accuracy ${want.accuracy} in epoch 6`);
    for (const key of ['loss', 'classLoss', 'boxLoss'] as const) close(resumed[key], want[key], 1e-5 * want[key], key);
    assert.equal(resumed.accuracy, want.accuracy);
    [straight, interrupted, restored.model].forEach((m) => m.dispose());
    [straightOptimizer, interruptedOptimizer, resumedOptimizer].forEach((o) => o.dispose());
  });

  it('rejects samples that do not fit the detector', async () => {
    const scenes = makeScenes(4, 32, 1);
    const model = buildDetector({ inputShape: scenes.shape, numClasses: 2, seed: 0 });
    const optimizer = createOptimizer({ ...defaultDetectorTrainingSettings, augmentation: 'none' });
    const run = (samples: Parameters<typeof trainDetector>[0]['samples']) =>
      trainDetector({
        model,
        optimizer,
        samples,
        settings: defaultDetectorTrainingSettings,
        seed: 0,
        context: 'member 2',
      });
    await assert.rejects(
      run({ ...scenes, numClasses: 3 }),
      /member 2: the detector takes 32x32x3 images and 2 categories/,
    );
    const bad = scenes.objects.map((list) => list.map((o) => ({ ...o, category: 2 })));
    await assert.rejects(
      run({ ...scenes, objects: bad, numClasses: 2 }),
      /image 0 has an object of category 2; categories are 0..1/,
    );
    await assert.rejects(
      run({ ...scenes, count: 0, images: new Float32Array(0), objects: [], numClasses: 2 }),
      /no training images/,
    );
    model.dispose();
    optimizer.dispose();
  });
});
