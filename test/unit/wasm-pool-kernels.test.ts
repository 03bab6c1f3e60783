/**
 * The wasm max-pool gradient's 2x2 loop against its generic loop, and the
 * fused conv tail on wasm (applyForTraining's WinnowBiasReluPool kernels, the
 * SIMD kernel for channel counts divisible by 4, JS loops for others)
 * against the layers' own op chain on wasm (Add, Relu, MaxPool and their
 * gradients): values and gradients bit for bit, ties, -0, NaN and
 * infinities included (NaN pre-activations only with the sign bit clear: see
 * wasm-pool-kernels.ts); cnn-small trains to the same weights bit for bit;
 * nothing leaks.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { registerWasmKernels } from '../../activities/compute/wasm-kernels';
import { wasmPoolKernelStatus } from '../../activities/compute/wasm-pool-kernels';
import { POOL_KERNEL_WASM_BASE64 } from '../../activities/compute/wasm-pool-kernel-wasm';
import { compilePoolKernel, POOL_KERNEL_MODULE, POOL_KERNEL_WAT, poolKernelModuleText } from '../../infra/build-wasm-pool-kernel';
import { repoRoot } from '../../infra/tools';
import { buildModel } from '../../activities/ml/models';
import { applyForTraining } from '../../activities/ml/training-forward';

/** Pseudo-random quarter steps in [-2, 2]: many exact ties, both signs (relu zeroes whole windows), plus the given specials. */
function values(n: number, seed: number, specials: number[] = []): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = Math.round((state / 2 ** 31 - 1) * 8) / 4;
  }
  specials.forEach((v, i) => (out[(i * 7919) % n] = v));
  return out;
}

function sameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assert.ok(Object.is(actual[i], expected[i]), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

/** Output, loss and variable gradients of sum(model(x) * dyOf(y)) through applyForTraining and through model.apply. */
function gradsBothWays(model: tf.LayersModel, x: tf.Tensor, dyOf: (y: tf.Tensor) => tf.Tensor) {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const run = (forward: () => tf.Tensor) =>
    tf.tidy(() => {
      let out: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        out = tf.keep(forward());
        return tf.sum(tf.mul(out, dyOf(out))) as tf.Scalar;
      }, variables);
      const result = { y: (out as unknown as tf.Tensor).dataSync(), loss: value.dataSync(), grads: variables.map((v) => grads[v.name].dataSync()) };
      (out as unknown as tf.Tensor).dispose();
      return result;
    });
  return { fused: run(() => applyForTraining(model, x)), stock: run(() => model.apply(x, { training: true }) as tf.Tensor) };
}

function assertSame(both: ReturnType<typeof gradsBothWays>, what: string): void {
  sameBits(both.fused.y, both.stock.y, `${what} output`);
  sameBits(both.fused.loss, both.stock.loss, `${what} loss`);
  both.stock.grads.forEach((g, i) => sameBits(both.fused.grads[i], g, `${what} gradient ${i}`));
}

