/**
 * The fused training forward pass (domain/ml/training-forward.ts) on
 * tfjs-node with winnow's native ops. The conv tail of strided convolutions
 * (bias, relu, 2x2 max pool) and dense bias + relu give the values and
 * gradients of tfjs's own op chain bit for bit (ties, -0, NaN and infinities
 * included), and a strided CNN trains to the same weights bit for bit. The
 * fused stride-1 blocks (grey first block, filter gradients from the pooled
 * gradient) equal the layers bit for bit where every sum is exact
 * (quarter-step values: the summation order cannot show) and within float32
 * rounding otherwise; cnn-small trains to the same weights within rounding.
 * Other models and shapes take the layers' path, and nothing leaks. Skipped
 * when the tfjs-node addon or the ops addon is not built.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { skipWithoutWinnowTfOps } from '../helpers/native-addons';
import { chooseComputeBackend } from '../../compute/backend';
import { FusedAdamOptimizer, FusedMomentumOptimizer } from '../../domain/ml/fused-optimizers';
import { loadWinnowTfOps } from '../../kernels/tfjs-node/tfjs-node-native-ops';
import { floatType, nodeBackend } from '../../kernels/tfjs-node/tfjs-node-ops';
import { buildModel } from '../../domain/ml/models';
import { applyForTraining } from '../../domain/ml/training-forward';
import {
  assertSame,
  close,
  countCalls,
  gradsBothWays,
  noisy,
  sameBits,
  twoBlocks,
  values,
} from '../helpers/training-compare';

const skip = skipWithoutWinnowTfOps();

/** Counts the fused convolution ops' calls by name until stop() (they run through executeMultipleOutputs). */
const spyOps = () => countCalls(tf.backend(), 'executeMultipleOutputs', 'WinnowConv');

/** A grey-image conv block (conv with relu, then a 2x2 max pool) with the given kernel and bias values. */
function greyBlock(
  shape: number[],
  filters: number,
  kernelSize: number,
  padding: 'same' | 'valid',
  kernel: Float32Array,
  bias: Float32Array,
) {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: shape.slice(1), filters, kernelSize, padding, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
    ],
  });
  tf.tidy(() => model.layers[0].setWeights([tf.tensor(kernel, [kernelSize, kernelSize, 1, filters]), tf.tensor(bias)]));
  return model;
}

/** Three optimizer steps of a fresh model; the losses and final weights. Checks that no step after the first leaks. */
function trainSteps(
  build: () => tf.LayersModel,
  optimizer: 'adam' | 'momentum',
  x: tf.Tensor,
  y: tf.Tensor,
  forward: (model: tf.LayersModel, x: tf.Tensor) => tf.Tensor,
): { losses: number[]; weights: Float32Array[] } {
  const model = build();
  const opt = optimizer === 'adam' ? new FusedAdamOptimizer(2e-3, 0.9, 0.999) : new FusedMomentumOptimizer(0.05, 0.9);
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    const before = tf.memory().numTensors;
    const loss = opt.minimize(
      () => tf.losses.softmaxCrossEntropy(y, forward(model, x)) as tf.Scalar,
      true,
    ) as tf.Scalar;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
    // Optimizer slots appear in the first step only.
    if (step > 0) assert.equal(tf.memory().numTensors, before, `step ${step} leaked`);
  }
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  opt.dispose();
  model.dispose();
  return { losses, weights };
}

