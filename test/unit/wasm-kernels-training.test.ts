/** A small conv net trains on the wasm backend with winnow's kernels, without leaking. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useWasmWithWinnowKernels } from '../helpers/wasm-backend';

/** 8x8 images: class 0 has a bright 3x3 patch in the top-left quadrant, class 1 in the bottom-right; noise elsewhere. */
function dataset(n: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const pixels = new Float32Array(n * 64);
  const labels = new Float32Array(n * 2);
  let state = 12345;
  const rand = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    labels[i * 2 + label] = 1;
    for (let p = 0; p < 64; p++) pixels[i * 64 + p] = rand() * 0.3;
    const r0 = label === 0 ? Math.floor(rand() * 2) : 4 + Math.floor(rand() * 2);
    const c0 = label === 0 ? Math.floor(rand() * 2) : 4 + Math.floor(rand() * 2);
    for (let r = r0; r < r0 + 3; r++) for (let c = c0; c < c0 + 3; c++) pixels[i * 64 + r * 8 + c] = 1;
  }
  return { x: tf.tensor4d(pixels, [n, 8, 8, 1]), y: tf.tensor2d(labels, [n, 2]) };
}

describe('training a conv net on wasm', () => {
  before(useWasmWithWinnowKernels);

  it('lowers the loss and keeps the tensor count steady across steps', () => {
    tf.setBackend('wasm');
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [8, 8, 1],
          filters: 4,
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({
          filters: 6,
          kernelSize: 3,
          strides: 2,
          padding: 'valid',
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
        }),
        tf.layers.depthwiseConv2d({
          kernelSize: 1,
          depthMultiplier: 1,
          depthwiseInitializer: tf.initializers.glorotUniform({ seed: 3 }),
        }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
      ],
    });
    const optimizer = tf.train.momentum(0.1, 0.9);
    const { x, y } = dataset(64);
    const step = (): number =>
      tf.tidy(() => {
        const loss = optimizer.minimize(
          () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
          true,
        );
        return loss!.dataSync()[0];
      });
    const first = step(); // also creates the optimizer's momentum slots
    const before = tf.memory();
    const backendBefore = tf.backend().numDataIds();
    const second = step();
    const after = tf.memory();
    // The engine's count misses buffers a kernel allocates below it; the backend's own count does not.
    assert.equal(tf.backend().numDataIds(), backendBefore, 'wasm backend buffers');
    assert.equal(after.numTensors, before.numTensors, 'tensors after one more step');
    assert.equal(after.numDataBuffers, before.numDataBuffers, 'backend buffers after one more step');
    let last = second;
    for (let i = 0; i < 40; i++) last = step();
    assert.ok(Number.isFinite(last), `loss ${last}`);
    assert.ok(last < first * 0.5, `loss went from ${first} to ${last}`);
    const accuracy = tf.tidy(
      () =>
        tf.metrics
          .categoricalAccuracy(y, model.predict(x) as tf.Tensor)
          .mean()
          .dataSync()[0],
    );
    assert.ok(accuracy >= 0.9, `training accuracy ${accuracy}`);
    x.dispose();
    y.dispose();
    model.dispose();
  });
});
