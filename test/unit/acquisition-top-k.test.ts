import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { selectTopK, TopKSelector } from '../../domain/acquisition/top-k';
import { hashIndex, streamKey, TIE_BREAK_SALT } from '../../contracts/seeded-hash';
import { parseScoreShard, serialiseScoreShard, type ScoreShard } from '../../domain/acquisition/score-shard-codec';
import { selectTopKFromFolder, writeScoreShardFile } from '../../domain/acquisition/acquisition-files';

type Typed = Error & { failureType?: string };

/** Reference: every unexcluded sample, fully sorted by (score desc, tie hash asc, index asc), first k. */
function fullSortTopK(shards: ScoreShard[], k: number, seed: number, exclude: number[]): number[] {
  const key = streamKey(seed, TIE_BREAK_SALT);
  const skip = new Set(exclude);
  const all: Array<{ s: number; t: number; i: number }> = [];
  for (const shard of shards) {
    shard.scores.forEach((s, o) => {
      const i = shard.globalStart + o;
      if (!skip.has(i)) all.push({ s, t: hashIndex(key, i), i });
    });
  }
  all.sort((a, b) => b.s - a.s || a.t - b.t || a.i - b.i);
  return all
    .slice(0, k)
    .map((e) => e.i)
    .sort((a, b) => a - b);
}

/** Scores drawn from few values, so ties are common; split into shards at arbitrary points, shuffled. */
const caseArb = fc
  .record({
    scores: fc.array(fc.constantFrom(0, 0.25, 0.5, 0.5, 1, 2.5), { minLength: 0, maxLength: 300 }),
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
    k: fc.nat({ max: 320 }),
    seed: fc.nat(),
    excludeMask: fc.array(fc.boolean(), { maxLength: 300 }),
    order: fc.nat(),
  })
  .map(({ scores, cuts, k, seed, excludeMask, order }) => {
    const n = scores.length;
    const points = [...new Set(cuts.map((c) => (n === 0 ? 0 : c % n)))].sort((a, b) => a - b);
    const bounds = [0, ...points.filter((p) => p > 0), n];
    const shards: ScoreShard[] = bounds
      .slice(1)
      .map((end, i) => ({ globalStart: bounds[i]!, scores: Float32Array.from(scores.slice(bounds[i], end)) }));
    if (order % 2 === 1) shards.reverse();
    const exclude = excludeMask.map((x, i) => (x && i < n ? i : -1)).filter((i) => i >= 0);
    return { shards, k, seed, exclude, n };
  });