describe('fused training forward on tfjs-node', { skip }, () => {
  before(async () => {
    await chooseComputeBackend('tfjs-node');
    await tf.setBackend('tensorflow');
  });

  it('the addon has the fused ops (else every comparison below would run the stock path twice)', () => {
    assert.equal(loadWinnowTfOps().ops?.biasReluPool, 'WinnowBiasReluPool', 'rebuild: bash infra/build-tf-ops.sh');
    assert.equal(loadWinnowTfOps().ops?.biasReluPoolGrad, 'WinnowBiasReluPoolGrad');
    assert.equal(loadWinnowTfOps().ops?.convIn1BiasReluPool, 'WinnowConvIn1BiasReluPool');
  });

  it("grey first block: exact sums give the layers' values and filter and bias gradients bit for bit, ties and signed zeros included", () => {
    const before = tf.memory().numTensors;
    const ran = spyOps();
    for (const [shape, filters, kernelSize, padding] of [
      [[3, 8, 6, 1], 32, 3, 'same'], // channels in blocks of 8
      [[2, 6, 10, 1], 5, 3, 'same'], // one channel at a time
      [[2, 10, 12, 1], 19, 3, 'valid'], // 8x10 after the conv
      [[2, 9, 9, 1], 8, 2, 'valid'], // an even-sized filter: 8x8
      [[2, 8, 8, 1], 8, 4, 'same'], // padding 1 before, 2 after
      [[2, 12, 12, 1], 16, 5, 'same'],
    ] as [number[], number, number, 'same' | 'valid'][]) {
      const size = shape.reduce((a, b) => a * b);
      const model = greyBlock(
        shape,
        filters,
        kernelSize,
        padding,
        values(kernelSize * kernelSize * filters, 31),
        values(filters, 32),
      );
      const what = `grey ${shape} ${filters} filters ${kernelSize}x${kernelSize} ${padding}`;
      // Non-finite pixels or gradients: the outputs match, the filter gradients' NaNs need not: TensorFlow's
      // kernel forms some 0 * Inf products (of non-routed or padded positions) and skips others.
      const special = tf.tensor(values(size, 33, [NaN, Infinity, -Infinity, -0, 0]), shape);
      const outputs = gradsBothWays(model, special, (y) => tf.tensor(values(y.size, 34), y.shape));
      sameBits(outputs.fused.y, outputs.stock.y, `${what} output, non-finite pixels`);
      const x = tf.tensor(values(size, 35, [-0, 0]), shape);
      assertSame(
        gradsBothWays(model, x, (y) => tf.tensor(values(y.size, 36, [-0, -3, 0]), y.shape)),
        what,
      );
      tf.dispose([x, special]);
      model.dispose();
    }
    // 6 shapes, two fused forward and backward passes each (the other two are the layers').
    assert.deepEqual(ran.stop(), { WinnowConvIn1BiasReluPool: 12, WinnowConvIn1BiasReluPoolGrad: 12 });
    assert.equal(tf.memory().numTensors, before);
  });

  it('grey first block: general floats agree with the layers within float32 rounding', () => {
    const before = tf.memory().numTensors;
    for (const [shape, filters, padding] of [
      [[16, 28, 28, 1], 32, 'same'],
      [[4, 12, 10, 1], 7, 'valid'],
    ] as [number[], number, 'same' | 'valid'][]) {
      const size = shape.reduce((a, b) => a * b);
      const model = greyBlock(shape, filters, 3, padding, noisy(9 * filters, 41), noisy(filters, 42));
      const x = tf.tensor(noisy(size, 43), shape);
      const both = gradsBothWays(model, x, (y) => tf.tensor(noisy(y.size, 44), y.shape));
      const what = `grey ${shape} ${padding}`;
      close(both.fused.y, both.stock.y, 1e-6, `${what} output`);
      close(both.fused.loss, both.stock.loss, 1e-5, `${what} loss`);
      both.stock.grads.forEach((g, i) => close(both.fused.grads[i], g, 1e-5, `${what} gradient ${i}`));
      x.dispose();
      model.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
  });

  it('strided conv + bias + relu + 2x2 max pool (fused tail only): values and gradients equal the layers bit for bit, specials and ties included', () => {
    const before = tf.memory().numTensors;
    for (const [shape, filters, padding] of [
      [[3, 16, 12, 2], 5, 'same'],
      [[2, 12, 16, 3], 19, 'same'], // 19 channels: the vectorised loop and its remainder
      [[2, 21, 21, 3], 4, 'valid'], // 10x10 after the conv: still fused
      [[2, 17, 17, 1], 3, 'valid'], // 8x8
      [[2, 15, 15, 1], 3, 'valid'], // 7x7: odd, the unfused fallback
    ] as [[number, number, number, number], number, 'same' | 'valid'][]) {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({
            inputShape: shape.slice(1),
            filters,
            kernelSize: 3,
            strides: 2,
            padding,
            activation: 'relu',
          }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
        ],
      });
      // Quarter-step kernel and bias values make exact ties and exact zeros after the bias.
      tf.tidy(() =>
        model.layers[0].setWeights([
          tf.tensor(values(3 * 3 * shape[3] * filters, 5), [3, 3, shape[3], filters]),
          tf.tensor(values(filters, 6)),
        ]),
      );
      const x = tf.tensor(
        values(
          shape.reduce((a, b) => a * b),
          7,
          [NaN, Infinity, -Infinity, -0, 0, NaN, 1e30, -1e30],
        ),
        shape,
      );
      // dy with negatives (ReluGrad's dy * 0 gives -0 there) and an infinity (Inf * 0 is NaN).
      const both = gradsBothWays(model, x, (y) =>
        tf.tensor(values(y.size, 8, [Infinity, -3, -Infinity, NaN]), y.shape),
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
        gradsBothWays(model, clean, (y) => tf.tensor(values(y.size, 10), y.shape)),
        `shape ${shape} ${padding}, finite`,
      );
      x.dispose();
      clean.dispose();
      model.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
  });

  it("stride-1 conv blocks (fused, the second taking its input gradient): exact sums give the layers' values and gradients bit for bit", () => {
    const before = tf.memory().numTensors;
    const ran = spyOps();
    const ranSingle = countCalls(tf.backend(), 'executeSingleOutput', 'WinnowConv');
    for (const [shape, filters, padding] of [
      [[3, 16, 12, 2], 32, 'same'], // 32 input channels in the second block: the 12-accumulator path
      [[2, 12, 16, 3], 19, 'same'], // 19: single channels
      [[2, 22, 22, 3], 8, 'valid'], // 20x20, then 8x8
      [[2, 13, 13, 2], 4, 'same'], // 13x13: odd, the unfused fallback for the first block; 6x6 for the second
    ] as [[number, number, number, number], number, 'same' | 'valid'][]) {
      const model = twoBlocks(shape, filters, padding, (n, seed) => values(n, seed));
      const what = `two blocks ${shape} ${filters} ${padding}`;
      // Non-finite pixels: outputs match; the filter gradients' NaNs need not (see the grey block above).
      const special = tf.tensor(
        values(
          shape.reduce((a, b) => a * b),
          51,
          [NaN, Infinity, -Infinity, -0, 0],
        ),
        shape,
      );
      const outputs = gradsBothWays(model, special, (y) => tf.tensor(values(y.size, 52), y.shape));
      sameBits(outputs.fused.y, outputs.stock.y, `${what} output, non-finite pixels`);
      const x = tf.tensor(
        values(
          shape.reduce((a, b) => a * b),
          53,
          [-0, 0],
        ),
        shape,
      );
      assertSame(
        gradsBothWays(model, x, (y) => tf.tensor(values(y.size, 54, [-0, -3, 0]), y.shape)),
        what,
      );
      tf.dispose([special, x]);
      model.dispose();
    }
    // Three shapes fuse both blocks' filter gradients, the fourth only the second's; two backward passes each.
    assert.deepEqual(ran.stop(), { WinnowConvPoolFilterGrad: 14 });
    // The second block's input gradient, in all four.
    assert.deepEqual(ranSingle.stop(), { WinnowConvPoolInputGrad: 8 });
    assert.equal(tf.memory().numTensors, before);
  });

  it('stride-1 conv blocks: general floats agree with the layers within float32 rounding', () => {
    const before = tf.memory().numTensors;
    const model = twoBlocks([8, 20, 20, 3], 32, 'same', noisy);
    const x = tf.tensor(noisy(8 * 20 * 20 * 3, 61), [8, 20, 20, 3]);
    const both = gradsBothWays(model, x, (y) => tf.tensor(noisy(y.size, 62), y.shape));
    close(both.fused.y, both.stock.y, 1e-6, 'output');
    both.stock.grads.forEach((g, i) => close(both.fused.grads[i], g, 1e-5, `gradient ${i}`));
    x.dispose();
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('the ops themselves: pooled values and the input gradient equal Add, Relu, MaxPool, MaxPoolGrad and ReluGrad bit for bit', () => {
    const before = tf.memory().numTensors;
    const ops = loadWinnowTfOps().ops;
    assert.ok(ops?.biasReluPool && ops.biasReluPoolGrad);
    const backend = nodeBackend(tf.backend());
    const shape: [number, number, number, number] = [3, 6, 4, 21];
    tf.tidy(() => {
      const x = tf.tensor(values(3 * 6 * 4 * 21, 21, [NaN, Infinity, -Infinity, -0, 0, 1e30]), shape);
      const bias = tf.tensor(values(21, 22, [-0]));
      const [y, slots] = backend.executeMultipleOutputs(ops.biasReluPool, [], [x, bias], 2);
      const pre = tf.add(x, bias);
      const relu = tf.relu(pre);
      sameBits(y.dataSync(), tf.maxPool(relu as tf.Tensor4D, 2, 2, 'valid').dataSync(), 'pooled');
      const dy = tf.tensor(values(y.size, 23, [Infinity, -Infinity, NaN, -0, -5]), y.shape);
      const dx = backend.executeSingleOutput(ops.biasReluPoolGrad, [], [dy, slots]);
      const routed = tf.grad((r: tf.Tensor) => tf.maxPool(r as tf.Tensor4D, 2, 2, 'valid'))(relu, dy);
      const expected = backend.executeSingleOutput('ReluGrad', [floatType(backend)], [routed, pre]);
      sameBits(dx.dataSync(), expected.dataSync(), 'input gradient');
    });
    assert.equal(tf.memory().numTensors, before);
  });

  it('dense + bias + relu: values and gradients equal the layers bit for bit', () => {
    const before = tf.memory().numTensors;
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [12], units: 6, activation: 'relu', kernelInitializer: 'glorotUniform' })],
    });
    tf.tidy(() => model.layers[0].setWeights([tf.tensor(values(72, 11), [12, 6]), tf.tensor(values(6, 12))]));
    const x = tf.tensor(values(5 * 12, 13, [-0, NaN]), [5, 12]);
    assertSame(
      gradsBothWays(model, x, (y) => tf.tensor(values(y.size, 14, [-2, Infinity]), y.shape)),
      'dense',
    );
    x.dispose();
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  // cnn-small's blocks are stride-1 convolutions: fused, so the same weights within rounding (momentum only:
  // Adam's normalised step blows a tiny gradient difference up to a learning-rate-sized one).
  for (const channels of [1, 3]) {
    it(`cnn-small on ${channels === 1 ? 'grey' : 'colour'} images trains to the same weights within rounding (momentum, 3 steps), without leaks`, () => {
      const spec = {
        name: 'cnn-small' as const,
        inputShape: [28, 28, channels] as [number, number, number],
        numClasses: 10,
        width: 0.25,
        seed: 4,
      };
      const x = tf.tensor(values(16 * 28 * 28 * channels, 15), [16, 28, 28, channels]);
      const y = tf.oneHot(
        tf.tensor1d(
          Array.from({ length: 16 }, (_, i) => (i * 7) % 10),
          'int32',
        ),
        10,
      );
      const ran = spyOps();
      const fused = trainSteps(() => buildModel(spec), 'momentum', x, y, applyForTraining);
      // Three steps through both fused blocks (else this would compare the layers with themselves).
      const calls = ran.stop();
      assert.equal(
        calls[channels === 1 ? 'WinnowConvIn1BiasReluPool' : 'WinnowConvPoolFilterGrad'],
        channels === 1 ? 3 : 6,
        JSON.stringify(calls),
      );
      const stock = trainSteps(
        () => buildModel(spec),
        'momentum',
        x,
        y,
        (model, input) => model.apply(input, { training: true }) as tf.Tensor,
      );
      assert.ok(stock.losses[2] < stock.losses[0], `it learns: ${stock.losses}`);
      close(fused.losses, stock.losses, 1e-5, 'losses');
      stock.weights.forEach((w, i) => close(fused.weights[i], w, 1e-4, `weight ${i}`));
      tf.dispose([x, y]);
    });
  }

  // Strided convolutions keep the unfused convolution (only its tail is fused) and every other fused op is bit for bit.
  for (const optimizer of ['adam', 'momentum'] as const) {
    it(`a strided CNN trains to the same weights bit for bit (${optimizer}, 3 steps), without leaks`, () => {
      const build = () => {
        const model = tf.sequential({
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
            tf.layers.flatten(),
            tf.layers.dense({
              units: 16,
              activation: 'relu',
              kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
            }),
            tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
          ],
        });
        return model;
      };
      const x = tf.tensor(values(16 * 16 * 16 * 3, 15), [16, 16, 16, 3]);
      const y = tf.oneHot(
        tf.tensor1d(
          Array.from({ length: 16 }, (_, i) => (i * 7) % 10),
          'int32',
        ),
        10,
      );
      const fused = trainSteps(build, optimizer, x, y, applyForTraining);
      const stock = trainSteps(
        build,
        optimizer,
        x,
        y,
        (model, input) => model.apply(input, { training: true }) as tf.Tensor,
      );
      assert.ok(stock.losses[2] < stock.losses[0], `it learns: ${stock.losses}`);
      sameBits(fused.losses, stock.losses, 'losses');
      stock.weights.forEach((w, i) => sameBits(fused.weights[i], w, `weight ${i}`));
      tf.dispose([x, y]);
    });
  }

  it('other backends run model.apply', async () => {
    await tf.setBackend('cpu');
    try {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
        ],
      });
      const x = tf.ones([1, 4, 4, 1]);
      sameBits(applyForTraining(model, x).dataSync(), (model.apply(x) as tf.Tensor).dataSync(), 'cpu');
    } finally {
      await tf.setBackend('tensorflow');
    }
  });
});
