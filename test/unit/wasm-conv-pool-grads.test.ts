/**
 * The routed gradients of stride-1 conv blocks on wasm
 * (kernels/wasm/conv-pool-filter-grad.ts, conv-pool-input-grad.ts, run by applyForTraining's
 * convBlock): where every sum is exact (quarter-step values) the values and
 * gradients equal the layers' bit for bit; general floats agree within
 * float32 rounding and come out the same on every run; the kernels
 * themselves against the dense gradients of the conv tail's own gradient,
 * NaN and infinite gradients included; blocks they do not take (input
 * channels not a multiple of 4, odd sizes) keep the conv tail; nothing leaks.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  assertClose,
  assertSame,
  countCalls,
  gradsBothWays,
  noisy,
  sameBits,
  twoBlocks,
  values,
} from '../helpers/training-compare';
import { useWasmWithWinnowKernels } from '../helpers/wasm-backend';

/** Tensors and wasm backend buffers now, to check that a test frees what it makes. */
function allocations(): [number, number] {
  return [tf.memory().numTensors, tf.backend().numDataIds()];
}

describe('routed conv-block gradients on wasm', () => {
  before(useWasmWithWinnowKernels);

  it('exact sums: values and gradients equal the layers bit for bit, infinite and NaN gradients included', () => {
    const before = allocations();
    const ran = countCalls(tf.engine(), 'runKernel', 'WinnowConvPool');
    for (const [shape, filters, second, padding] of [
      [[3, 16, 12, 4], 32, 32, 'same'], // first block from the batch (filter gradient only); 32 input channels: eight vectors at a time
      [[2, 12, 16, 3], 8, 19, 'same'], // 3 channels: the first block keeps the conv tail; 8: four at a time; 19 output channels
      [[2, 22, 22, 8], 36, 12, 'valid'], // 20x20 then 8x8, unpadded (the image read in place); 36 channels: 32 then 4
      [[2, 13, 13, 4], 12, 8, 'same'], // 13x13: odd, the layers' ops for the first block; 6x6 for the second
    ] as [number[], number, number, 'same' | 'valid'][]) {
      const model = twoBlocks(shape, filters, padding, values, second);
      const what = `two blocks ${shape} ${filters} ${second} ${padding}`;
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
      // Infinite and NaN gradients: the routed terms are the dense ones' non-zero terms, so the same NaNs and infinities.
      assertSame(
        gradsBothWays(model, x, (y) => tf.tensor(values(y.size, 55, [Infinity, -3, -Infinity, NaN, -0]), y.shape)),
        `${what}, non-finite dy`,
      );
      x.dispose();
      model.dispose();
    }
    // Two fused backward passes per shape: filter gradients of both blocks for the first and third shapes, of the
    // second block for the others; input gradients of every second block.
    assert.deepEqual(ran.stop(), { WinnowConvPoolFilterGrad: 12, WinnowConvPoolInputGrad: 8 });
    assert.deepEqual(allocations(), before);
  });

  it('general floats agree with the layers within float32 rounding, across chunks of images, the same on every run', () => {
    const before = allocations();
    // 20 images: chunks of 8, 8 and 4 in the filter gradient.
    const model = twoBlocks([20, 12, 12, 4], 40, 'same', noisy, 64);
    const x = tf.tensor(noisy(20 * 12 * 12 * 4, 61), [20, 12, 12, 4]);
    const both = gradsBothWays(model, x, (y) => tf.tensor(noisy(y.size, 62), y.shape));
    assertClose(both, 1e-5, 'noisy');
    const again = gradsBothWays(model, x, (y) => tf.tensor(noisy(y.size, 62), y.shape));
    both.fused.grads.forEach((g, i) => sameBits(again.fused.grads[i], g, `rerun gradient ${i}`));
    x.dispose();
    model.dispose();
    assert.deepEqual(allocations(), before);
  });

  it("the kernels themselves: NaN pre-activations give the dense gradients' NaN bias and filter channels", () => {
    const before = allocations();
    tf.tidy(() => {
      const x = tf.tensor(values(2 * 8 * 8 * 8, 71, [-0]), [2, 8, 8, 8]);
      const filter = tf.tensor(values(3 * 3 * 8 * 12, 72), [3, 3, 8, 12]);
      const convOf = (v: tf.Tensor, f: tf.Tensor) => tf.conv2d(v as tf.Tensor4D, f as tf.Tensor4D, 1, 'same');
      const conv = convOf(x, filter);
      // NaN pre-activations in interior windows (every tap reads the image): channels 1, 5 and 7.
      const buffer = conv.bufferSync();
      buffer.set(NaN, 0, 2, 3, 1);
      buffer.set(NaN, 1, 4, 4, 5);
      buffer.set(NaN, 1, 3, 2, 7);
      const pre = buffer.toTensor();
      const [, codes] = tf
        .engine()
        .runKernel('WinnowBiasReluPool', { x: pre, bias: tf.tensor(values(12, 73, [-0])) }, {}) as tf.Tensor[];
      const dy = tf.tensor(values(codes.size, 74, [-0, -5]), codes.shape);
      // The tail's own gradient (bit for bit the layers') into the dense convolution gradients.
      const [dConv, wantBias] = tf.engine().runKernel('WinnowBiasReluPoolGrad', { dy, code: codes }, {}) as tf.Tensor[];
      const [, wantFilter] = tf.grads(convOf)([x, filter], dConv);
      const pads = { top: 1, bottom: 1, left: 1, right: 1 };
      const [dFilter, dBias] = tf
        .engine()
        .runKernel('WinnowConvPoolFilterGrad', { x, dy, code: codes }, pads) as tf.Tensor[];
      sameBits(dBias.dataSync(), wantBias.dataSync(), 'bias gradient');
      // NaN where the dense gradient has NaN, and the exact sums everywhere else.
      sameBits(dFilter.dataSync(), wantFilter.dataSync(), 'filter gradient');
      assert.ok(
        Array.from(dFilter.dataSync(), Number.isNaN).some((n) => n),
        'some filter gradients are NaN',
      );
      // Without NaNs: the input gradient bit for bit too.
      const [, clean] = tf
        .engine()
        .runKernel('WinnowBiasReluPool', { x: conv, bias: tf.tensor(values(12, 73, [-0])) }, {}) as tf.Tensor[];
      const [dConvClean] = tf.engine().runKernel('WinnowBiasReluPoolGrad', { dy, code: clean }, {}) as tf.Tensor[];
      const [wantInput] = tf.grads(convOf)([x, filter], dConvClean);
      const dInput = tf.engine().runKernel('WinnowConvPoolInputGrad', { dy, code: clean, filter }, pads) as tf.Tensor;
      sameBits(dInput.dataSync(), wantInput.dataSync(), 'input gradient');
    });
    assert.deepEqual(allocations(), before);
  });

  it('the kernels reject shapes and pads they do not cover, naming what is wrong', () => {
    const before = allocations();
    tf.tidy(() => {
      const x = tf.zeros([2, 6, 6, 4]);
      const dy = tf.zeros([2, 3, 3, 8]);
      const code = tf.zeros([2, 3, 3, 8], 'int32');
      const pads = { top: 1, bottom: 1, left: 1, right: 1 };
      const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: object) => () =>
        tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap);
      assert.equal(
        (run('WinnowConvPoolFilterGrad', { x, dy, code }, pads)() as tf.Tensor[])[0].shape.join(),
        '3,3,4,8',
      );
      assert.throws(
        run('WinnowConvPoolFilterGrad', { x: tf.zeros([2, 6, 6]), dy, code }, pads),
        /x \[2,6,6\] float32 must be float32 \[N, H, W, Cin\]/,
      );
      assert.throws(
        run('WinnowConvPoolFilterGrad', { x, dy: tf.zeros([2, 0, 3, 8]), code: tf.zeros([2, 0, 3, 8], 'int32') }, pads),
        /must be non-empty/,
      );
      assert.throws(
        run('WinnowConvPoolFilterGrad', { x, dy, code }, { ...pads, left: -1 }),
        /must be non-negative integers/,
      );
      assert.throws(
        run('WinnowConvPoolFilterGrad', { x, dy, code: tf.zeros([2, 3, 3, 7], 'int32') }, pads),
        /one NHWC shape/,
      );
      assert.equal(
        (
          run('WinnowConvPoolInputGrad', { dy, code, filter: tf.zeros([3, 3, 4, 8]) }, pads)() as tf.Tensor
        ).shape.join(),
        '2,6,6,4',
      );
      assert.throws(
        run('WinnowConvPoolInputGrad', { dy, code, filter: tf.zeros([0, 3, 4, 8]) }, pads),
        /non-empty filter, pooled grid and input/,
      );
      assert.throws(
        run('WinnowConvPoolInputGrad', { dy, code, filter: tf.zeros([3, 3, 4, 5]) }, pads),
        /Cout 5 in both/,
      );
    });
    assert.deepEqual(allocations(), before);
  });
});
