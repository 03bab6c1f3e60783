/**
 * winnow's native TensorFlow ops (native/winnow-tf-ops, infra/build-tf-ops.sh)
 * through the tfjs-node backend: the 2x2 max-pool gradient equals
 * TensorFlow's own MaxPoolGrad bit for bit (ties, NaN, infinities included),
 * other pools still take the stock kernel, and nothing leaks. Skipped when the
 * tfjs-node addon or the ops addon is not built.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { chooseComputeBackend } from '../../activities/compute/backend';
import { loadWinnowTfOps, winnowTfOpsPath } from '../../activities/compute/tfjs-node-native-ops';
import { nodeBackend, type OpAttr } from '../../activities/compute/tfjs-node-ops';

function tfjsNodeBuilt(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { find } = require('@mapbox/node-pre-gyp') as { find: (p: string) => string };
    return fs.existsSync(find(path.resolve(require.resolve('@tensorflow/tfjs-node/package.json'))));
  } catch {
    return false;
  }
}

const opsFile = winnowTfOpsPath();
const skip = !tfjsNodeBuilt() ? 'tfjs-node addon not built' : !opsFile || !fs.existsSync(opsFile) ? `winnow TensorFlow ops not built at ${opsFile}` : false;

/** TensorFlow's MaxPoolGrad called directly: what the stock tfjs-node kernel runs. */
function stockMaxPoolGrad(x: tf.Tensor4D, y: tf.Tensor4D, dy: tf.Tensor4D, size: number, stride: number, padding: 'VALID' | 'SAME'): tf.Tensor {
  const backend = nodeBackend(tf.backend());
  const { TF_ATTR_TYPE, TF_FLOAT } = backend.binding;
  const int = (tf.backend() as unknown as { binding: { TF_ATTR_INT: number } }).binding.TF_ATTR_INT;
  const attrs: OpAttr[] = [
    { name: 'T', type: TF_ATTR_TYPE, value: TF_FLOAT },
    { name: 'ksize', type: int, value: [1, size, size, 1] },
    { name: 'strides', type: int, value: [1, stride, stride, 1] },
    { name: 'padding', type: backend.binding.TF_ATTR_STRING, value: padding },
    { name: 'data_format', type: backend.binding.TF_ATTR_STRING, value: 'NHWC' },
  ];
  return backend.executeSingleOutput('MaxPoolGrad', attrs, [x, y, dy]);
}

/** Pseudo-random values with many exact ties: relu'd and rounded to quarters, so whole windows are often equal. */
function tiedValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = Math.max(0, Math.round((state / 2 ** 31 - 1) * 8) / 4);
  }
  return out;
}

function sameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assert.ok(Object.is(actual[i], expected[i]), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

describe('winnow native TensorFlow ops on tfjs-node', { skip }, () => {
  before(async () => {
    await chooseComputeBackend('tfjs-node');
    await tf.setBackend('tensorflow');
  });

  it('load and replace MaxPoolGrad', () => {
    assert.ok(loadWinnowTfOps().ops, 'ops loaded');
    assert.equal(loadWinnowTfOps().ops?.maxPool2x2Grad, 'WinnowMaxPool2x2Grad');
  });

  it('2x2 max-pool gradient equals TensorFlow MaxPoolGrad bit for bit, without leaks', () => {
    for (const [shape, padding] of [
      [[3, 8, 6, 5], 'valid'],
      [[2, 4, 4, 1], 'same'],
      [[4, 28, 28, 32], 'valid'],
      [[1, 2, 2, 3], 'valid'],
    ] as const) {
      const size = shape.reduce((a: number, b: number) => a * b, 1);
      const values = tiedValues(size, size);
      // NaN and infinities in some windows: TensorFlow keeps the first element unless a later one is strictly greater.
      values.set([NaN, 1, -Infinity, Infinity, 2, NaN, -0, 0], 0);
      const x = tf.tensor4d(values, [...shape]);
      const y = tf.maxPool(x, 2, 2, padding);
      const dy = tf.tensor4d(tiedValues(y.size, 7).map((v, i) => v - i), y.shape);
      const before = tf.memory().numTensors;
      const ours = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: padding }) as tf.Tensor;
      const viaGrad = tf.grad((v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, 2, 2, padding).mul(dy).sum())(x);
      assert.equal(tf.memory().numTensors, before + 2, 'only the two results are new');
      const stock = stockMaxPoolGrad(x, y, dy, 2, 2, padding === 'valid' ? 'VALID' : 'SAME');
      sameBits(ours.dataSync(), stock.dataSync(), `[${shape}] ${padding}`);
      sameBits(viaGrad.dataSync(), stock.dataSync(), `tf.grad [${shape}] ${padding}`);
      tf.dispose([x, y, dy, ours, viaGrad, stock]);
    }
  });

  it('other pools keep the stock kernel', () => {
    for (const [shape, size, stride, padding] of [
      [[2, 5, 5, 3], 2, 2, 'same'],
      [[2, 6, 6, 3], 3, 2, 'same'],
      [[2, 6, 6, 3], 2, 1, 'valid'],
      [[2, 7, 6, 3], 2, 2, 'valid'],
    ] as const) {
      const x = tf.tensor4d(tiedValues(shape.reduce((a: number, b: number) => a * b, 1), 3), [...shape]);
      const y = tf.maxPool(x, size, stride, padding);
      const dy = tf.onesLike(y);
      const ours = tf.grad((v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, size, stride, padding).mul(dy).sum())(x);
      const stock = stockMaxPoolGrad(x, y, dy, size, stride, padding === 'valid' ? 'VALID' : 'SAME');
      sameBits(ours.dataSync(), stock.dataSync(), `[${shape}] ${size}/${stride} ${padding}`);
      tf.dispose([x, y, dy, ours, stock]);
    }
  });

  it('reject inputs the op does not cover', () => {
    const backend = nodeBackend(tf.backend());
    const x = tf.zeros([1, 3, 4, 1]);
    const dy = tf.zeros([1, 1, 2, 1]);
    assert.throws(() => backend.executeSingleOutput('WinnowMaxPool2x2Grad', [], [x, dy]), /even H and W/);
    tf.dispose([x, dy]);
  });
});
