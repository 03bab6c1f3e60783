/**
 * The wasm convolution gradient kernels against the stock CPU backend's
 * reference kernels, on the same inputs, for strides 1-3, valid/same padding,
 * odd sizes and several channel counts.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { correlationPadding, splitPadding } from '../../kernels/wasm/correlation';
import { registerWasmKernels, wasmKernelNames } from '../../kernels/wasm/register-wasm-kernels';
import { leadingAxesCount } from '../../kernels/wasm/sum';
import { useWasmWithWinnowKernels } from '../helpers/wasm-backend';

type Pad = 'valid' | 'same';
type Pair = [number, number];
interface Case {
  batch: number;
  height: number;
  width: number;
  inC: number;
  /** Output channels of conv2d, channel multiplier of depthwise. */
  outC: number;
  kh: number;
  kw: number;
  stride: [number, number];
  pad: Pad;
}

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

interface Grads {
  dx: Float32Array;
  df: Float32Array;
}

/** Gradients of sum(conv(x, f) * r) with respect to x and f on the current backend. */
function gradients(c: Case, depthwise: boolean, seed: number): Grads {
  return tf.tidy(() => {
    const fShape: [number, number, number, number] = [c.kh, c.kw, c.inC, c.outC];
    const x = tf.tensor4d(values(c.batch * c.height * c.width * c.inC, seed), [c.batch, c.height, c.width, c.inC]);
    const f = tf.tensor4d(
      values(
        fShape.reduce((a, b) => a * b),
        seed + 1,
      ),
      fShape,
    );
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D) =>
      depthwise ? tf.depthwiseConv2d(a, b, c.stride, c.pad) : tf.conv2d(a, b, c.stride, c.pad);
    const outShape = conv(x, f).shape;
    const r = tf.tensor(
      values(
        outShape.reduce((a, b) => a * b),
        seed + 2,
      ),
      outShape,
    );
    const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      conv(a as tf.Tensor4D, b as tf.Tensor4D)
        .mul(r)
        .sum(),
    )([x, f]);
    return { dx: dx.dataSync() as Float32Array, df: df.dataSync() as Float32Array };
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= 1e-4 * scale)) {
      assert.fail(`${what}[${i}]: wasm ${actual[i]} vs cpu ${expected[i]} (scale ${scale})`);
    }
  }
}

async function compare(c: Case, depthwise: boolean, seed = 7): Promise<void> {
  await tf.setBackend('cpu');
  const want = gradients(c, depthwise, seed);
  await tf.setBackend('wasm');
  const got = gradients(c, depthwise, seed);
  const label = `${depthwise ? 'depthwise' : 'conv2d'} ${JSON.stringify(c)}`;
  assertClose(got.dx, want.dx, `${label} dx`);
  assertClose(got.df, want.df, `${label} dfilter`);
}

const grid: Case[] = [];
for (const stride of [1, 2, 3]) {
  for (const pad of ['valid', 'same'] as const) {
    grid.push({ batch: 2, height: 9, width: 7, inC: 3, outC: 5, kh: 3, kw: 3, stride: [stride, stride], pad });
    grid.push({ batch: 3, height: 8, width: 11, inC: 1, outC: 4, kh: 2, kw: 5, stride: [stride, stride], pad });
    grid.push({ batch: 1, height: 10, width: 10, inC: 4, outC: 2, kh: 4, kw: 1, stride: [stride, stride], pad });
  }
}
for (const pad of ['valid', 'same'] as const) {
  // One input channel, stride 1, output channels a multiple of 16: the SIMD filter-gradient loop.
  grid.push({ batch: 3, height: 9, width: 7, inC: 1, outC: 16, kh: 3, kw: 3, stride: [1, 1], pad });
  grid.push({ batch: 2, height: 8, width: 11, inC: 1, outC: 32, kh: 2, kw: 5, stride: [1, 1], pad });
}
grid.push({ batch: 2, height: 13, width: 9, inC: 2, outC: 3, kh: 3, kw: 3, stride: [2, 3], pad: 'same' });
grid.push({ batch: 2, height: 6, width: 6, inC: 3, outC: 2, kh: 6, kw: 6, stride: [1, 1], pad: 'valid' });

