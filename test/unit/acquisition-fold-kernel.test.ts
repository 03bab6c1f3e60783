/**
 * The WebAssembly SIMD fold kernel: its committed bytes are the WAT's, and
 * it folds bit-identically to the JS fold (in place in the accumulator's
 * wasm memory, and on ordinary arrays copied through), errors included.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  cloneAccumulator,
  createAccumulator,
  foldKernelStatus,
  foldMember,
  mergeAccumulators,
  type AccumulatorShape,
  type EnsembleAccumulator,
  type FoldKernel,
} from '../../domain/acquisition/ensemble-accumulator';
import { CHUNK_ELEMENTS } from '../../kernels/fold/fold-kernel';
import { FOLD_KERNEL_WASM_BASE64 } from '../../kernels/generated/fold-kernel-wasm';
import { pLogPOfFloat32 } from '../../domain/acquisition/float32-log';
import { compileWat, FOLD_KERNEL, watModuleText } from '../../kernels/wat-module';
import { repoRoot } from '../../infra/tools';

type Typed = Error & { failureType?: string };

/** An accumulator with ordinary arrays, as parseAccumulator returns: the kernel copies its sums in and out. */
const plainAccumulator = (shape: AccumulatorShape): EnsembleAccumulator =>
  createAccumulator(shape, { memory: 'plain' });

const setups: { name: string; kernel: FoldKernel; make: (s: AccumulatorShape) => EnsembleAccumulator }[] = [
  { name: 'js', kernel: 'js', make: plainAccumulator },
  { name: 'wasm in place', kernel: 'wasm', make: createAccumulator },
  { name: 'wasm copied', kernel: 'wasm', make: plainAccumulator },
  { name: 'auto', kernel: 'auto', make: createAccumulator },
];

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): string | undefined {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `[${i}] ${a[i]} vs ${b[i]}`;
  return undefined;
}

function assertSameBits(actual: EnsembleAccumulator, expected: EnsembleAccumulator, what: string): void {
  assert.equal(actual.memberCount, expected.memberCount, `${what}: member count`);
  for (const key of ['probabilitySums', 'entropySums', 'votes'] as const) {
    const diff = firstDifference(actual[key], expected[key]);
    assert.equal(diff, undefined, `${what}: ${key} ${diff}`);
  }
}

/** Folds `members` into one accumulator per setup and checks all are bit-identical to the JS fold. */
function foldEverywhere(shape: AccumulatorShape, members: Float32Array[]): EnsembleAccumulator {
  const results = setups.map(({ name, kernel, make }) => {
    const acc = make(shape);
    for (const m of members) foldMember(acc, m, { kernel });
    return { name, acc };
  });
  const reference = results[0]!.acc;
  for (const { name, acc } of results.slice(1)) assertSameBits(acc, reference, name);
  return reference;
}

/** Deterministic softmax-like rows, some left unnormalised (then renormalised by the fold), some with exact zeros. */
function members(rows: number, classes: number, count: number, seed: number): Float32Array[] {
  let state = seed >>> 0 || 1;
  const rand = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  return Array.from({ length: count }, () => {
    const out = new Float32Array(rows * classes);
    for (let r = 0; r < rows; r++) {
      let total = 0;
      for (let c = 0; c < classes; c++) {
        const v = rand() < 0.1 ? 0 : Math.exp(4 * rand());
        out[r * classes + c] = v;
        total += v;
      }
      if (total === 0) out[r * classes] = total = 1;
      if (r % 5 !== 0) for (let c = 0; c < classes; c++) out[r * classes + c] = out[r * classes + c]! / total;
    }
    return out;
  });
}

/** Entropy of a row with Math.log, renormalised as the fold does (when its sum is off by more than 1e-4). */
function referenceEntropy(probs: Float32Array, classes: number, row: number): number {
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += probs[row * classes + c]!;
  const scale = Math.abs(sum - 1) > 1e-4 ? 1 / sum : 1;
  let h = 0;
  for (let c = 0; c < classes; c++) {
    const p = probs[row * classes + c]! * scale;
    if (p > 0) h -= p * Math.log(p);
  }
  return h;
}

describe('fold kernel bytes', () => {
  it('are the committed WAT compiled by wabt, in the generated module as written by the build script', async () => {
    const root = repoRoot();
    const bytes = await compileWat(FOLD_KERNEL, readFileSync(path.join(root, FOLD_KERNEL.wat), 'utf8'));
    const committed = Buffer.from(FOLD_KERNEL_WASM_BASE64, 'base64');
    assert.ok(
      Buffer.from(bytes).equals(committed),
      `${FOLD_KERNEL.module} is stale: run npm run build:wat and commit it`,
    );
    assert.equal(
      readFileSync(path.join(root, FOLD_KERNEL.module), 'utf8'),
      watModuleText(FOLD_KERNEL, bytes),
      `${FOLD_KERNEL.module} was edited by hand`,
    );
  });

  it('run on this Node (WebAssembly SIMD)', () => {
    const status = foldKernelStatus();
    assert.ok(status.available, status.reason);
  });
});