describe('wasm max-pool gradient and fused conv tail', () => {
  before(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    registerWasmKernels(tf);
  });

  it('the SIMD kernel runs on the backend memory, and its committed bytes are the WAT\'s', async () => {
    assert.deepEqual(wasmPoolKernelStatus(tf.backend()), { simd: true });
    const root = repoRoot();
    const bytes = await compilePoolKernel(readFileSync(path.join(root, POOL_KERNEL_WAT), 'utf8'));
    assert.equal(POOL_KERNEL_WASM_BASE64, Buffer.from(bytes).toString('base64'), 'stale: run node dist/infra/build-wasm-pool-kernel.js');
    assert.equal(readFileSync(path.join(root, POOL_KERNEL_MODULE), 'utf8'), poolKernelModuleText(bytes));
  });

  it('the 2x2 loop routes like the generic loop (ties, NaN, infinities, -0 in x and dy)', () => {
    const before = tf.memory().numTensors;
    for (const shape of [
      [2, 8, 6, 3],
      [1, 9, 7, 5], // odd sizes: the last row and column belong to no window
    ] as [number, number, number, number][]) {
      tf.tidy(() => {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = tf.tensor4d(values(n, 3, [NaN, -0, Infinity, -Infinity, NaN, NaN, 0, -0]), shape);
        const pooled = tf.maxPool(x, 2, 2, 'valid');
        const dy = tf.tensor(values(pooled.size, 4, [-0, NaN, Infinity, -0, -1]), pooled.shape);
        const fast = tf.grad((v: tf.Tensor) => tf.mul(tf.maxPool(v as tf.Tensor4D, 2, 2, 'valid'), dy).sum())(x);
        // The same windows through the generic loop: the tiled part padded with one row and column of
        // -Infinity (whose extra windows route nothing) and pooled with 'same' padding.
        const [, oh, ow] = pooled.shape;
        const tiled = tf.slice(x, [0, 0, 0, 0], [shape[0], 2 * oh, 2 * ow, shape[3]]);
        const generic = tf.grad((v: tf.Tensor) => {
          const padded = tf.pad(v as tf.Tensor4D, [[0, 0], [0, 1], [0, 1], [0, 0]], -Infinity);
          const p = tf.maxPool(padded, 2, 2, 'same');
          return tf.mul(tf.slice(p, [0, 0, 0, 0], pooled.shape), dy).sum();
        })(tiled);
        const expected = tf.pad(generic, [[0, 0], [0, shape[1] - 2 * oh], [0, shape[2] - 2 * ow], [0, 0]]);
        sameBits(fast.dataSync(), expected.dataSync(), `2x2 gradient ${shape}`);
      });
    }
    assert.equal(tf.memory().numTensors, before);
  });

  it('conv + bias + relu + 2x2 max pool: values and gradients equal the layers bit for bit, specials and ties included', () => {
    const before = tf.memory().numTensors;
    for (const [shape, filters, padding] of [
      [[3, 8, 6, 2], 5, 'same'], // channels not a multiple of 4: the JS loops
      [[2, 6, 8, 3], 19, 'same'],
      [[3, 8, 6, 2], 8, 'same'], // multiples of 4: the SIMD kernel
      [[2, 6, 4, 3], 32, 'same'],
      [[2, 10, 10, 3], 4, 'valid'], // 8x8 after the conv: still fused
      [[2, 9, 9, 1], 3, 'valid'], // 7x7: odd, the layers' ops
    ] as [[number, number, number, number], number, 'same' | 'valid'][]) {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: shape.slice(1), filters, kernelSize: 3, padding, activation: 'relu', kernelInitializer: 'glorotUniform' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
        ],
      });
      tf.tidy(() => model.layers[0].setWeights([tf.tensor(values(3 * 3 * shape[3] * filters, 5), [3, 3, shape[3], filters]), tf.tensor(values(filters, 6))]));
      // No NaN or infinity in x: the convolution would make NaNs with the sign bit set (Infinity * 0 on
      // x86), which the stock wasm Relu maps to 0 and the fused kernel keeps as NaN (see wasm-pool-kernels.ts).
      // 3e38 and the quarter-step filter overflow to infinities after the convolution.
      const x = tf.tensor(values(shape.reduce((a, b) => a * b), 7, [3e38, -3e38, -0, 0, 1e30, -1e30]), shape);
      const both = gradsBothWays(model, x, (y) => tf.tensor(values(y.size, 8, [Infinity, -3, -Infinity, NaN, -0]), y.shape));
      assertSame(both, `shape ${shape} ${padding}`);
      const clean = tf.tensor(values(shape.reduce((a, b) => a * b), 9), shape);
      assertSame(gradsBothWays(model, clean, (y) => tf.tensor(values(y.size, 10, [-0]), y.shape)), `shape ${shape} ${padding}, finite`);
      x.dispose();
      clean.dispose();
      model.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
  });

  for (const channels of [21, 24]) {
  it(`the kernels themselves (${channels} channels): pooled values and both gradients equal Add, Relu, MaxPool and their gradients bit for bit`, () => {
    const before = tf.memory().numTensors;
    const shape: [number, number, number, number] = [3, 6, 4, channels];
    tf.tidy(() => {
      // Specials in every slot of some windows: NaN top-left (pooled -Infinity), NaN elsewhere, all-NaN windows.
      const specials = [NaN, Infinity, -Infinity, -0, 0, 1e30, NaN, NaN, NaN, NaN, -1e30];
      const x = tf.tensor(values(3 * 6 * 4 * channels, 21, specials), shape);
      for (let w = 0; w < 4; w++) x.bufferSync().set(NaN, 1, 2, 2 + (w & 1), w >> 1 ? 1 : 0);
      const bias = tf.tensor(values(channels, 22, [-0]));
      const [y, codes] = tf.engine().runKernel('WinnowBiasReluPool', { x, bias }, {}) as tf.Tensor[];
      const stock = (v: tf.Tensor, b: tf.Tensor) => tf.maxPool(tf.relu(tf.add(v, b)) as tf.Tensor4D, 2, 2, 'valid');
      sameBits(y.dataSync(), stock(x, bias).dataSync(), 'pooled');
      const dy = tf.tensor(values(y.size, 23, [Infinity, -Infinity, NaN, -0, -5]), y.shape);
      const [dx, db] = tf.engine().runKernel('WinnowBiasReluPoolGrad', { dy, code: codes }, {}) as tf.Tensor[];
      const [wantDx, wantDb] = tf.grads(stock)([x, bias], dy);
      sameBits(dx.dataSync(), wantDx.dataSync(), 'input gradient');
      sameBits(db.dataSync(), wantDb.dataSync(), 'bias gradient');
    });
    assert.equal(tf.memory().numTensors, before);
  });
  }

  for (const optimizer of ['adam', 'momentum'] as const) {
    it(`cnn-small trains to the same weights bit for bit (${optimizer}, 3 steps), without leaks`, () => {
      const spec = { name: 'cnn-small' as const, inputShape: [28, 28, 1] as [number, number, number], numClasses: 10, width: 0.25, seed: 4 };
      const x = tf.tensor(values(16 * 28 * 28, 15), [16, 28, 28, 1]);
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => (i * 7) % 10), 'int32'), 10);
      const train = (forward: (model: tf.LayersModel) => tf.Tensor) => {
        const model = buildModel(spec);
        const opt = optimizer === 'adam' ? tf.train.adam(1e-2, 0.9, 0.999) : tf.train.momentum(0.05, 0.9);
        const losses: number[] = [];
        for (let step = 0; step < 3; step++) {
          const before = tf.memory();
          const backendBefore = tf.backend().numDataIds();
          const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(model)) as tf.Scalar, true) as tf.Scalar;
          losses.push(loss.dataSync()[0]);
          loss.dispose();
          // Optimizer slots appear in the first step only.
          if (step > 0) {
            assert.equal(tf.memory().numTensors, before.numTensors, `step ${step} leaked tensors`);
            assert.equal(tf.memory().numDataBuffers, before.numDataBuffers, `step ${step} leaked buffers`);
            assert.equal(tf.backend().numDataIds(), backendBefore, `step ${step} leaked wasm backend buffers`);
          }
        }
        const weights = model.getWeights().map((w) => w.dataSync());
        opt.dispose();
        model.dispose();
        return { losses, weights };
      };
      const fused = train((model) => applyForTraining(model, x));
      const stock = train((model) => model.apply(x, { training: true }) as tf.Tensor);
      sameBits(fused.losses, stock.losses, 'losses');
      assert.ok(stock.losses[2] < stock.losses[0], `it learns: ${stock.losses}`);
      stock.weights.forEach((w, i) => sameBits(fused.weights[i], w, `weight ${i}`));
      x.dispose();
      y.dispose();
    });
  }
});
