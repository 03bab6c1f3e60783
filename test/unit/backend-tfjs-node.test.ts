/**
 * The native tfjs-node backend, when infra/install-tfjs-node.sh has built its
 * addon: it loads through the backend chooser and its Step and relu-gradient
 * overrides agree with the stock cpu kernels (the relu gradient at a NaN input
 * is 0 instead of NaN: TensorFlow's ReluGrad). Without the addon, the chooser
 * says why.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { chooseComputeBackend } from '../../compute/backend';

function addonBuilt(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- node-pre-gyp has no types; loaded only to locate the addon
    const { find } = require('@mapbox/node-pre-gyp') as { find: (p: string) => string };
    return fs.existsSync(find(path.resolve(require.resolve('@tensorflow/tfjs-node/package.json'))));
  } catch {
    return false;
  }
}

const special = [-3, -1e-30, 0, -0, 1e-30, 2.5, Infinity, -Infinity, NaN];

describe('tfjs-node backend', () => {
  it('loads with its kernels when built, or names the missing addon', async () => {
    if (!addonBuilt()) {
      await assert.rejects(chooseComputeBackend('tfjs-node'), /tfjs-node: .*tfjs_binding\.node/);
      return;
    }
    const backend = await chooseComputeBackend('tfjs-node');
    assert.ok(backend.tf.engine() === tf.engine(), 'tfjs-node shares the one @tensorflow/tfjs engine');
    assert.equal(tf.getBackend(), 'tensorflow');
    const onNative = tf.tidy(() => ({
      step: Array.from(tf.step(tf.tensor1d(special)).dataSync()),
      leaky: Array.from(tf.step(tf.tensor1d(special), 0.2).dataSync()),
      grad: Array.from(
        tf
          .grad((v) =>
            tf
              .relu(v)
              .mul(tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8, 9]))
              .sum(),
          )(tf.tensor1d(special))
          .dataSync(),
      ),
    }));
    await tf.setBackend('cpu');
    const onCpu = tf.tidy(() => ({
      step: Array.from(tf.step(tf.tensor1d(special)).dataSync()),
      leaky: Array.from(tf.step(tf.tensor1d(special), 0.2).dataSync()),
      grad: Array.from(
        tf
          .grad((v) =>
            tf
              .relu(v)
              .mul(tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8, 9]))
              .sum(),
          )(tf.tensor1d(special))
          .dataSync(),
      ),
    }));
    await tf.setBackend('tensorflow');
    assert.deepEqual(onNative.step, onCpu.step);
    assert.deepEqual(onNative.leaky, onCpu.leaky);
    const nan = special.findIndex(Number.isNaN);
    assert.ok(Number.isNaN(onCpu.grad[nan]) && onNative.grad[nan] === 0, 'relu gradient at NaN: stock NaN, ReluGrad 0');
    assert.deepEqual(
      onNative.grad.filter((_, i) => i !== nan),
      onCpu.grad.filter((_, i) => i !== nan),
    );
  });
});