describe('wasm convolution gradient kernels', () => {
  before(useWasmWithWinnowKernels);

  it('registers every kernel for wasm, once', () => {
    for (const name of wasmKernelNames) assert.ok(tf.getKernel(name, 'wasm'), name);
    assert.deepEqual(registerWasmKernels(tf), []);
  });

  for (const c of grid) {
    it(`conv2d ${c.kh}x${c.kw} stride ${c.stride.join('x')} ${c.pad} ${c.height}x${c.width}x${c.inC}->${c.outC} matches cpu`, async () => {
      await compare(c, false);
    });
  }

  for (const c of grid) {
    const dw = { ...c, outC: 1 + (c.outC % 2) };
    it(`depthwise ${dw.kh}x${dw.kw} stride ${dw.stride.join('x')} ${dw.pad} ${dw.height}x${dw.width}x${dw.inC}*${dw.outC} matches cpu`, async () => {
      // tfjs only allows stride > 1 for depthwise when both strides are equal.
      if (dw.stride[0] !== dw.stride[1]) dw.stride = [dw.stride[0], dw.stride[0]];
      await compare(dw, true);
    });
  }

  it('matches cpu on random shapes (property)', async () => {
    const shape = fc.record({
      batch: fc.integer({ min: 1, max: 3 }),
      height: fc.integer({ min: 1, max: 12 }),
      width: fc.integer({ min: 1, max: 12 }),
      inC: fc.integer({ min: 1, max: 4 }),
      outC: fc.integer({ min: 1, max: 4 }),
      kh: fc.integer({ min: 1, max: 5 }),
      kw: fc.integer({ min: 1, max: 5 }),
      s: fc.integer({ min: 1, max: 3 }),
      pad: fc.constantFrom<Pad>('valid', 'same'),
      depthwise: fc.boolean(),
      seed: fc.integer({ min: 1, max: 1_000_000 }),
    });
    await fc.assert(
      fc.asyncProperty(
        shape.filter((c) => c.pad === 'same' || (c.kh <= c.height && c.kw <= c.width)),
        async ({ s, depthwise, seed, ...c }) => compare({ ...c, stride: [s, s] }, depthwise, seed),
      ),
      { numRuns: 40, seed: 20240 },
    );
  });

  it('leaves no tensors or backend buffers behind', async () => {
    await tf.setBackend('wasm');
    const c: Case = { batch: 2, height: 9, width: 9, inC: 3, outC: 4, kh: 3, kw: 3, stride: [2, 2], pad: 'same' };
    gradients(c, false, 1);
    gradients(c, true, 1);
    const before = tf.memory();
    const backendBefore = tf.backend().numDataIds();
    for (let i = 0; i < 3; i++) {
      gradients(c, false, i);
      gradients(c, true, i);
    }
    const after = tf.memory();
    // The engine's count misses buffers a kernel allocates below it; the backend's own count does not.
    assert.equal(tf.backend().numDataIds(), backendBefore, 'wasm backend buffers');
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numDataBuffers, before.numDataBuffers);
    assert.equal(after.numBytes, before.numBytes);
  });
});

/** Runs `f` on the cpu and on the wasm backend and compares the results. */
async function sameOnBoth(f: () => tf.Tensor, what: string): Promise<void> {
  await tf.setBackend('cpu');
  const want = tf.tidy(() => f().dataSync() as Float32Array);
  const wantShape = tf.tidy(() => f().shape);
  await tf.setBackend('wasm');
  const got = tf.tidy(() => f().dataSync() as Float32Array);
  assert.deepEqual(
    tf.tidy(() => f().shape),
    wantShape,
    `${what}: shape`,
  );
  assertClose(got, want, what);
}

