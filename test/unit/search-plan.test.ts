import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSearchConfig, type SearchConfig, type SearchConfigInput } from '../../contracts/config';
import {
  acquisitionSize,
  addTaskSeconds,
  type TaskSeconds,
  defaultInitialSize,
  deriveSeed,
  invalidTargets,
  poolShards,
  shardGroups,
  summarise,
  targetsBeyondPool,
} from '../../workflows/search-plan';

function config(input: Partial<SearchConfigInput>): SearchConfig {
  const parsed = parseSearchConfig({ dataset: { kind: 'mnist' }, targets: [100, 200], ...input });
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
  return parsed.config;
}

describe('search plan', () => {
  it('acquires the step, never past the next target, and nothing once the last target is reached', () => {
    const c = config({ acquisition: { step: 30 } });
    assert.equal(acquisitionSize(c, 50, [100, 200]), 30);
    assert.equal(acquisitionSize(c, 80, [100, 200]), 20);
    assert.equal(acquisitionSize(c, 100, [100, 200]), 30);
    assert.equal(acquisitionSize(c, 200, [100, 200]), 0);
    // Without a step, each round jumps to the next target.
    assert.equal(acquisitionSize(config({}), 50, [100, 200]), 50);
  });

  it('starts build-up below the first target', () => {
    assert.equal(defaultInitialSize(config({ initialSize: 10 })), 10);
    assert.equal(defaultInitialSize(config({ acquisition: { step: 30 } })), 30);
    assert.equal(defaultInitialSize(config({})), 50);
    assert.equal(defaultInitialSize(config({ targets: [1, 2] })), 1);
  });

  it('cuts the pool into contiguous shards covering it exactly', () => {
    const shards = poolShards(25, 10);
    assert.deepEqual(shards, [
      { index: 0, start: 0, count: 10 },
      { index: 1, start: 10, count: 10 },
      { index: 2, start: 20, count: 5 },
    ]);
  });

  it('groups shards for child workflows: consecutive, each at most the group size, all shards once', () => {
    const shards = poolShards(1_281_167, 1000);
    const groups = shardGroups(shards, 500);
    assert.deepEqual(
      groups.map((g) => g.length),
      [500, 500, 282],
    );
    assert.deepEqual(groups.flat(), shards);
    assert.equal(shardGroups(shards.slice(0, 7), 500).length, 1);
    assert.throws(() => shardGroups(shards, 0), /positive integer, got 0/);
  });

  it('derives distinct, reproducible seeds per coordinate', () => {
    assert.equal(deriveSeed(1, 2, 3), deriveSeed(1, 2, 3));
    assert.notEqual(deriveSeed(1, 2, 3), deriveSeed(1, 3, 2));
    assert.ok(deriveSeed(0) >= 0 && deriveSeed(0) < 2147483647);
  });

  it('names what is wrong with new targets', () => {
    assert.equal(invalidTargets([60, 90], 30, 300), undefined);
    assert.match(invalidTargets([90, 60], 30, 300)!, /targets\.1: targets must be strictly ascending/);
    assert.match(
      invalidTargets([60, 400], 30, 300)!,
      /targets\.1: 400 is larger than the training set \(300 samples\)/,
    );
    assert.match(invalidTargets([20], 30, 300)!, /must exceed the current subset size \(30\)/);
    assert.match(invalidTargets('all', 30, 300)!, /non-empty array/);
    assert.deepEqual(targetsBeyondPool([10, 500], 300), [
      'targets.1: 500 is larger than the training set (300 samples)',
    ]);
  });

  it('summarises repeated accuracies with the sample standard deviation', () => {
    const s = summarise([0.8, 0.9]);
    assert.ok(Math.abs(s.mean - 0.85) < 1e-12);
    assert.ok(Math.abs(s.std - Math.sqrt(0.005)) < 1e-12);
    assert.equal(summarise([0.7]).std, 0);
  });
});

describe('task seconds per step', () => {
  it('sums reported phases per step and phase, skipping missing reports and non-numbers', () => {
    const sums: TaskSeconds = {};
    addTaskSeconds(sums, 'train', { processStart: 0.5, compute: 2 });
    addTaskSeconds(sums, 'train', { compute: 3, write: 0.25 });
    addTaskSeconds(sums, 'score', undefined);
    addTaskSeconds(sums, 'score', { compute: 1, dataRead: Number.NaN });
    assert.deepEqual(sums, { train: { processStart: 0.5, compute: 5, write: 0.25 }, score: { compute: 1 } });
  });
});
