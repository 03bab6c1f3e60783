/**
 * winnow's native TensorFlow ops (kernels/native/winnow-tf-ops, infra/build-tf-ops.sh)
 * through the tfjs-node backend: the 2x2 max pool and its gradient equal
 * TensorFlow's own MaxPool and MaxPoolGrad bit for bit (ties, NaN, -0,
 * infinities included), fused conv + bias + relu equals Conv2D, Add and Relu,
 * the fused momentum and Adam updates give tfjs's weights bit for bit, other
 * shapes still take the stock kernels, and nothing leaks. Skipped when
 * the tfjs-node addon or the ops addon is not built.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { skipWithoutWinnowTfOps } from '../helpers/native-addons';
import { chooseComputeBackend } from '../../compute/backend';
import { loadWinnowTfOps } from '../../kernels/tfjs-node/tfjs-node-native-ops';
import { intAttr, nodeBackend, type OpAttr } from '../../kernels/tfjs-node/tfjs-node-ops';
import { FusedAdamOptimizer, FusedMomentumOptimizer } from '../../domain/ml/fused-optimizers';

const skip = skipWithoutWinnowTfOps();

/** TensorFlow's MaxPool called directly: what the stock tfjs-node kernel runs. */
function stockMaxPool(x: tf.Tensor4D, size: number, stride: number, padding: 'VALID' | 'SAME'): tf.Tensor {
  return nodeBackend(tf.backend()).executeSingleOutput('MaxPool', poolAttrs(size, stride, padding), [x]);
}

/** TensorFlow's MaxPoolGrad called directly: what the stock tfjs-node kernel runs. */
function stockMaxPoolGrad(
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  dy: tf.Tensor4D,
  size: number,
  stride: number,
  padding: 'VALID' | 'SAME',
): tf.Tensor {
  return nodeBackend(tf.backend()).executeSingleOutput('MaxPoolGrad', poolAttrs(size, stride, padding), [x, y, dy]);
}

