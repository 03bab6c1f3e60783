/** Batched inference: whole forward batches give the probabilities of tfjs's default 32-image passes. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initComputeBackend } from '../../compute/backend';
import { buildModel } from '../../domain/ml/models';
import { forwardBatchSize, predictProbabilities } from '../../domain/ml/predict';

describe('predictProbabilities', () => {
  before(async () => {
    await initComputeBackend();
  });

  it('uses 128-image forward passes up to CIFAR-size inputs, 32 above', () => {
    assert.equal(forwardBatchSize([28, 28, 1]), 128);
    assert.equal(forwardBatchSize([32, 32, 3]), 128);
    assert.equal(forwardBatchSize([64, 64, 3]), 32);
  });

  it('matches softmax of 32-image predict passes, without leaks', () => {
    const shape: [number, number, number] = [28, 28, 1];
    const model = buildModel({ name: 'cnn-small', inputShape: shape, numClasses: 10, seed: 5 });
    const count = 300;
    const images = new Float32Array(count * 784);
    let state = 9;
    for (let i = 0; i < images.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      images[i] = state / 2 ** 32;
    }
    const before = tf.memory().numTensors;
    const ours = predictProbabilities(model, images, count, shape, 256);
    assert.equal(tf.memory().numTensors, before, 'tensor count after predicting');
    const reference = tf.tidy(() =>
      tf.softmax(model.predict(tf.tensor4d(images, [count, ...shape]), { batchSize: 32 }) as tf.Tensor).dataSync(),
    );
    assert.equal(ours.length, reference.length);
    for (let i = 0; i < ours.length; i++)
      assert.ok(Math.abs(ours[i] - reference[i]) <= 1e-6, `probability ${i}: ${ours[i]} vs ${reference[i]}`);
    model.dispose();
  });
});
