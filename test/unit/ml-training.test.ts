/**
 * Models and the training loop on the worker's real backend (wasm with
 * winnow's gradient kernels when tfjs-node is not built): determinism,
 * learning, checkpoint round trip, exact resume, no tensor leaks.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initComputeBackend } from '../../compute/backend';
import { createSyntheticDataset } from '../../domain/data';
import { decodeCheckpoint, encodeCheckpoint } from '../../domain/ml/checkpoint';
import { classificationMetrics } from '../../domain/ml/metrics';
import { buildModel } from '../../domain/ml/models';
import { modelNames } from '../../contracts/config';
import { predictProbabilities } from '../../domain/ml/predict';
import {
  createOptimizer,
  defaultTrainingSettings,
  setLearningRate,
  trainModel,
  TrainingInterrupted,
  type TrainingSamples,
  type TrainingSettings,
} from '../../domain/ml/train';

let samples: TrainingSamples;
let testSamples: TrainingSamples;
const shape: [number, number, number] = [12, 12, 1];

before(async () => {
  await initComputeBackend();
  const data = createSyntheticDataset({
    seed: 3,
    height: 12,
    width: 12,
    numClasses: 4,
    trainSize: 256,
    testSize: 128,
    noise: 0.3,
  });
  const train = await data.readRange('train', 0, 256);
  const test = await data.readRange('test', 0, 128);
  samples = { count: 256, images: train.images, labels: train.labels, shape, numClasses: 4 };
  testSamples = { count: 128, images: test.images, labels: test.labels, shape, numClasses: 4 };
});

const settings: TrainingSettings = { ...defaultTrainingSettings, epochs: 3, batchSize: 32, learningRate: 0.003 };

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((t) => t.dataSync() as Float32Array);
}

function assertSameWeights(a: tf.LayersModel, b: tf.LayersModel, exact: boolean): void {
  const wa = weightsOf(a);
  const wb = weightsOf(b);
  assert.equal(wa.length, wb.length);
  wa.forEach((x, i) => {
    for (let j = 0; j < x.length; j++) {
      const tol = exact ? 0 : 1e-5 * Math.max(1, Math.abs(x[j]));
      if (Math.abs(x[j] - wb[i][j]) > tol) assert.fail(`weight ${i}[${j}]: ${x[j]} vs ${wb[i][j]}`);
    }
  });
}

describe('models', () => {
  for (const name of modelNames) {
    it(`${name}: logits of the right shape, same seed same weights, other seed other weights`, () => {
      const spec = { name, inputShape: [32, 32, 3] as [number, number, number], numClasses: 7, width: 0.125, seed: 11 };
      const a = buildModel(spec);
      const b = buildModel(spec);
      const c = buildModel({ ...spec, seed: 12 });
      assert.deepEqual(a.outputs[0].shape, [null, 7]);
      assertSameWeights(a, b, true);
      assert.notDeepEqual(weightsOf(a)[0], weightsOf(c)[0]);
      [a, b, c].forEach((m) => m.dispose());
    });
  }

  it('rejects impossible specs with the field named', () => {
    assert.throws(
      () => buildModel({ name: 'cnn-small', inputShape: shape, numClasses: 1, seed: 0 }),
      /numClasses must be an integer >= 2/,
    );
    assert.throws(
      () => buildModel({ name: 'cnn-small', inputShape: shape, numClasses: 3, seed: 0, width: 0 }),
      /width must be > 0/,
    );
  });
});

describe('training', () => {
  it('learns, is deterministic for a seed, and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const run = async () => {
      const model = buildModel({ name: 'cnn-small', inputShape: shape, numClasses: 4, width: 0.25, seed: 5 });
      const optimizer = createOptimizer(settings);
      const history = await trainModel({ model, optimizer, samples, settings, seed: 9, context: 'test member' });
      return { model, optimizer, history };
    };
    const first = await run();
    const second = await run();
    assertSameWeights(first.model, second.model, true);
    assert.ok(
      first.history[2].loss < first.history[0].loss,
      `loss falls: ${first.history.map((h) => h.loss.toFixed(3))}`,
    );
    const probabilities = predictProbabilities(first.model, testSamples.images, testSamples.count, shape, 50);
    const metrics = classificationMetrics(probabilities, testSamples.labels, 4);
    assert.ok(metrics.accuracy > 0.6, `test accuracy ${metrics.accuracy} well above chance (0.25)`);
    for (const r of [first, second]) {
      r.model.dispose();
      r.optimizer.dispose();
    }
    assert.equal(tf.memory().numTensors, before, 'every tensor was disposed');
  });

  it('round-trips a checkpoint and resumes exactly where an uninterrupted run would be', async () => {
    const build = () => buildModel({ name: 'cnn-small', inputShape: shape, numClasses: 4, width: 0.25, seed: 6 });
    const straight = build();
    const straightOptimizer = createOptimizer(settings);
    await trainModel({
      model: straight,
      optimizer: straightOptimizer,
      samples,
      settings,
      seed: 4,
      context: 'straight',
    });

    const interrupted = build();
    const interruptedOptimizer = createOptimizer(settings);
    let saved: Awaited<ReturnType<typeof encodeCheckpoint>> | undefined;
    await trainModel({
      model: interrupted,
      optimizer: interruptedOptimizer,
      samples,
      settings: { ...settings, epochs: 2 },
      seed: 4,
      context: 'interrupted',
      onEpochEnd: async (m) => {
        if (m.epoch === 2)
          saved = await encodeCheckpoint(interrupted, interruptedOptimizer, {
            epoch: 2,
            seed: 4,
            loss: m.loss,
            accuracy: m.accuracy,
            backend: tf.getBackend(),
            createdBy: 'test',
          });
      },
    });
    assert.ok(saved);
    const restored = await decodeCheckpoint(saved, 'memory://ckpt-2');
    assert.equal(restored.meta.epoch, 2);
    assertSameWeights(restored.model, interrupted, true);
    const resumedOptimizer = createOptimizer(settings);
    await restored.restoreOptimizer(resumedOptimizer);
    await trainModel({
      model: restored.model,
      optimizer: resumedOptimizer,
      samples,
      settings,
      seed: 4,
      firstEpoch: 3,
      context: 'resumed',
    });
    assertSameWeights(restored.model, straight, false);
    [straight, interrupted, restored.model].forEach((m) => m.dispose());
    [straightOptimizer, interruptedOptimizer, resumedOptimizer].forEach((o) => o.dispose());
  });

  it('stops inside an epoch on request, saves its position, and resumes to the same weights and loss', async () => {
    const build = () => buildModel({ name: 'cnn-small', inputShape: shape, numClasses: 4, width: 0.25, seed: 8 });
    const straight = build();
    const straightOptimizer = createOptimizer(settings);
    const straightHistory = await trainModel({
      model: straight,
      optimizer: straightOptimizer,
      samples,
      settings,
      seed: 5,
      context: 'straight',
    });

    // 256 samples / batch 32 = 8 batches per epoch; asked before every batch but an epoch's first: 7 times in
    // epoch 1, then before batches 1, 2, 3 of epoch 2. The 10th answer stops it there, 3 batches in.
    const interrupted = build();
    const interruptedOptimizer = createOptimizer(settings);
    let steps = 0;
    let saved: Awaited<ReturnType<typeof encodeCheckpoint>> | undefined;
    await assert.rejects(
      trainModel({
        model: interrupted,
        optimizer: interruptedOptimizer,
        samples,
        settings,
        seed: 5,
        context: 'round 0, member 1',
        shouldStop: () => ++steps > 9,
        onInterrupt: async (epochsDone, position) => {
          saved = await encodeCheckpoint(interrupted, interruptedOptimizer, {
            epoch: epochsDone,
            seed: 5,
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
        err.epochsDone === 1 &&
        err.position.batch === 3 &&
        /round 0, member 1: training interrupted in epoch 2 after batch 3/.test(err.message),
    );
    assert.ok(saved);
    const restored = await decodeCheckpoint(saved, 'memory://resume');
    assert.equal(restored.meta.epoch, 1);
    assert.equal(restored.meta.within?.batch, 3);
    const resumedOptimizer = createOptimizer(settings);
    await restored.restoreOptimizer(resumedOptimizer);
    const resumedHistory = await trainModel({
      model: restored.model,
      optimizer: resumedOptimizer,
      samples,
      settings,
      seed: 5,
      firstEpoch: 2,
      within: restored.meta.within,
      context: 'resumed',
    });
    assertSameWeights(restored.model, straight, false);
    // Epoch 2's loss covers all its batches, the three before the stop included.
    assert.ok(
      Math.abs(resumedHistory[0].loss - straightHistory[1].loss) <= 1e-5 * straightHistory[1].loss,
      `${resumedHistory[0].loss} vs ${straightHistory[1].loss}`,
    );
    assert.equal(resumedHistory[0].accuracy, straightHistory[1].accuracy);
    [straight, interrupted, restored.model].forEach((m) => m.dispose());
    [straightOptimizer, interruptedOptimizer, resumedOptimizer].forEach((o) => o.dispose());
  });

  it('applies each set learning rate to the next update, for momentum and Adam', () => {
    for (const optimizer of ['sgd-momentum', 'adam'] as const) {
      const opt = createOptimizer({ ...settings, optimizer, learningRate: 0.5, momentum: 0 });
      const v = tf.variable(tf.scalar(1), true, `lr-probe-${optimizer}`);
      // Loss v: gradient 1 at every step.
      const step = () => {
        opt.minimize(() => v.sum() as tf.Scalar, false, [v]);
        return v.dataSync()[0]!;
      };
      const first = 1 - step();
      setLearningRate(opt, 0);
      const before = v.dataSync()[0]!;
      assert.equal(step(), before, `${optimizer}: a rate of 0 leaves the weight alone`);
      setLearningRate(opt, 0.25);
      const third = before - step();
      assert.ok(first > 0 && third > 0, `${optimizer}: steps ${first}, ${third}`);
      // Momentum 0: the step is the rate; Adam's step scales with the rate too.
      if (optimizer === 'sgd-momentum')
        assert.ok(Math.abs(first - 0.5) < 1e-6 && Math.abs(third - 0.25) < 1e-6, `steps ${first}, ${third}`);
      else assert.ok(third < first, `Adam step after lowering the rate: ${third} vs ${first}`);
      v.dispose();
      opt.dispose();
    }
  });

  it('detects a corrupted checkpoint', async () => {
    const model = buildModel({ name: 'cnn-small', inputShape: shape, numClasses: 4, width: 0.25, seed: 1 });
    const files = await encodeCheckpoint(model, undefined, {
      epoch: 1,
      seed: 1,
      loss: null,
      accuracy: null,
      backend: tf.getBackend(),
      createdBy: 'test',
    });
    const weights = files['weights.bin'].slice();
    weights[10] ^= 0xff;
    await assert.rejects(
      decodeCheckpoint({ ...files, 'weights.bin': weights }, 'file:///x/ckpt-1'),
      (err: Error & { failureType?: string }) =>
        err.failureType === 'CorruptArtifact' &&
        /checkpoint file:\/\/\/x\/ckpt-1: weights.bin sha256 .* does not match/.test(err.message),
    );
    model.dispose();
  });

  it('fails with Diverged naming the run and epoch when the loss is not finite', async () => {
    const model = buildModel({ name: 'cnn-small', inputShape: shape, numClasses: 4, width: 0.25, seed: 1 });
    // An absurd learning rate blows the weights up within the first epoch.
    const wild: TrainingSettings = { ...settings, optimizer: 'sgd-momentum', learningRate: 1e12 };
    const optimizer = createOptimizer(wild);
    await assert.rejects(
      trainModel({ model, optimizer, samples, settings: wild, seed: 1, context: 'round 1, member 2' }),
      (err: Error & { failureType?: string }) =>
        err.failureType === 'Diverged' &&
        /round 1, member 2, epoch 1: training loss is (NaN|-?Infinity)/.test(err.message),
    );
    model.dispose();
    optimizer.dispose();
  });
});
