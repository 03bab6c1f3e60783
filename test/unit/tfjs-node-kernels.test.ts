/**
 * winnow's tfjs-node kernel overrides (kernels/tfjs-node/tfjs-node-kernels.ts)
 * against the stock computations: the relu gradient through ReluGrad, bias
 * gradients through BiasAddGrad, and a whole conv-net gradient against the
 * stock cpu backend; none of them leaks tensors. Skipped without the addon.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { skipWithoutTfjsNode } from '../helpers/native-addons';
import { chooseComputeBackend } from '../../compute/backend';
import { registerTfjsNodeKernels } from '../../kernels/tfjs-node/tfjs-node-kernels';

/** Deterministic pseudo-random floats in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, relTol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    assert.ok(diff <= relTol * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tolerance ${relTol * scale})`);
  }
}

/** Runs fn, reads and disposes the tensors it returns, and checks that nothing else was left behind. */
function readLeakFree(fn: () => tf.Tensor[]): Float32Array[] {
  const before = tf.memory().numTensors;
  const out = fn();
  const data = out.map((t) => t.dataSync() as Float32Array);
  tf.dispose(out);
  assert.equal(tf.memory().numTensors, before, 'tensor count after the computation');
  return data;
}

describe('tfjs-node kernel overrides', { skip: skipWithoutTfjsNode() }, () => {
  before(async () => {
    await chooseComputeBackend('tfjs-node');
    await tf.setBackend('tensorflow');
  });

  it('are registered once', () => {
    assert.deepEqual(registerTfjsNodeKernels(tf), []);
    assert.ok(tf.getKernel('WinnowReluGrad', 'tensorflow'));
  });

  it('relu gradient equals dy * (x > 0) exactly for finite x, without leaks', () => {
    const special = [-3, -1e-30, 0, -0, 1e-30, 2.5, 3e38, -3e38];
    const x = tf.tensor1d([...special, ...values(1000, 1)]);
    const dy = tf.tensor1d([...special.map((_, i) => (i % 2 ? -1.5 : 2)), ...values(1000, 2)]);
    const [ours] = readLeakFree(() => [tf.grad((v: tf.Tensor) => tf.relu(v).mul(dy).sum())(x)]);
    const [reference] = readLeakFree(() => [tf.tidy(() => dy.mul(tf.greater(x, 0).cast('float32')))]);
    assert.deepEqual(Array.from(ours), Array.from(reference));
    x.dispose();
    dy.dispose();
  });

  it('relu gradient of a 4-d activation, as in a conv layer, matches the stock formula', () => {
    const x = tf.tensor4d(values(2 * 6 * 6 * 5, 3), [2, 6, 6, 5]);
    const w = tf.tensor4d(values(2 * 6 * 6 * 5, 4), [2, 6, 6, 5]);
    const [ours] = readLeakFree(() => [tf.grad((v: tf.Tensor) => tf.relu(v).mul(w).sum())(x)]);
    const [reference] = readLeakFree(() => [tf.tidy(() => w.mul(tf.step(x)))]);
    assert.deepEqual(Array.from(ours), Array.from(reference));
    tf.dispose([x, w]);
  });

  it('bias gradients (sum over all axes but the last) agree with Sum to float rounding', () => {
    for (const shape of [
      [4, 7, 7, 3],
      [16, 10],
      [2, 3, 4, 5, 6],
    ]) {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(values(size, size), shape);
      const axes = shape.slice(0, -1).map((_, i) => i);
      assert.deepEqual(
        tf.tidy(() => tf.sum(x, axes).shape),
        [shape[shape.length - 1]],
      );
      // Reversed axis order names the same reduction; keepDims takes the stock Sum kernel.
      const [ours, reversed, reference] = readLeakFree(() => [
        tf.sum(x, axes),
        tf.sum(x, [...axes].reverse()),
        tf.sum(x, axes, true),
      ]);
      assertClose(ours, reference, 1e-6, `sum over ${axes} of [${shape}]`);
      assertClose(reversed, reference, 1e-6, `sum over reversed axes of [${shape}]`);
      x.dispose();
    }
  });

  it('other reductions still use the stock Sum', () => {
    const x = tf.tensor3d(values(24, 5), [2, 3, 4]);
    const int = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
    assert.deepEqual(Array.from(tf.sum(int, 0).dataSync()), [5, 7, 9]);
    assert.deepEqual(tf.sum(x, [0, 1], true).shape, [1, 1, 4]);
    assert.deepEqual(tf.sum(x, [1, 2]).shape, [2]);
    assert.deepEqual(tf.sum(x).shape, []);
    assertClose(tf.sum(x, 0).dataSync(), tf.sum(x, 0, true).dataSync(), 1e-6, 'sum over the first axis');
    tf.dispose([x, int]);
  });

  it('a conv net gradient equals the stock cpu backend gradient', async () => {
    const build = (): tf.Sequential =>
      tf.sequential({
        layers: [
          tf.layers.conv2d({
            inputShape: [8, 8, 1],
            filters: 4,
            kernelSize: 3,
            padding: 'same',
            activation: 'relu',
            kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
            biasInitializer: 'ones',
          }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({
            units: 5,
            activation: 'relu',
            kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
            biasInitializer: 'ones',
          }),
          tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
        ],
      });
    const gradients = (): Float32Array[] => {
      const model = build();
      const x = tf.tensor4d(values(6 * 64, 7), [6, 8, 8, 1]);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), 3);
      const out = readLeakFree(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        );
        return [value, ...model.trainableWeights.map((w) => grads[w.originalName])];
      });
      tf.dispose([x, y]);
      model.dispose();
      return out;
    };
    const onNative = gradients();
    await tf.setBackend('cpu');
    const onCpu = gradients();
    await tf.setBackend('tensorflow');
    assert.equal(onNative.length, onCpu.length);
    onNative.forEach((g, i) => assertClose(g, onCpu[i], 1e-5, `gradient ${i}`));
  });
});