function poolAttrs(size: number, stride: number, padding: 'VALID' | 'SAME'): OpAttr[] {
  const backend = nodeBackend(tf.backend());
  const { TF_ATTR_TYPE, TF_FLOAT } = backend.binding;
  const int = (tf.backend() as unknown as { binding: { TF_ATTR_INT: number } }).binding.TF_ATTR_INT;
  return [
    { name: 'T', type: TF_ATTR_TYPE, value: TF_FLOAT },
    { name: 'ksize', type: int, value: [1, size, size, 1] },
    { name: 'strides', type: int, value: [1, stride, stride, 1] },
    { name: 'padding', type: backend.binding.TF_ATTR_STRING, value: padding },
    { name: 'data_format', type: backend.binding.TF_ATTR_STRING, value: 'NHWC' },
  ];
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
  for (let i = 0; i < expected.length; i++)
    assert.ok(Object.is(actual[i], expected[i]), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

describe('winnow native TensorFlow ops on tfjs-node', { skip }, () => {
  before(async () => {
    await chooseComputeBackend('tfjs-node');
    await tf.setBackend('tensorflow');
  });

  it('load', () => {
    assert.deepEqual(loadWinnowTfOps().ops, {
      maxPool2x2Grad: 'WinnowMaxPool2x2Grad',
      maxPool2x2: 'WinnowMaxPool2x2',
      biasAddRelu: 'WinnowBiasAddRelu',
      biasAdd: 'WinnowBiasAdd',
      momentumUpdate: 'WinnowMomentumUpdate',
      adamUpdate: 'WinnowAdamUpdate',
      biasReluPool: 'WinnowBiasReluPool',
      biasReluPoolGrad: 'WinnowBiasReluPoolGrad',
      convIn1BiasReluPool: 'WinnowConvIn1BiasReluPool',
      convIn1BiasReluPoolGrad: 'WinnowConvIn1BiasReluPoolGrad',
      convPoolFilterGrad: 'WinnowConvPoolFilterGrad',
      convPoolInputGrad: 'WinnowConvPoolInputGrad',
    });
  });

  it('2x2 max pool equals TensorFlow MaxPool bit for bit, without leaks', () => {
    for (const [shape, padding] of [
      [[3, 8, 6, 5], 'valid'],
      [[2, 4, 4, 1], 'same'],
      [[4, 28, 28, 32], 'valid'],
    ] as const) {
      const values = tiedValues(
        shape.reduce((a: number, b: number) => a * b, 1),
        11,
      ).map((v, i) => (i % 3 === 0 ? -v : v));
      // Windows (channel 0 of the first two): NaN skipped, -0/0 ties keep the first in row-major order, all -Infinity.
      const c = shape[3];
      const w = shape[2];
      for (const [at, v] of [
        [0, NaN],
        [c, -0],
        [w * c, 0],
        [w * c + c, -1],
        [2 * c, -Infinity],
        [3 * c, -Infinity],
        [(w + 2) * c, -Infinity],
        [(w + 3) * c, -Infinity],
      ] as const)
        values[at] = v;
      const x = tf.tensor4d(values, [...shape]);
      const before = tf.memory().numTensors;
      const ours = tf.maxPool(x, 2, 2, padding);
      assert.equal(tf.memory().numTensors, before + 1, 'only the result is new');
      const stock = stockMaxPool(x, 2, 2, padding === 'valid' ? 'VALID' : 'SAME');
      sameBits(ours.dataSync(), stock.dataSync(), `max pool [${shape}] ${padding}`);
      tf.dispose([x, ours, stock]);
    }
  });

  it('fused conv + bias + relu equals Conv2D, Add and Relu bit for bit, without leaks', () => {
    const x = tf.tensor4d(
      tiedValues(2 * 10 * 10 * 3, 5).map((v, i) => v - (i % 7) / 4),
      [2, 10, 10, 3],
    );
    const filter = tf.tensor4d(
      tiedValues(3 * 3 * 3 * 8, 6).map((v, i) => v - (i % 5) / 3),
      [3, 3, 3, 8],
    );
    const bias = tf.tensor1d([0.5, -0.25, 0, -0, NaN, 1e-30, -1, 2]);
    for (const pad of ['same', 'valid'] as const) {
      const before = tf.memory().numTensors;
      const ours = tf.fused.conv2d({ x, filter, bias, pad, strides: 1, activation: 'relu' });
      assert.equal(tf.memory().numTensors, before + 1, 'only the result is new');
      const stock = tf.tidy(() => tf.relu(tf.add(tf.conv2d(x, filter, 1, pad), bias)));
      sameBits(ours.dataSync(), stock.dataSync(), `conv ${pad}`);
      tf.dispose([ours, stock]);
    }
    // Without relu, or with a bias that is not per-channel, the stock kernel runs.
    const linear = tf.fused.conv2d({ x, filter, bias, pad: 'same', strides: 1 });
    const reference = tf.tidy(() => tf.add(tf.conv2d(x, filter, 1, 'same'), bias));
    sameBits(linear.dataSync(), reference.dataSync(), 'linear conv');
    tf.dispose([x, filter, bias, linear, reference]);
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
      const dy = tf.tensor4d(
        tiedValues(y.size, 7).map((v, i) => v - i),
        y.shape,
      );
      const before = tf.memory().numTensors;
      const ours = tf
        .engine()
        .runKernel(
          'MaxPoolGrad',
          { dy, input: x, output: y },
          { filterSize: 2, strides: 2, pad: padding },
        ) as tf.Tensor;
      const viaGrad = tf.grad((v: tf.Tensor) =>
        tf
          .maxPool(v as tf.Tensor4D, 2, 2, padding)
          .mul(dy)
          .sum(),
      )(x);
      assert.equal(tf.memory().numTensors, before + 2, 'only the two results are new');
      const stock = stockMaxPoolGrad(x, y, dy, 2, 2, padding === 'valid' ? 'VALID' : 'SAME');
      sameBits(ours.dataSync(), stock.dataSync(), `[${shape}] ${padding}`);
      sameBits(viaGrad.dataSync(), stock.dataSync(), `tf.grad [${shape}] ${padding}`);
      tf.dispose([x, y, dy, ours, viaGrad, stock]);
    }
  });

  it('bias add equals TensorFlow AddV2 bit for bit, and other adds keep the stock kernel', () => {
    const backend = nodeBackend(tf.backend());
    const float: OpAttr = { name: 'T', type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_FLOAT };
    const special = [NaN, -0, 0, Infinity, -Infinity, 1e-30, -1e-30, 3e38];
    for (const shape of [
      [4, 6, 6, 8],
      [16, 8],
      [2, 3, 8],
    ]) {
      const x = tf.tensor(
        tiedValues(
          shape.reduce((a, b) => a * b, 1),
          13,
        ).map((v, i) => (i < 8 ? special[i] : v - 0.3)),
        shape,
      );
      const bias = tf.tensor1d([-0, 0.25, NaN, -Infinity, 1, -3e38, 0, 1e-30]);
      const before = tf.memory().numTensors;
      const ours = tf.add(x, bias);
      assert.equal(tf.memory().numTensors, before + 1, 'only the result is new');
      const stock = backend.executeSingleOutput('AddV2', [float], [x, bias]);
      sameBits(ours.dataSync(), stock.dataSync(), `bias add [${shape}]`);
      tf.dispose([x, bias, ours, stock]);
    }
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    assert.deepEqual(Array.from(tf.add(a, tf.tensor2d([1, 1], [1, 2])).dataSync()), [2, 3, 4, 5]);
    assert.deepEqual(Array.from(tf.add(tf.tensor1d([1, 2]), a).dataSync()), [2, 4, 4, 6]);
    assert.deepEqual(
      Array.from(tf.add(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.tensor1d([1, 1], 'int32')).dataSync()),
      [2, 3, 4, 5],
    );
    a.dispose();
  });

  it('other pools keep the stock kernels', () => {
    for (const [shape, size, stride, padding] of [
      [[2, 5, 5, 3], 2, 2, 'same'],
      [[2, 6, 6, 3], 3, 2, 'same'],
      [[2, 6, 6, 3], 2, 1, 'valid'],
      [[2, 7, 6, 3], 2, 2, 'valid'],
    ] as const) {
      const x = tf.tensor4d(
        tiedValues(
          shape.reduce((a: number, b: number) => a * b, 1),
          3,
        ),
        [...shape],
      );
      const y = tf.maxPool(x, size, stride, padding);
      const dy = tf.onesLike(y);
      const ours = tf.grad((v: tf.Tensor) =>
        tf
          .maxPool(v as tf.Tensor4D, size, stride, padding)
          .mul(dy)
          .sum(),
      )(x);
      const stock = stockMaxPoolGrad(x, y, dy, size, stride, padding === 'valid' ? 'VALID' : 'SAME');
      sameBits(ours.dataSync(), stock.dataSync(), `[${shape}] ${size}/${stride} ${padding}`);
      sameBits(
        y.dataSync(),
        tf.tidy(() => stockMaxPool(x, size, stride, padding === 'valid' ? 'VALID' : 'SAME').dataSync()),
        `pool [${shape}] ${size}/${stride} ${padding}`,
      );
      tf.dispose([x, y, dy, ours, stock]);
    }
  });

  it('reject inputs the op does not cover', () => {
    const backend = nodeBackend(tf.backend());
    const x = tf.zeros([1, 3, 4, 1]);
    const dy = tf.zeros([1, 1, 2, 1]);
    assert.throws(() => backend.executeSingleOutput('WinnowMaxPool2x2Grad', [], [x, dy]), /even H and W/);
    assert.throws(() => backend.executeSingleOutput('WinnowMaxPool2x2', [], [x]), /even H and W/);
    const bias = tf.zeros([2]);
    assert.throws(
      () => backend.executeSingleOutput('WinnowBiasAdd', [], [x, bias]),
      /bias must be 1-d, as long as the last axis/,
    );
    assert.throws(
      () => backend.executeMultipleOutputs('WinnowBiasReluPool', [], [x, bias], 2),
      /even H and W, bias \[C\]/,
    );
    const where = tf.zeros([1, 3, 4, 1], 'int32');
    assert.throws(() => backend.executeSingleOutput('WinnowBiasReluPoolGrad', [], [dy, where]), /dy and where must be/);
    const v = tf.zeros([3]);
    tf.tidy(() => {
      assert.throws(
        () =>
          backend.executeMultipleOutputs(
            'WinnowMomentumUpdate',
            [],
            [v, v, tf.zeros([2]), tf.scalar(0.9), tf.scalar(-0.1)],
            2,
          ),
        /the others be scalars/,
      );
    });
    tf.dispose([x, dy, bias, where, v]);
  });

  it('the conv block ops reject inputs they do not cover', () => {
    const backend = nodeBackend(tf.backend());
    const pads = (top: number, bottom: number, left: number, right: number) =>
      Object.entries({ pad_top: top, pad_bottom: bottom, pad_left: left, pad_right: right }).map(([name, value]) =>
        intAttr(backend, name, value),
      );
    const block = 'WinnowConvIn1BiasReluPool';
    tf.tidy(() => {
      const x = tf.zeros([2, 6, 6, 1]);
      const filter = tf.zeros([3, 3, 1, 4]);
      const bias = tf.zeros([4]);
      assert.equal(
        backend.executeMultipleOutputs(block, pads(1, 1, 1, 1), [x, filter, bias], 2)[0].shape.join(),
        '2,3,3,4',
      );
      assert.throws(
        () => backend.executeMultipleOutputs(block, pads(1, 1, 1, 1), [tf.zeros([2, 6, 6, 2]), filter, bias], 2),
        /x must be NHWC with one channel/,
      );
      assert.throws(
        () => backend.executeMultipleOutputs(block, pads(0, 0, 0, 0), [tf.zeros([2, 7, 6, 1]), filter, bias], 2),
        /leaving an even output height and width/,
      );
      assert.throws(
        () => backend.executeMultipleOutputs(block, pads(1, 1, 1, 1), [x, tf.zeros([3, 3, 2, 4]), bias], 2),
        /filter must be \[KH, KW, 1, C\]/,
      );
      assert.throws(
        () => backend.executeMultipleOutputs(block, pads(1, 1, 1, 1), [x, filter, tf.zeros([3])], 2),
        /bias must be \[C\]/,
      );
      assert.throws(
        () => backend.executeMultipleOutputs(block, pads(-1, 1, 1, 1), [x, filter, bias], 2),
        /paddings must be in \[0, 65536\)/,
      );
      assert.throws(
        () => backend.executeMultipleOutputs(block, pads(1, 1, 1, 1), [x, tf.zeros([9, 3, 1, 4]), bias], 2),
        /filter must be \[KH, KW, 1, C\]/,
      );
      const dy = tf.zeros([2, 3, 3, 4]);
      const where = tf.zeros([2, 3, 3, 4], 'int32');
      assert.equal(
        backend.executeMultipleOutputs(`${block}Grad`, pads(1, 1, 1, 1), [x, dy, where], 2)[0].shape.join(),
        '3,3,1,4',
      );
      assert.throws(
        () =>
          backend.executeMultipleOutputs(`${block}Grad`, pads(1, 1, 1, 1), [x, dy, tf.zeros([2, 3, 3, 3], 'int32')], 2),
        /dy and where must be/,
      );
      assert.throws(
        () => backend.executeMultipleOutputs(`${block}Grad`, pads(1, 1, 1, 1), [x, tf.zeros([1, 3, 3, 4]), where], 2),
        /dy and where must be/,
      );
      const filterGrad = 'WinnowConvPoolFilterGrad';
      const x3 = tf.zeros([2, 6, 6, 3]);
      assert.equal(
        backend.executeMultipleOutputs(filterGrad, pads(1, 1, 1, 1), [x3, dy, where], 2)[0].shape.join(),
        '3,3,3,4',
      );
      assert.throws(
        () =>
          backend.executeMultipleOutputs(filterGrad, pads(1, 1, 1, 1), [x3, dy, tf.zeros([2, 3, 3, 3], 'int32')], 2),
        /dy and where \[N, PH, PW, Cout\]/,
      );
      assert.throws(
        () =>
          backend.executeMultipleOutputs(
            filterGrad,
            pads(0, 0, 0, 0),
            [x3, tf.zeros([2, 4, 3, 4]), tf.zeros([2, 4, 3, 4], 'int32')],
            2,
          ),
        /inside the padded image/,
      );
      assert.throws(
        () => backend.executeMultipleOutputs(filterGrad, pads(1, 1, -1, 1), [x3, dy, where], 2),
        /paddings must be in \[0, 65536\)/,
      );
      assert.throws(
        () => backend.executeMultipleOutputs(filterGrad, pads(1, 1, 1, 2 ** 40), [x3, dy, where], 2),
        /paddings must be in \[0, 65536\)/,
      );
      const inputGrad = 'WinnowConvPoolInputGrad';
      const filter3 = tf.zeros([3, 3, 3, 4]);
      assert.equal(
        backend.executeSingleOutput(inputGrad, pads(1, 1, 1, 1), [dy, where, filter3]).shape.join(),
        '2,6,6,3',
      );
      assert.equal(
        backend.executeSingleOutput(inputGrad, pads(0, 0, 0, 0), [dy, where, filter3]).shape.join(),
        '2,8,8,3',
      );
      assert.throws(
        () => backend.executeSingleOutput(inputGrad, pads(1, 1, 1, 1), [dy, where, tf.zeros([3, 3, 3, 5])]),
        /filter \[KH, KW, Cin, Cout\]/,
      );
      assert.throws(
        () => backend.executeSingleOutput(inputGrad, pads(1, 1, 1, 1), [dy, tf.zeros([2, 3, 3], 'int32'), filter3]),
        /dy and where must be/,
      );
      assert.throws(
        () => backend.executeSingleOutput(inputGrad, pads(5, 5, 1, 1), [dy, where, filter3]),
        /non-empty input/,
      );
    });
  });

  it('fused momentum and Adam updates give the stock weights and slots bit for bit, without leaks', async () => {
    const cases: [string, () => tf.Optimizer, () => tf.Optimizer, string][] = [
      ['momentum', () => tf.train.momentum(0.05, 0.9), () => new FusedMomentumOptimizer(0.05, 0.9), 'Add'],
      ['adam', () => tf.train.adam(0.01), () => new FusedAdamOptimizer(0.01, 0.9, 0.999), 'Sqrt'],
    ];
    for (const [name, stock, fused, stockKernel] of cases) {
      const run = async (
        optimizer: tf.Optimizer,
      ): Promise<{ weights: Float32Array[]; slots: Float32Array[]; kernels: string[] }> => {
        const shapes = [[3, 3, 1, 4], [4], [36, 5], [5]];
        const variables = shapes.map((shape, i) =>
          tf.variable(
            tf.tensor(
              tiedValues(
                shape.reduce((a, b) => a * b, 1),
                20 + i,
              ).map((v) => v - 0.4),
              shape,
            ),
          ),
        );
        const x = tf.tensor4d(tiedValues(2 * 6 * 6, 31), [2, 6, 6, 1]);
        const loss = (): tf.Scalar =>
          tf.tidy(() => {
            const h = tf.relu(tf.add(tf.conv2d(x, variables[0] as tf.Tensor4D, 1, 'valid'), variables[1]));
            const pooled = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid').reshape([2, 16]);
            const logits = tf.add(
              tf.matMul(
                tf.concat([pooled, pooled.slice([0, 0], [2, 20 - 16]).mul(-1), tf.ones([2, 16])], 1),
                variables[2],
              ),
              variables[3],
            );
            return tf.square(logits).mean() as tf.Scalar;
          });
        optimizer.minimize(loss); // creates the slots
        const before = tf.memory().numTensors;
        let kernels: string[] = [];
        for (let step = 0; step < 3; step++) {
          const { value, grads } = tf.variableGrads(loss);
          const profile = await tf.profile(() => optimizer.applyGradients(grads));
          kernels = profile.kernelNames;
          tf.dispose([value, ...Object.values(grads)]);
        }
        assert.equal(tf.memory().numTensors, before, `${name}: tensor count after three steps`);
        const weights = variables.map((v) => v.dataSync() as Float32Array);
        const slots = (await optimizer.getWeights()).map((w) => w.tensor.dataSync() as Float32Array);
        tf.dispose([x, ...variables]);
        optimizer.dispose();
        return { weights, slots, kernels };
      };
      const reference = await run(stock());
      const ours = await run(fused());
      assert.ok(
        reference.kernels.includes(stockKernel) && !ours.kernels.includes(stockKernel),
        `${name}: the fused update runs (${ours.kernels})`,
      );
      assert.equal(ours.weights.length, reference.weights.length);
      ours.weights.forEach((w, i) => sameBits(w, reference.weights[i], `${name} weight ${i}`));
      assert.equal(ours.slots.length, reference.slots.length);
      ours.slots.forEach((w, i) => sameBits(w, reference.slots[i], `${name} slot ${i}`));
    }
  });
});