describe('fold kernel against the JS fold', () => {
  it('gives bit-identical sums, entropies and votes on random rows (zeros, -0, subnormals, unnormalised rows)', () => {
    const value = fc.oneof(
      { weight: 6, arbitrary: fc.double({ min: 1e-6, max: 1, noNaN: true }) },
      { weight: 1, arbitrary: fc.constantFrom(0, -0, 1, 1e-42, 1e-30, 0.5) },
    );
    fc.assert(
      fc.property(
        fc.record({
          rows: fc.integer({ min: 1, max: 12 }),
          classes: fc.oneof(fc.integer({ min: 1, max: 13 }), fc.constantFrom(31, 32, 33, 64, 100)),
          count: fc.integer({ min: 1, max: 3 }),
          normalise: fc.boolean(),
        }),
        fc.infiniteStream(value),
        ({ rows, classes, count, normalise }, values) => {
          const list = Array.from({ length: count }, () => {
            const out = new Float32Array(rows * classes);
            for (let r = 0; r < rows; r++) {
              let total = 0;
              for (let c = 0; c < classes; c++) total += out[r * classes + c] = values.next().value as number;
              if (!(total > 0)) out[r * classes + (r % classes)] = total = 1;
              if (normalise) for (let c = 0; c < classes; c++) out[r * classes + c] = out[r * classes + c]! / total;
            }
            return out;
          });
          const acc = foldEverywhere({ samples: rows, classes }, list);
          // Against plain references: votes go to each row's first maximum, entropies match Math.log.
          for (let r = 0; r < rows; r++) {
            const votes = new Array<number>(classes).fill(0);
            let entropy = 0;
            // float32 p ln p: a few 1e-7 relative; a renormalised row (sum s) computes ln s - (sum p ln p)/s, which cancels to |ln s| times that.
            let tolerance = 0;
            // ln of a subnormal float32 is not meaningful (float32-log.ts): a row summing below 2^-126 gets no entropy check.
            let subnormalRow = false;
            for (const m of list) {
              const row = Array.from(m.subarray(r * classes, (r + 1) * classes));
              votes[row.indexOf(Math.max(...row))]!++;
              entropy += referenceEntropy(m, classes, r);
              const sum = row.reduce((t, p) => t + p, 0);
              tolerance += 1e-6 * Math.max(1, Math.abs(Math.log(sum)));
              subnormalRow ||= sum < 2 ** -126;
            }
            assert.deepEqual(Array.from(acc.votes.subarray(r * classes, (r + 1) * classes)), votes, `row ${r} votes`);
            if (!subnormalRow) {
              assert.ok(
                Math.abs(acc.entropySums[r]! - entropy) < tolerance,
                `row ${r} entropy ${acc.entropySums[r]} vs ${entropy} (tolerance ${tolerance})`,
              );
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('across chunk boundaries, and rows longer than a chunk', () => {
    const cases = [
      { rows: 70, classes: 1000 },
      { rows: 7000, classes: 10 },
      { rows: 3, classes: CHUNK_ELEMENTS + 5 },
      { rows: 1000, classes: 3 },
    ];
    for (const { rows, classes } of cases) {
      const list = members(rows, classes, 3, rows + classes);
      const acc = foldEverywhere({ samples: rows, classes, globalStart: 11 }, list);
      for (const row of [0, rows >> 1, rows - 1]) {
        const expected = list.reduce((t, m) => t + referenceEntropy(m, classes, row), 0);
        // float32 arithmetic per member and row: a few 1e-7 relative.
        assert.ok(
          Math.abs(acc.entropySums[row]! - expected) < 1e-6 * Math.max(1, expected),
          `${rows} x ${classes}, row ${row}: ${acc.entropySums[row]} vs ${expected}`,
        );
      }
    }
  });

  it('fails the same way at a bad row in a later chunk, poisoning the accumulator', () => {
    const rows = 9000;
    const classes = 10;
    const cases: { at: number; value: number; type: string; pattern: RegExp }[] = [
      {
        at: 7001 * classes + 3,
        value: Number.NaN,
        type: 'Diverged',
        pattern: /^member 4, sample 7001 \(global 7101\), class 3: probability is NaN/,
      },
      {
        at: 6553 * classes,
        value: -Infinity,
        type: 'Diverged',
        pattern: /sample 6553 \(global 6653\), class 0: probability is -Infinity/,
      },
      {
        at: 8999 * classes + 9,
        value: -1e-3,
        type: 'InvalidData',
        pattern: /sample 8999 .* class 9: probability -0\.001\d* is negative/,
      },
    ];
    for (const { at, value, type, pattern } of cases) {
      const bad = members(rows, classes, 1, at)[0]!;
      bad[at] = value;
      for (const { name, kernel, make } of setups) {
        const acc = make({ samples: rows, classes, globalStart: 100 });
        assert.throws(
          () => foldMember(acc, bad, { member: 4, kernel }),
          (e: Typed) => e.failureType === type && pattern.test(e.message),
          `${name}, ${value} at ${at}`,
        );
        assert.ok(acc.poisoned, `${name}: poisoned`);
      }
    }
    const zeros = members(rows, classes, 1, 3)[0]!;
    zeros.fill(-0, 5000 * classes, 5001 * classes);
    for (const { name, kernel, make } of setups) {
      assert.throws(
        () => foldMember(make({ samples: rows, classes }), zeros, { kernel }),
        (e: Typed) => e.failureType === 'InvalidData' && /sample 5000 .*all 10 probabilities are zero/.test(e.message),
        name,
      );
    }
  });

  it('accepts -0 and counts votes widened to 32 bits', () => {
    const rows = 50;
    const classes = 6;
    const list = members(rows, classes, 2, 9);
    list[0]![7] = -0;
    const results = setups.map(({ kernel, make }) => {
      const acc = make({ samples: rows, classes });
      acc.votes[0] = 65535;
      acc.memberCount = 65535;
      for (const m of list) foldMember(acc, m, { kernel });
      assert.ok(acc.votes instanceof Uint32Array);
      return acc;
    });
    for (let i = 1; i < results.length; i++) assertSameBits(results[i]!, results[0]!, setups[i]!.name);
  });

  it('clones and merges wasm-backed accumulators as the JS ones', () => {
    const shape = { samples: 40, classes: 7 };
    const list = members(40, 7, 4, 21);
    const whole = plainAccumulator(shape);
    for (const m of list) foldMember(whole, m, { kernel: 'js' });
    const a = createAccumulator(shape);
    foldMember(a, list[0]!, { kernel: 'wasm' });
    foldMember(a, list[1]!, { kernel: 'wasm' });
    const b = createAccumulator(shape);
    foldMember(b, list[2]!, { kernel: 'wasm' });
    const copy = cloneAccumulator(a);
    foldMember(copy, list[3]!, { kernel: 'wasm' });
    assert.equal(a.memberCount, 2, 'folding into a clone leaves the original alone');
    const merged = mergeAccumulators([a, b]);
    foldMember(merged, list[3]!, { kernel: 'wasm' });
    assert.deepEqual(merged.votes, whole.votes);
    for (let i = 0; i < whole.entropySums.length; i++)
      assert.ok(Math.abs(merged.entropySums[i]! - whole.entropySums[i]!) < 1e-12);
    for (let i = 0; i < whole.probabilitySums.length; i++)
      assert.ok(Math.abs(merged.probabilitySums[i]! - whole.probabilitySums[i]!) < 1e-12);
  });
});

describe('float32 p ln p', () => {
  it('is within 2e-7 of p Math.log(p), relative, and 4e-8 absolute, over [2^-126, 1]; 0 for zero', () => {
    const f = new Float32Array(1);
    const bits = new Int32Array(f.buffer);
    let worstRelative = 0;
    let worstAbsolute = 0;
    const check = () => {
      const p = f[0]!;
      const exact = p * Math.log(p);
      const err = Math.abs(pLogPOfFloat32(bits[0]!) - exact);
      if (err > worstAbsolute) worstAbsolute = err;
      if (exact !== 0 && err / Math.abs(exact) > worstRelative) worstRelative = err / Math.abs(exact);
    };
    // Every 13th float32 in [1/8, 1] (where the error peaks, near 1 relative and near 1/e absolute), then a spread below.
    const from = new Int32Array(Float32Array.of(0.125).buffer)[0]!;
    const to = new Int32Array(Float32Array.of(1).buffer)[0]!;
    for (let b = from; b <= to; b += 13) {
      bits[0] = b;
      check();
    }
    for (let b = 0x00800000; b < from; b += 9973) {
      bits[0] = b;
      check();
    }
    assert.ok(worstRelative < 2e-7, `worst relative error ${worstRelative}`);
    assert.ok(worstAbsolute < 4e-8, `worst absolute error ${worstAbsolute}`);
    assert.equal(pLogPOfFloat32(0), 0);
    assert.equal(pLogPOfFloat32(new Int32Array(Float32Array.of(1).buffer)[0]!), 0);
  });
});
