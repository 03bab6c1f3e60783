import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  addScores,
  binEdge,
  binIndex,
  createHistogram,
  emptyObservedRange,
  knownScoreRange,
  lowerBound,
  observeScores,
  rangeFromObserved,
  type ScoreRange,
} from '../../client/report/score-histogram';

const rangeArb: fc.Arbitrary<ScoreRange> = fc
  .tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: 1e-3, max: 1e6, noNaN: true }))
  .map(([min, width]) => ({ min, max: min + width }))
  .filter((r) => r.max > r.min);
const binsArb = fc.integer({ min: 1, max: 64 });
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('report score histogram binning', () => {
  it('counts plus non-finite values add up to the number of scores', () => {
    fc.assert(
      fc.property(
        rangeArb,
        binsArb,
        fc.array(fc.oneof(fc.double(), fc.constant(Number.NaN), fc.constant(Infinity))),
        (range, bins, values) => {
          const h = createHistogram(range, bins);
          addScores(h, values);
          const nonFinite = values.filter((v) => !Number.isFinite(v)).length;
          assert.equal(sum(h.counts) + h.nonFinite, values.length);
          assert.equal(h.nonFinite, nonFinite);
          assert.equal(h.clamped, values.filter((v) => Number.isFinite(v) && (v < range.min || v > range.max)).length);
        },
      ),
    );
  });

  it('puts every in-range value into the bin whose edges hold it', () => {
    fc.assert(
      fc.property(rangeArb, binsArb, fc.double({ min: 0, max: 1, noNaN: true }), (range, bins, t) => {
        const v = Math.min(range.max, range.min + t * (range.max - range.min));
        const i = binIndex(range, bins, v);
        const lo = range.min + ((range.max - range.min) * i) / bins;
        const hi = i === bins - 1 ? range.max : range.min + ((range.max - range.min) * (i + 1)) / bins;
        assert.ok(i >= 0 && i < bins, `bin ${i} of ${bins}`);
        assert.ok(v >= (i === 0 ? range.min : lo), `${v} below bin ${i} starting at ${lo}`);
        assert.ok(i === bins - 1 ? v <= hi : v < hi, `${v} not below bin ${i}'s end ${hi}`);
      }),
    );
  });

  it('puts each interior edge into the bin it opens, the range ends into the end bins', () => {
    fc.assert(
      fc.property(rangeArb, fc.integer({ min: 2, max: 64 }), (range, bins) => {
        assert.equal(binIndex(range, bins, range.min), 0);
        assert.equal(binIndex(range, bins, range.max), bins - 1);
        for (let i = 1; i < bins; i++) {
          const edge = binEdge(range, bins, i);
          if (edge > range.min && edge < range.max) assert.equal(binIndex(range, bins, edge), i, `edge ${i} = ${edge}`);
        }
      }),
    );
  });

  it('bins a concrete example as worked out by hand', () => {
    const h = createHistogram({ min: 0, max: 1 }, 4);
    addScores(h, [0, 0.1, 0.25, 0.5, 0.74, 0.75, 1, -0.2, 1.3, NaN]);
    assert.deepEqual(h.counts, [3, 1, 2, 3]);
    assert.equal(h.clamped, 2);
    assert.equal(h.nonFinite, 1);
  });

  it('skips excluded pool indices of the shard, and only those', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 1100 }), { maxLength: 80 }),
        (globalStart, values, excluded) => {
          const exclude = [...excluded].sort((a, b) => a - b);
          const h = createHistogram({ min: 0, max: 1 }, 10);
          addScores(h, values, globalStart, exclude);
          const inShard = exclude.filter((i) => i >= globalStart && i < globalStart + values.length);
          assert.equal(h.excluded, inShard.length);
          assert.equal(sum(h.counts), values.length - inShard.length);
          const kept = createHistogram({ min: 0, max: 1 }, 10);
          addScores(
            kept,
            values.filter((_, i) => !inShard.includes(globalStart + i)),
          );
          assert.deepEqual(h.counts, kept.counts);
        },
      ),
    );
  });

  it('gives the same counts whether the scores come in one piece or shard by shard', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1, max: 3, noNaN: true }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 50 }),
        (values, shardSize) => {
          const whole = createHistogram({ min: 0, max: 2 }, 16);
          addScores(whole, values);
          const sharded = createHistogram({ min: 0, max: 2 }, 16);
          for (let s = 0; s < values.length; s += shardSize) addScores(sharded, values.slice(s, s + shardSize), s);
          assert.deepEqual(sharded, whole);
        },
      ),
    );
  });

  it('observes the extremes of the finite, non-excluded scores', () => {
    const seen = emptyObservedRange();
    observeScores(seen, [5, NaN, -Infinity, 0.5, 2], 10, [10]);
    observeScores(seen, [7], 20, [10]);
    assert.deepEqual(seen, { min: 0.5, max: 7, finite: 3 });
    assert.deepEqual(rangeFromObserved(seen), { min: 0.5, max: 7 });
    const single = rangeFromObserved({ min: 0, max: 0, finite: 4 });
    assert.ok(single.min < 0 && single.max > 0, 'a single observed value gets a range around it');
    assert.deepEqual(rangeFromObserved(emptyObservedRange()), { min: 0, max: 1 });
  });

  it('knows the fixed score ranges, and that entropy and MI need the class count', () => {
    assert.deepEqual(knownScoreRange('margin'), { min: 0, max: 1 });
    assert.deepEqual(knownScoreRange('variation-ratios'), { min: 0, max: 1 });
    assert.equal(knownScoreRange('entropy'), undefined);
    assert.equal(knownScoreRange('mutual-information', 1), undefined);
    assert.equal(knownScoreRange('entropy', 10)!.max, Math.log(10));
  });

  it('refuses empty ranges and bin counts below one', () => {
    assert.throws(() => createHistogram({ min: 1, max: 1 }, 4), RangeError);
    assert.throws(() => createHistogram({ min: 0, max: 1 }, 0), RangeError);
    assert.throws(() => createHistogram({ min: 0, max: Infinity }, 3), RangeError);
  });

  it('finds lower bounds in sorted arrays', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 })), fc.integer({ min: -5, max: 55 }), (raw, target) => {
        const sorted = [...raw].sort((a, b) => a - b);
        const i = lowerBound(sorted, target);
        assert.equal(i, sorted.filter((v) => v < target).length);
      }),
    );
  });
});