describe('wasm matrix product, sum and max-pool overrides', () => {
  before(async () => {
    await tf.setBackend('wasm');
    registerWasmKernels(tf);
  });

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    it(`matMul transposeA=${ta} transposeB=${tb}, plain and batched, matches cpu`, async () => {
      const a2 = () => tf.tensor(values(7 * 5, 3), ta ? [5, 7] : [7, 5]);
      const b2 = () => tf.tensor(values(5 * 4, 4), tb ? [4, 5] : [5, 4]);
      await sameOnBoth(() => tf.matMul(a2() as tf.Tensor2D, b2() as tf.Tensor2D, ta, tb), 'matMul 2d');
      const a3 = () => tf.tensor(values(3 * 7 * 5, 5), ta ? [3, 5, 7] : [3, 7, 5]);
      const b3 = () => tf.tensor(values(3 * 5 * 4, 6), tb ? [3, 4, 5] : [3, 5, 4]);
      await sameOnBoth(() => tf.matMul(a3() as tf.Tensor3D, b3() as tf.Tensor3D, ta, tb), 'matMul 3d');
      const bias = () => tf.tensor1d(values(4, 7));
      await sameOnBoth(
        () =>
          tf.fused.matMul({
            a: a2() as tf.Tensor2D,
            b: b2() as tf.Tensor2D,
            transposeA: ta,
            transposeB: tb,
            bias: bias(),
            activation: 'relu',
          }),
        'fused matMul',
      );
    });
  }

  it('matMul with b transposed and fewer rows in a than in b (run as (b a^T)^T) matches cpu, plain and batch 1', async () => {
    await sameOnBoth(
      () => tf.matMul(tf.tensor2d(values(3 * 6, 21), [3, 6]), tf.tensor2d(values(11 * 6, 22), [11, 6]), false, true),
      'matMul 3x6 by 11x6^T',
    );
    await sameOnBoth(
      () =>
        tf.matMul(tf.tensor3d(values(3 * 6, 23), [1, 3, 6]), tf.tensor3d(values(11 * 6, 24), [1, 11, 6]), false, true),
      'matMul 1x3x6 by 1x11x6^T',
    );
  });

  it('dense layer gradients match cpu', async () => {
    const grads = () => {
      const x = tf.tensor2d(values(6 * 9, 11), [6, 9]);
      const w = tf.tensor2d(values(9 * 4, 12), [9, 4]);
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf
          .matMul(a as tf.Tensor2D, b as tf.Tensor2D)
          .square()
          .sum(),
      )([x, w]);
      return tf.concat([dx.flatten(), dw.flatten()]);
    };
    await sameOnBoth(grads, 'dense gradients');
  });

  const sums: [number[], number | number[] | undefined, boolean][] = [
    [[4, 3, 5, 2], [0, 1, 2], false],
    [[4, 3, 5, 2], [0, 1, 2], true],
    [[4, 3, 5, 2], [1, 0], false],
    [[4, 3, 5, 2], 0, true],
    [[6, 7], [0], false],
    [[4, 3, 5, 2], [-1], false],
    [[4, 3, 5, 2], [1, 2], false],
    [[4, 3, 5, 2], undefined, false],
    [[1, 3, 2], [0], false],
  ];
  for (const [shape, axis, keepDims] of sums) {
    it(`sum of ${shape.join('x')} over ${JSON.stringify(axis)} keepDims=${keepDims} matches cpu`, async () => {
      const n = shape.reduce((p, q) => p * q, 1);
      await sameOnBoth(() => tf.sum(tf.tensor(values(n, n), shape), axis, keepDims), 'sum');
    });
  }

  const pools: [number[], number | Pair, number | Pair, Pad][] = [
    [[2, 8, 8, 3], 2, 2, 'valid'],
    [[2, 9, 7, 3], 2, 2, 'same'],
    [[1, 9, 9, 2], 3, 2, 'valid'],
    [[1, 10, 7, 2], 3, 2, 'same'],
    [[2, 7, 8, 1], [2, 3], [1, 2], 'same'],
    [[1, 11, 11, 4], 3, 3, 'valid'],
  ];
  for (const [shape, size, stride, pad] of pools) {
    it(`maxPool gradient ${shape.join('x')} size ${size} stride ${stride} ${pad} matches cpu, ties included`, async () => {
      const n = shape.reduce((p, q) => p * q, 1);
      // Rounded relu values: many equal maxima (zeros and repeats) in a window.
      const x = () =>
        tf.tensor4d(
          values(n, n + 1).map((v) => Math.max(0, Math.round(v * 3))),
          shape as [number, number, number, number],
        );
      const r = () =>
        tf.tidy(() =>
          tf.tensor(values(tf.maxPool(x(), size, stride, pad).size, 9), tf.maxPool(x(), size, stride, pad).shape),
        );
      await sameOnBoth(
        () =>
          tf.grad((v: tf.Tensor) =>
            tf
              .maxPool(v as tf.Tensor4D, size, stride, pad)
              .mul(r())
              .sum(),
          )(x()),
        'maxPool gradient',
      );
    });
  }

  it('recognises leading-axis reductions only', () => {
    assert.equal(leadingAxesCount([0, 1, 2], 4), 3);
    assert.equal(leadingAxesCount([2, 0, 1], 4), 3);
    assert.equal(leadingAxesCount([-4], 4), 1);
    assert.equal(leadingAxesCount([0, 1, 2, 3], 4), 0);
    assert.equal(leadingAxesCount([1, 2], 4), 0);
    assert.equal(leadingAxesCount([0, 2], 4), 0);
  });

  it('leave no tensors or backend buffers behind', async () => {
    await tf.setBackend('wasm');
    const work = () =>
      tf.tidy(() => {
        const a = tf.tensor(values(40, 1), [5, 8]);
        tf.matMul(a, a, true, false).dataSync();
        tf.matMul(tf.ones([2, 8]), a, false, true).dataSync();
        tf.fused.matMul({ a, b: a, transposeB: true, bias: tf.ones([5]) }).dataSync();
        tf.sum(tf.reshape(a, [2, 4, 5]), [0, 1]).dataSync();
      });
    work();
    const before = tf.memory();
    const backendBefore = tf.backend().numDataIds();
    for (let i = 0; i < 3; i++) work();
    const after = tf.memory();
    // The engine's count misses buffers a kernel allocates below it; the backend's own count does not.
    assert.equal(tf.backend().numDataIds(), backendBefore, 'wasm backend buffers');
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numDataBuffers, before.numDataBuffers);
  });
});

describe('correlation padding', () => {
  it('gives the padding that yields the wanted output length', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 30 }),
        (length, taps, dilation, before, outLength) => {
          const [b, a] = correlationPadding(length, taps, dilation, before, outLength);
          assert.equal(b, before);
          // stride-1 output length of a padded input with a dilated filter
          assert.equal(length + b + a - ((taps - 1) * dilation + 1) + 1, outLength);
        },
      ),
    );
  });

  it('turns negative padding into a crop', () => {
    assert.deepEqual(splitPadding([2, -1]), { crop: [0, 1], pad: [2, 0] });
    assert.deepEqual(splitPadding([-3, 4]), { crop: [3, 0], pad: [0, 4] });
    assert.deepEqual(splitPadding([0, 0]), { crop: [0, 0], pad: [0, 0] });
  });
});
