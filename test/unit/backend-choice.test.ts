/**
 * Backend choice: tfjs-node-gpu, then tfjs-node, then wasm with winnow's
 * gradient kernels; a missing native addon is a clean fallback, not a crash.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Tensor4D } from '@tensorflow/tfjs';
import { chooseComputeBackend, type ModuleLoader } from '../../compute/backend';
import type { ComputeProbe } from '../../compute/probe';
import { runInChild } from '../../compute/run-child';

/** A loader on which the native packages fail the way they do when not installed / not built. */
const withoutNative: ModuleLoader = (name) => {
  if (name === '@tensorflow/tfjs-node-gpu') throw new Error(`Cannot find module '${name}'`);
  if (name === '@tensorflow/tfjs-node') {
    throw new Error(
      'The Node.js native addon module (tfjs_binding.node) can not be found at path: lib/napi-v8/tfjs_binding.node.\nPlease run command ...',
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module under test loads at run time, as in production
  return require(name);
};

/** Where tfjs-node's loader looks for the addon (built by infra/install-tfjs-node.sh). */
function tfjsNodeAddonBuilt(): boolean {
  try {
    const pkg = require.resolve('@tensorflow/tfjs-node/package.json');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- node-pre-gyp has no types; loaded only to locate the addon
    const { find } = require('@mapbox/node-pre-gyp') as { find: (p: string) => string };
    return fs.existsSync(find(path.resolve(pkg)));
  } catch {
    return false;
  }
}

describe('compute backend choice', () => {
  it('falls back to wasm, with its gradient kernels, when no native addon loads', async () => {
    const backend = await chooseComputeBackend('auto', withoutNative);
    assert.equal(backend.name, 'wasm');
    assert.equal(backend.tf.getBackend(), 'wasm');
    assert.equal(backend.skipped.length, 2);
    assert.match(backend.skipped[0], /^tfjs-node-gpu: Cannot find module/);
    assert.match(
      backend.skipped[1],
      /^tfjs-node: The Node.js native addon module \(tfjs_binding.node\) can not be found/,
    );
    assert.ok(backend.tf.getKernel('Conv2DBackpropFilter', 'wasm'), 'wasm filter-gradient kernel registered');
    // A conv gradient runs (the stock wasm backend throws here).
    const { tf } = backend;
    const x = tf.ones([1, 4, 4, 1]) as Tensor4D;
    const filter = tf.ones([3, 3, 1, 1]) as Tensor4D;
    const grad = tf.tidy(() =>
      tf
        .grad((f) => tf.conv2d(x, f as typeof filter, 1, 'same').sum())(filter)
        .dataSync(),
    );
    // d/dw of the sum of a 'same' 3x3 convolution of a 4x4 image of ones: the
    // number of output positions whose window puts that tap inside the image.
    assert.deepEqual(Array.from(grad), [9, 12, 9, 12, 16, 12, 9, 12, 9]);
    x.dispose();
    filter.dispose();
  });

  it('names the reason when the forced backend cannot load', async () => {
    await assert.rejects(
      chooseComputeBackend('tfjs-node', withoutNative),
      /no compute backend could be loaded \(tfjs-node: The Node.js native addon module/,
    );
  });

  it('auto picks tfjs-node when its addon is built, else wasm, and both compute the same', async () => {
    const auto = await runInChild<ComputeProbe>('probe', {}, { env: { WINNOW_BACKEND: '' } });
    const wasm = await runInChild<ComputeProbe>('probe', {}, { env: { WINNOW_BACKEND: 'wasm' } });
    if (tfjsNodeAddonBuilt()) {
      assert.equal(auto.backend, 'tfjs-node');
      assert.deepEqual(
        auto.skipped.map((s) => s.split(':')[0]),
        ['tfjs-node-gpu'],
      );
    } else {
      assert.equal(auto.backend, 'wasm');
      assert.ok(
        auto.skipped.some((s) => s.startsWith('tfjs-node:')),
        auto.skipped.join('; '),
      );
    }
    assert.equal(wasm.backend, 'wasm');
    assert.ok(
      Math.abs(auto.checksum - wasm.checksum) <= 1e-4 * Math.abs(wasm.checksum),
      `${auto.checksum} vs ${wasm.checksum}`,
    );
  });
});