describe('top-k selection', () => {
  it('returns exactly min(k, remaining) distinct unselected indices, equal to a full sort', () => {
    fc.assert(
      fc.property(caseArb, ({ shards, k, seed, exclude, n }) => {
        const result = selectTopK(shards, { k, seed, exclude, poolSize: n === 0 ? undefined : n });
        const got = Array.from(result.indices);
        const remaining = n - exclude.length;
        assert.equal(got.length, Math.min(k, remaining));
        assert.equal(new Set(got).size, got.length, 'distinct');
        for (let i = 1; i < got.length; i++) assert.ok(got[i]! > got[i - 1]!, 'ascending');
        const excluded = new Set(exclude);
        assert.ok(
          got.every((i) => !excluded.has(i)),
          'nothing already selected',
        );
        assert.deepEqual(got, fullSortTopK(shards, k, seed, exclude));
        assert.equal(result.excluded, exclude.length);
      }),
      { numRuns: 400 },
    );
  });

  it('breaks ties by seed, reproducibly', () => {
    const shards = [{ globalStart: 0, scores: new Float32Array(1000).fill(0.5) }];
    const a = selectTopK(shards, { k: 100, seed: 1 }).indices;
    const again = selectTopK(shards, { k: 100, seed: 1 }).indices;
    const b = selectTopK(shards, { k: 100, seed: 2 }).indices;
    assert.deepEqual(a, again);
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(
      Array.from(a),
      Array.from({ length: 100 }, (_, i) => i),
      'ties are not simply the lowest indices',
    );
  });

  it('prefers higher scores, hand-checked', () => {
    const shards = [
      { globalStart: 3, scores: Float32Array.from([0.1, 0.9, 0.4]) },
      { globalStart: 0, scores: Float32Array.from([0.8, 0.2, 0.95]) },
    ];
    assert.deepEqual(Array.from(selectTopK(shards, { k: 3, seed: 0 }).indices), [0, 2, 4]);
    assert.deepEqual(Array.from(selectTopK(shards, { k: 3, seed: 0, exclude: [4] }).indices), [0, 2, 5]);
    assert.equal(selectTopK(shards, { k: 3, seed: 0 }).cutoffScore, Math.fround(0.8));
  });

  it('rejects overlapping shards, gaps when the pool size is given, and non-finite scores', () => {
    const overlap = [
      { globalStart: 0, scores: new Float32Array(10) },
      { globalStart: 5, scores: new Float32Array(10) },
    ];
    assert.throws(
      () => selectTopK(overlap, { k: 3, seed: 0 }),
      (e: Typed) => e.failureType === 'InvalidData' && /overlap another shard's \[0, 10\)/.test(e.message),
    );
    const gap = [
      { globalStart: 0, scores: new Float32Array(10) },
      { globalStart: 11, scores: new Float32Array(9) },
    ];
    assert.throws(
      () => selectTopK(gap, { k: 3, seed: 0, poolSize: 20 }),
      (e: Typed) => e.failureType === 'InvalidData' && /gap or overrun at global index 10/.test(e.message),
    );
    const selector = new TopKSelector({ k: 2, seed: 0 });
    assert.throws(
      () => selector.add({ globalStart: 7, scores: Float32Array.from([0.1, Number.NaN]) }, 'scores/shard-3'),
      (e: Typed) =>
        e.failureType === 'CorruptArtifact' &&
        /scores\/shard-3: score NaN at offset 1 \(global sample 8\)/.test(e.message),
    );
  });
});

describe('score shard files', () => {
  it('round-trip and detect any single-byte corruption', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1e9 }),
        fc.array(fc.float({ noNaN: true }), { maxLength: 50 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (start, values, at, flip) => {
          const shard = { globalStart: start, scores: Float32Array.from(values) };
          const bytes = serialiseScoreShard(shard);
          const back = parseScoreShard(bytes);
          assert.equal(back.globalStart, start);
          assert.deepEqual(back.scores, shard.scores);
          const damaged = bytes.slice();
          damaged[at % damaged.length] ^= flip;
          assert.throws(
            () => parseScoreShard(damaged, 'x'),
            (e: Typed) => e.failureType === 'CorruptArtifact',
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('selects from a folder of shard files and names a damaged file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'winnow-topk-'));
    try {
      const scores = Float32Array.from({ length: 250 }, (_, i) => ((i * 37) % 101) / 101);
      for (let s = 0; s < 250; s += 100) {
        await writeScoreShardFile(path.join(dir, `shard-${s / 100}`), {
          globalStart: s,
          scores: scores.slice(s, s + 100),
        });
      }
      const fromFiles = await selectTopKFromFolder(dir, { k: 40, seed: 5, poolSize: 250, exclude: [0, 1, 2] });
      const inMemory = selectTopK([{ globalStart: 0, scores }], { k: 40, seed: 5, exclude: [0, 1, 2] });
      assert.deepEqual(fromFiles.indices, inMemory.indices);
      await writeFile(path.join(dir, 'shard-1'), Buffer.from('not a shard'));
      await assert.rejects(
        selectTopKFromFolder(dir, { k: 40, seed: 5 }),
        (e: Typed) => e.failureType === 'CorruptArtifact' && e.message.includes('shard-1'),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
