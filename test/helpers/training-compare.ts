/**
 * Comparing a fused training forward pass (domain/ml/training-forward.ts)
 * with the layers' own: generated inputs, gradients both ways, bit-for-bit
 * and within-rounding checks. Shared by the tfjs-node and wasm tests.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { applyForTraining } from '../../domain/ml/training-forward';

/**
 * Pseudo-random quarter steps in [-2, 2]: many exact ties, both signs (relu
 * zeroes whole windows), and exact sums in any order; plus the given specials.
 */
export function values(n: number, seed: number, specials: number[] = []): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = Math.round((state / 2 ** 31 - 1) * 8) / 4;
  }
  specials.forEach((v, i) => (out[(i * 7919) % n] = v));
  return out;
}

/** Seeded normal-ish floats (sums of uniforms): no exact sums, so the summation order shows in the last bits. */
export function noisy(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let i = 0; i < n; i++) out[i] = next() + next() + next() - 1.5;
  return out;
}

export function sameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++)
    assert.ok(Object.is(actual[i], expected[i]), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

/** Every element within `relative` of the expected one, relative to the largest expected magnitude (float32 rounding of a reordered sum). */
export function close(actual: ArrayLike<number>, expected: ArrayLike<number>, relative: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= relative * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (scale ${scale})`,
    );
  }
}

/** Output, loss and variable gradients of sum(model(x) * dyOf(y)) through applyForTraining and through model.apply. */
export function gradsBothWays(model: tf.LayersModel, x: tf.Tensor, dyOf: (y: tf.Tensor) => tf.Tensor) {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const run = (forward: () => tf.Tensor) =>
    tf.tidy(() => {
      let out: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        out = tf.keep(forward());
        return tf.sum(tf.mul(out, dyOf(out))) as tf.Scalar;
      }, variables);
      const result = {
        y: (out as unknown as tf.Tensor).dataSync(),
        loss: value.dataSync(),
        grads: variables.map((v) => grads[v.name].dataSync()),
      };
      (out as unknown as tf.Tensor).dispose();
      return result;
    });
  return {
    fused: run(() => applyForTraining(model, x)),
    stock: run(() => model.apply(x, { training: true }) as tf.Tensor),
  };
}

export function assertSame(both: ReturnType<typeof gradsBothWays>, what: string): void {
  sameBits(both.fused.y, both.stock.y, `${what} output`);
  sameBits(both.fused.loss, both.stock.loss, `${what} loss`);
  both.stock.grads.forEach((g, i) => sameBits(both.fused.grads[i], g, `${what} gradient ${i}`));
}

/** Output and loss within 1e-6 and 1e-5, gradients within `relative`, of the layers'. */
export function assertClose(both: ReturnType<typeof gradsBothWays>, relative: number, what: string): void {
  close(both.fused.y, both.stock.y, 1e-6, `${what} output`);
  close(both.fused.loss, both.stock.loss, 1e-5, `${what} loss`);
  both.stock.grads.forEach((g, i) => close(both.fused.grads[i], g, relative, `${what} gradient ${i}`));
}

/** Two conv blocks (conv 3x3 with relu, 2x2 max pool) with `filters` then `second` filters and weights from `fill`. */
export function twoBlocks(
  shape: number[],
  filters: number,
  padding: 'same' | 'valid',
  fill: (n: number, seed: number) => Float32Array,
  second = 32,
) {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: shape.slice(1), filters, kernelSize: 3, padding, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: second, kernelSize: 3, padding, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
    ],
  });
  tf.tidy(() => {
    model.layers[0].setWeights([
      tf.tensor(fill(9 * shape[3] * filters, 55), [3, 3, shape[3], filters]),
      tf.tensor(fill(filters, 56)),
    ]);
    model.layers[2].setWeights([
      tf.tensor(fill(9 * filters * second, 57), [3, 3, filters, second]),
      tf.tensor(fill(second, 58)),
    ]);
  });
  return model;
}

/** Counts the calls of target[method] by their first argument (a kernel or op name) where it starts with `prefix`, until stop(). */
export function countCalls(target: object, method: string, prefix: string): { stop(): Record<string, number> } {
  const host = target as Record<string, (name: string, ...rest: unknown[]) => unknown>;
  const counts: Record<string, number> = {};
  const original = host[method];
  host[method] = function (this: unknown, name: string, ...rest: unknown[]) {
    if (name.startsWith(prefix)) counts[name] = (counts[name] ?? 0) + 1;
    return original.call(this, name, ...rest);
  };
  return {
    stop() {
      host[method] = original;
      return counts;
    },
  };
}
