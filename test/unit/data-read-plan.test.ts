import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { planRuns } from '../../domain/data/read-plan';

describe('planRuns', () => {
  it('coalesces consecutive indices and reads through short gaps only', () => {
    assert.deepEqual(planRuns([1, 2, 3, 7, 8, 20], 0), [
      { start: 1, count: 3 },
      { start: 7, count: 2 },
      { start: 20, count: 1 },
    ]);
    assert.deepEqual(planRuns([1, 2, 3, 7, 8, 20], 3), [
      { start: 1, count: 8 },
      { start: 20, count: 1 },
    ]);
    assert.deepEqual(planRuns([4, 4, 4], 0), [{ start: 4, count: 1 }]);
    assert.deepEqual(planRuns([], 5), []);
    assert.throws(() => planRuns([3, 1], 0), /ascending/);
  });

  it('covers every index with disjoint ascending runs that start and end on wanted indices', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(500), { maxLength: 200 }), fc.nat(20), (raw, maxGap) => {
        const sorted = [...raw].sort((a, b) => a - b);
        const wanted = new Set(sorted);
        const runs = planRuns(sorted, maxGap);
        for (const index of sorted) assert.ok(runs.some((r) => index >= r.start && index < r.start + r.count));
        runs.forEach((run, i) => {
          assert.ok(wanted.has(run.start) && wanted.has(run.start + run.count - 1));
          if (i > 0) {
            const previousEnd = runs[i - 1].start + runs[i - 1].count;
            assert.ok(run.start - previousEnd > maxGap, 'runs closer than maxGap should have merged');
          }
          // Inside a run, no stretch of unwanted indices is longer than maxGap.
          let gap = 0;
          for (let k = run.start; k < run.start + run.count; k++) {
            gap = wanted.has(k) ? 0 : gap + 1;
            assert.ok(gap <= maxGap);
          }
        });
      }),
    );
  });
});
