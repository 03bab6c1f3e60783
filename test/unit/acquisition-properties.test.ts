import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  createAccumulator,
  foldMember,
  mergeAccumulators,
  type EnsembleAccumulator,
} from '../../domain/acquisition/ensemble-accumulator';
import { scoreAccumulator } from '../../domain/acquisition/acquisition-scores';
import { parseAccumulator, serialiseAccumulator } from '../../domain/acquisition/accumulator-codec';
import { acquisitionFunctions } from '../../contracts/config';

interface Ensemble {
  samples: number;
  classes: number;
  members: Float32Array[];
}

/** Random ensembles: rows of random weights (with exact zeros and one-hots) normalised to sum to 1. */
const ensembleArb: fc.Arbitrary<Ensemble> = fc
  .record({
    samples: fc.integer({ min: 1, max: 5 }),
    classes: fc.integer({ min: 2, max: 6 }),
    k: fc.integer({ min: 1, max: 6 }),
  })
  .chain(({ samples, classes, k }) =>
    fc
      .array(
        fc.array(fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.constant(1)), {
          minLength: samples * classes,
          maxLength: samples * classes,
        }),
        { minLength: k, maxLength: k },
      )
      .map((raw: number[][]) => ({
        samples,
        classes,
        members: raw.map((values) => {
          const out = new Float32Array(values.length);
          for (let s = 0; s < samples; s++) {
            const row = values.slice(s * classes, (s + 1) * classes);
            if (!row.some((v) => v !== 0)) row[s % classes] = 1;
            const total = row.reduce((t, v) => t + v, 0);
            row.forEach((v, c) => (out[s * classes + c] = v / total));
          }
          return out;
        }),
      })),
  );

function fold(e: Ensemble, members: Float32Array[]): EnsembleAccumulator {
  const acc = createAccumulator({ samples: e.samples, classes: e.classes });
  for (const m of members) foldMember(acc, m);
  return acc;
}

const scoringFunctions = acquisitionFunctions.filter((f) => f !== 'random');
const TOL = 1e-5;

describe('acquisition score properties', () => {
  it('0 <= MI <= H <= ln C, VR in [0, 1 - 1/K], margin and least confidence in range', () => {
    fc.assert(
      fc.property(ensembleArb, (e) => {
        const acc = fold(e, e.members);
        const h = scoreAccumulator(acc, 'entropy');
        const mi = scoreAccumulator(acc, 'mutual-information');
        const vr = scoreAccumulator(acc, 'variation-ratios');
        const margin = scoreAccumulator(acc, 'margin');
        const lc = scoreAccumulator(acc, 'least-confidence');
        const K = e.members.length;
        for (let i = 0; i < e.samples; i++) {
          assert.ok(
            mi[i]! >= 0 && mi[i]! <= h[i]! + TOL && h[i]! <= Math.log(e.classes) + TOL,
            `sample ${i}: MI ${mi[i]} H ${h[i]}`,
          );
          assert.ok(vr[i]! >= 0 && vr[i]! <= 1 - 1 / K + TOL, `VR ${vr[i]} with K=${K}`);
          assert.ok(margin[i]! >= 0 && margin[i]! <= 1, `margin ${margin[i]}`);
          assert.ok(lc[i]! >= 0 && lc[i]! <= 1 - 1 / e.classes + TOL, `least confidence ${lc[i]}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('scores do not depend on member order', () => {
    fc.assert(
      fc.property(ensembleArb, fc.integer(), (e, seed) => {
        const shuffled = [...e.members];
        let s = seed >>> 0;
        for (let i = shuffled.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          const j = s % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const a = fold(e, e.members);
        const b = fold(e, shuffled);
        for (const fn of scoringFunctions) {
          const x = scoreAccumulator(a, fn);
          const y = scoreAccumulator(b, fn);
          x.forEach((v, i) => assert.ok(Math.abs(v - y[i]!) <= 1e-6, `${fn} sample ${i}: ${v} vs ${y[i]}`));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('splitting members across accumulators and merging gives the same scores', () => {
    fc.assert(
      fc.property(ensembleArb, fc.array(fc.nat(), { maxLength: 4 }), (e, cutsRaw) => {
        const cuts = [...new Set(cutsRaw.map((c) => 1 + (c % Math.max(1, e.members.length - 1))))]
          .filter((c) => c < e.members.length)
          .sort((x, y) => x - y);
        const bounds = [0, ...cuts, e.members.length];
        const parts = bounds.slice(1).map((end, i) => fold(e, e.members.slice(bounds[i], end)));
        const merged = mergeAccumulators(parts);
        const whole = fold(e, e.members);
        assert.equal(merged.memberCount, whole.memberCount);
        assert.deepEqual(merged.votes, whole.votes);
        for (const fn of scoringFunctions) {
          const x = scoreAccumulator(merged, fn);
          const y = scoreAccumulator(whole, fn);
          x.forEach((v, i) => assert.ok(Math.abs(v - y[i]!) <= 1e-6, `${fn} sample ${i}: ${v} vs ${y[i]}`));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('NaN anywhere is rejected, naming its member and sample', () => {
    fc.assert(
      fc.property(
        ensembleArb,
        fc.nat(),
        fc.nat(),
        fc.constantFrom(Number.NaN, Infinity, -Infinity),
        (e, m, at, bad) => {
          const member = m % e.members.length;
          const position = at % (e.samples * e.classes);
          const members = e.members.map((x) => x.slice());
          members[member]![position] = bad;
          const sample = Math.floor(position / e.classes);
          assert.throws(
            () => fold(e, members),
            (err: Error & { failureType?: string }) =>
              err.failureType === 'Diverged' &&
              err.message.includes(`member ${member}, sample ${sample} (global ${sample})`),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('serialisation round-trips and every single-byte corruption is detected', () => {
    fc.assert(
      fc.property(ensembleArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (e, at, flip) => {
        const acc = fold(e, e.members);
        const bytes = serialiseAccumulator(acc);
        const back = parseAccumulator(bytes);
        assert.deepEqual(back.probabilitySums, acc.probabilitySums);
        assert.deepEqual(back.entropySums, acc.entropySums);
        assert.deepEqual(back.votes, acc.votes);
        assert.equal(back.memberCount, acc.memberCount);
        const damaged = bytes.slice();
        damaged[at % damaged.length] ^= flip;
        assert.throws(
          () => parseAccumulator(damaged),
          (err: Error & { failureType?: string }) => err.failureType === 'CorruptArtifact',
        );
      }),
      { numRuns: 300 },
    );
  });
});
