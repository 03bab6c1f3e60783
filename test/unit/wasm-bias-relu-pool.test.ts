/**
 * The wasm max-pool gradient's 2x2 loop against its generic loop, and the
 * fused conv tail on wasm (applyForTraining's WinnowBiasReluPool kernels, the
 * SIMD kernel for channel counts divisible by 4, JS loops for others)
 * against the layers' own op chain on wasm (Add, Relu, MaxPool and their
 * gradients): values and gradients bit for bit, ties, -0, NaN and
 * infinities included (NaN pre-activations only with the sign bit clear: see
 * bias-relu-pool.ts, bias-relu-pool-grad.ts); cnn-small trains to the same weights bit for bit;
 * nothing leaks.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { simdKernelStatus } from '../../kernels/wasm/simd-kernels';
import { SIMD_KERNELS_WASM_BASE64 } from '../../kernels/generated/simd-kernels-wasm';
import { compileWat, SIMD_KERNELS, watModuleText } from '../../kernels/wat-module';
import { repoRoot } from '../../infra/tools';
import { buildModel } from '../../domain/ml/models';
import { applyForTraining } from '../../domain/ml/training-forward';
import { assertSame, close, countCalls, gradsBothWays, sameBits, values } from '../helpers/training-compare';
import { useWasmWithWinnowKernels } from '../helpers/wasm-backend';

describe('wasm max-pool gradient and fused conv tail', () => {
  before(useWasmWithWinnowKernels);

  it("the SIMD kernel runs on the backend memory, and its committed bytes are the WAT's", async () => {
    assert.deepEqual(simdKernelStatus(tf.backend()), { simd: true });
    const root = repoRoot();
    const bytes = await compileWat(SIMD_KERNELS, readFileSync(path.join(root, SIMD_KERNELS.wat), 'utf8'));
    assert.equal(SIMD_KERNELS_WASM_BASE64, Buffer.from(bytes).toString('base64'), 'stale: run npm run build:wat');
    assert.equal(readFileSync(path.join(root, SIMD_KERNELS.module), 'utf8'), watModuleText(SIMD_KERNELS, bytes));
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
          const padded = tf.pad(
            v as tf.Tensor4D,
            [
              [0, 0],
              [0, 1],
              [0, 1],
              [0, 0],
            ],
            -Infinity,
          );
          const p = tf.maxPool(padded, 2, 2, 'same');
          return tf.mul(tf.slice(p, [0, 0, 0, 0], pooled.shape), dy).sum();
        })(tiled);
        const expected = tf.pad(generic, [
          [0, 0],
          [0, shape[1] - 2 * oh],
          [0, shape[2] - 2 * ow],
          [0, 0],
        ]);
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
          tf.layers.conv2d({
            inputShape: shape.slice(1),
            filters,
            kernelSize: 3,
            padding,
            activation: 'relu',
            kernelInitializer: 'glorotUniform',
          }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
        ],
      });
      tf.tidy(() =>
        model.layers[0].setWeights([
          tf.tensor(values(3 * 3 * shape[3] * filters, 5), [3, 3, shape[3], filters]),
          tf.tensor(values(filters, 6)),
        ]),
      );
      // No NaN or infinity in x: the convolution would make NaNs with the sign bit set (Infinity * 0 on
      // x86), which the stock wasm Relu maps to 0 and the fused kernel keeps as NaN (see docs/kernels.md).
      // 3e38 and the quarter-step filter overflow to infinities after the convolution.
      const x = tf.tensor(
        values(
          shape.reduce((a, b) => a * b),
          7,
          [3e38, -3e38, -0, 0, 1e30, -1e30],
        ),
        shape,
      );
      const both = gradsBothWays(model, x, (y) =>
        tf.tensor(values(y.size, 8, [Infinity, -3, -Infinity, NaN, -0]), y.shape),
      );
      assertSame(both, `shape ${shape} ${padding}`);
      const clean = tf.tensor(
        values(
          shape.reduce((a, b) => a * b),
          9,
        ),
        shape,
      );
      assertSame(
        gradsBothWays(model, clean, (y) => tf.tensor(values(y.size, 10, [-0]), y.shape)),
        `shape ${shape} ${padding}, finite`,
      );
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

  /** Three optimizer steps of a fresh model through `forward`; the losses and final weights. Checks that no step after the first leaks. */
  function trainSteps(
    build: () => tf.LayersModel,
    optimizer: 'adam' | 'momentum',
    y: tf.Tensor,
    forward: (model: tf.LayersModel) => tf.Tensor,
  ) {
    const model = build();
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
  }

  /** Training batch: 16 quarter-step images and their one-hot labels. */
  function batch(shape: number[]): { x: tf.Tensor; y: tf.Tensor } {
    const x = tf.tensor(
      values(
        shape.reduce((a, b) => a * b),
        15,
      ),
      shape,
    );
    const y = tf.oneHot(
      tf.tensor1d(
        Array.from({ length: shape[0] }, (_, i) => (i * 7) % 10),
        'int32',
      ),
      10,
    );
    return { x, y };
  }

  // Strided convolutions keep the stock convolution gradients; only their tail is fused, bit for bit.
  for (const optimizer of ['adam', 'momentum'] as const) {
    it(`a strided CNN trains to the same weights bit for bit (${optimizer}, 3 steps), without leaks`, () => {
      const build = () =>
        tf.sequential({
          layers: [
            tf.layers.conv2d({
              inputShape: [16, 16, 3],
              filters: 8,
              kernelSize: 3,
              strides: 2,
              padding: 'same',
              activation: 'relu',
              kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
            }),
            tf.layers.maxPooling2d({ poolSize: 2 }),
            tf.layers.conv2d({
              filters: 8,
              kernelSize: 3,
              strides: 2,
              padding: 'same',
              activation: 'relu',
              kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
            }),
            tf.layers.maxPooling2d({ poolSize: 2 }),
            tf.layers.flatten(),
            tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
          ],
        });
      const { x, y } = batch([16, 16, 16, 3]);
      const ran = countCalls(tf.engine(), 'runKernel', 'WinnowBiasReluPool');
      const fused = trainSteps(build, optimizer, y, (model) => applyForTraining(model, x));
      // The fused tail ran in both blocks in each of the three steps (else this would compare the layers with themselves).
      assert.deepEqual(ran.stop(), { WinnowBiasReluPool: 6, WinnowBiasReluPoolGrad: 6 });
      const stock = trainSteps(build, optimizer, y, (model) => model.apply(x, { training: true }) as tf.Tensor);
      sameBits(fused.losses, stock.losses, 'losses');
      assert.ok(stock.losses[2] < stock.losses[0], `it learns: ${stock.losses}`);
      stock.weights.forEach((w, i) => sameBits(fused.weights[i], w, `weight ${i}`));
      tf.dispose([x, y]);
    });
  }

  // cnn-small's second block is a stride-1 block with 8 input channels: routed gradients (conv-pool-*-grad.ts),
  // so the same weights within rounding (momentum only: Adam's normalised step blows a tiny gradient difference up).
  it('cnn-small trains to the same weights within rounding (momentum, 3 steps), without leaks', () => {
    const spec = {
      name: 'cnn-small' as const,
      inputShape: [28, 28, 1] as [number, number, number],
      numClasses: 10,
      width: 0.25,
      seed: 4,
    };
    const { x, y } = batch([16, 28, 28, 1]);
    const ran = countCalls(tf.engine(), 'runKernel', 'WinnowConvPool');
    const fused = trainSteps(
      () => buildModel(spec),
      'momentum',
      y,
      (model) => applyForTraining(model, x),
    );
    assert.deepEqual(
      ran.stop(),
      { WinnowConvPoolFilterGrad: 3, WinnowConvPoolInputGrad: 3 },
      'the second block is routed in each step',
    );
    const stock = trainSteps(
      () => buildModel(spec),
      'momentum',
      y,
      (model) => model.apply(x, { training: true }) as tf.Tensor,
    );
    assert.ok(stock.losses[2] < stock.losses[0], `it learns: ${stock.losses}`);
    close(fused.losses, stock.losses, 1e-5, 'losses');
    stock.weights.forEach((w, i) => close(fused.weights[i], w, 1e-4, `weight ${i}`));
    tf.dispose([x, y]);
  });
});
